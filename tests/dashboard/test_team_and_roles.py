"""Invite by emailed link, roles, brand access, removal; each role gets only its own powers."""

import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, User
from accounts.services import brand_create
from tests.dashboard.conftest import add_person, browser_for


def invite(client, email, role="member", brands=()):
    return client.post("/app/team/", {"email": email, "role": role,
                                      "brands": [str(b.pk) for b in brands]})


def link_in_last_mail() -> str:
    return re.search(r"http://testserver(/invite/\S+)", mail.outbox[-1].body).group(1)


def test_invited_person_creates_an_account_from_the_link_and_joins_with_role_and_brands(
        owner, owner_client):
    client_brand = brand_create(organization=owner.organization, name="Acme Soda")

    invite(owner_client, "Newbie@Example.test", brands=[client_brand])

    [message] = mail.outbox
    assert message.to == ["newbie@example.test"]
    assert "Northwind Agency" in message.subject
    newcomer = Client()
    page = newcomer.get(link_in_last_mail())
    assert "Join Northwind Agency" in page.content.decode()
    response = newcomer.post(link_in_last_mail(), {"name": "New", "password": "a long passphrase"},
                             follow=True)

    assert "You joined Northwind Agency" in response.content.decode()
    membership = Membership.objects.get(user__email="newbie@example.test")
    assert membership.organization == owner.organization
    assert membership.role == Role.MEMBER
    assert list(membership.brands.all()) == [client_brand]
    # One use only.
    assert Client().get(link_in_last_mail()).status_code == 404


def test_existing_user_logs_in_and_accepts_but_only_for_the_invited_email(owner, owner_client,
                                                                          outsider):
    invite(owner_client, "owner@contoso.test", role="viewer")
    link = link_in_last_mail()

    wrong = browser_for(add_person(outsider.organization, "someone@contoso.test", Role.MEMBER))
    refused = wrong.post(link, follow=True)
    assert "This invitation is for owner@contoso.test" in refused.content.decode()

    right = browser_for(outsider.user)
    right.post(link)
    assert Membership.objects.get(user=outsider.user, organization=owner.organization).role == "viewer"


def test_expired_or_revoked_invitations_do_not_work(owner, owner_client):
    invite(owner_client, "late@example.test")
    link = link_in_last_mail()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert Client().get(link).status_code == 404

    invite(owner_client, "revoked@example.test")
    link = link_in_last_mail()
    invitation = Invitation.objects.get(email="revoked@example.test")
    owner_client.post(f"/app/team/invitations/{invitation.pk}/revoke")
    assert Client().post(link, {"password": "a long passphrase"}).status_code == 404
    assert not User.objects.filter(email="revoked@example.test").exists()


def test_members_and_viewers_see_the_team_but_cannot_change_it(owner, member, member_client,
                                                               viewer_client):
    owner_membership = Membership.objects.get(user=owner.user)
    for client in (member_client, viewer_client):
        page = client.get("/app/team/").content.decode()
        assert "owner@northwind.test" in page and "Send invitation" not in page
        invite(client, "sneaky@example.test")
        assert client.get(f"/app/team/{owner_membership.pk}/").status_code == 403
        assert client.post(f"/app/team/{owner_membership.pk}/remove").status_code == 403
    assert mail.outbox == []
    assert Membership.objects.filter(organization=owner.organization).count() == 3


def test_owner_changes_role_and_brand_access_then_removes_a_member(owner, owner_client, member):
    brand = brand_create(organization=owner.organization, name="Acme Soda")
    membership = Membership.objects.get(user=member.user)

    owner_client.post(f"/app/team/{membership.pk}/", {"role": "viewer", "brands": [str(brand.pk)]})
    membership.refresh_from_db()
    assert membership.role == Role.VIEWER
    assert list(membership.brands.all()) == [brand]

    owner_client.post(f"/app/team/{membership.pk}/remove")
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert browser_for(member.user).get("/app/").status_code == 403  # no organization left


def test_an_admin_cannot_touch_owners_and_the_last_owner_stays(owner, db):
    admin = browser_for(add_person(owner.organization, "admin@northwind.test", Role.ADMIN))
    owner_membership = Membership.objects.get(user=owner.user)

    admin.post(f"/app/team/{owner_membership.pk}/remove")
    admin.post(f"/app/team/{owner_membership.pk}/", {"role": "member"})
    demoted_self = browser_for(owner.user).post(f"/app/team/{owner_membership.pk}/",
                                                {"role": "admin"}, follow=True)

    assert "at least one owner" in demoted_self.content.decode()
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER


def test_outsider_cannot_see_or_edit_another_organizations_team(owner, outsider_client):
    owner_membership = Membership.objects.get(user=owner.user)
    assert "owner@northwind.test" not in outsider_client.get("/app/team/").content.decode()
    assert outsider_client.get(f"/app/team/{owner_membership.pk}/").status_code == 404
    assert outsider_client.post(f"/app/team/{owner_membership.pk}/remove").status_code == 404
    assert Membership.objects.filter(pk=owner_membership.pk).exists()
