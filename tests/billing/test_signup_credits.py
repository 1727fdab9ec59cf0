"""Free credits on signup come from an editable database rule (default $0.10)."""

from accounts.models import User
from accounts.services import organization_create
from billing.models import EntryKind, LedgerEntry, SignupCreditRule, Wallet


def sign_up(email: str) -> Wallet:
    user = User.objects.create_user(email=email, password="pw-123456789")
    organization = organization_create(name=email.split("@")[0], owner=user)
    return Wallet.objects.get(organization=organization)


def test_a_new_organization_gets_ten_cents_by_default(db):
    wallet = sign_up("first@new.test")
    assert wallet.balance == 100_000
    entry = LedgerEntry.objects.get(wallet=wallet)
    assert (entry.kind, entry.amount) == (EntryKind.SIGNUP_GRANT, 100_000)


def test_staff_change_the_rule_in_the_admin_and_later_signups_get_the_new_amount(
        staff_client):
    earlier = sign_up("early@new.test")
    response = staff_client.post("/admin/billing/signupcreditrule/add/",
                                 {"amount": "0.25", "active": "on"})
    assert response.status_code == 302, response.content[:2000]
    assert SignupCreditRule.objects.order_by("-id").first().amount == 250_000

    assert sign_up("later@new.test").balance == 250_000
    earlier.refresh_from_db()
    assert earlier.balance == 100_000
    assert "$0.25 on signup" in staff_client.get("/admin/billing/signupcreditrule/") \
        .content.decode()


def test_no_active_rule_means_no_grant_and_no_zero_entry(db):
    SignupCreditRule.objects.update(active=False)
    wallet = sign_up("none@new.test")
    assert wallet.balance == 0
    assert not LedgerEntry.objects.filter(wallet=wallet).exists()


def test_admin_rejects_a_non_dollar_amount(staff_client):
    response = staff_client.post("/admin/billing/signupcreditrule/add/",
                                 {"amount": "ten", "active": "on"})
    assert response.status_code == 200
    assert "Enter dollars" in response.content.decode()
