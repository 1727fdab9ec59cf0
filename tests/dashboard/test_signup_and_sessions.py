"""Sign up with free credits, log in and out, reset a forgotten password, switch organizations."""

import re

from django.core import mail

from accounts.models import Membership, Role, User
from billing.models import EntryKind, LedgerEntry


def test_signup_creates_account_and_organization_with_free_credits(client, db):
    response = client.post("/signup/", {"email": "Ada@Example.test", "password": "a long passphrase",
                                        "organization": "Ada Studio"}, follow=True)

    assert response.redirect_chain[-1][0] == "/app/"
    page = response.content.decode()
    assert "Ada Studio" in page and "$0.10 of free credits" in page
    user = User.objects.get(email="ada@example.test")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    grant = LedgerEntry.objects.get(wallet__organization=membership.organization)
    assert (grant.kind, grant.amount) == (EntryKind.SIGNUP_GRANT, 100_000)


def test_signup_with_a_taken_email_or_weak_password_is_refused(client, owner):
    taken = client.post("/signup/", {"email": "owner@northwind.test", "password": "a long passphrase",
                                     "organization": "Again"})
    weak = client.post("/signup/", {"email": "new@x.test", "password": "password",
                                    "organization": "Weak"})

    assert "already exists" in taken.content.decode()
    assert "too common" in weak.content.decode()
    assert User.objects.filter(email="new@x.test").count() == 0


def test_pages_need_login_and_logout_ends_the_session(client, owner):
    assert client.get("/app/billing/")["Location"] == "/login/?next=/app/billing/"

    response = client.post("/login/", {"username": "owner@northwind.test",
                                       "password": "correct horse battery"})
    assert response["Location"] == "/app/"
    assert client.get("/app/").status_code == 200

    client.post("/logout/")
    assert client.get("/app/").status_code == 302


def test_password_reset_by_emailed_link(client, owner):
    client.post("/password-reset/", {"email": "owner@northwind.test"})

    [message] = mail.outbox
    link = re.search(r"http://testserver(/password-reset/\S+)", message.body).group(1)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "a brand new phrase",
                                 "new_password2": "a brand new phrase"})
    assert done.status_code == 302

    assert client.login(username="owner@northwind.test", password="a brand new phrase")
    assert not client.login(username="owner@northwind.test", password="correct horse battery")


def test_unknown_email_gets_the_same_answer_and_no_mail(client, db):
    response = client.post("/password-reset/", {"email": "nobody@nowhere.test"})
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_organization_switcher_moves_between_own_organizations_only(owner, outsider, client):
    Membership.objects.create(user=owner.user, organization=outsider.organization,
                              role=Role.VIEWER)
    client.force_login(owner.user)
    assert "Northwind Agency</h1>" in client.get("/app/").content.decode()

    client.post("/app/organization", {"organization_id": str(outsider.organization.pk)})
    page = client.get("/app/").content.decode()
    assert "Contoso Studio</h1>" in page
    assert client.get("/app/keys/").status_code == 403  # a viewer there

    Membership.objects.filter(user=owner.user, organization=outsider.organization).delete()
    other = client.post("/app/organization", {"organization_id": str(outsider.organization.pk)})
    assert other.status_code == 404
