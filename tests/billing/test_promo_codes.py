"""Promo codes: a fixed credit, once per organization, until expiry or the overall limit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import EntryKind, LedgerEntry, PromoCode, PromoRedemption
from billing.promos import promo_redeem
from config.errors import DomainError
from tests.billing.conftest import wallet_of
from tests.conftest import make_tenant


def redeem(actor, code):
    return actor.api.post("/api/v1/promo/redeem", {"code": code}, format="json")


def test_redeeming_credits_the_wallet_once_with_a_promo_entry(owner):
    PromoCode.objects.create(code="launch5", amount=5_000_000)
    before = wallet_of(owner).balance

    response = redeem(owner, " Launch5 ")

    assert response.status_code == 201
    body = response.json()
    assert (body["code"], body["amount"]["usd"]) == ("LAUNCH5", "5.00")
    assert body["wallet"]["balance"]["micros"] == before + 5_000_000
    entry = LedgerEntry.objects.get(wallet=wallet_of(owner), kind=EntryKind.PROMO)
    assert (entry.amount, entry.actor) == (5_000_000, owner.user)

    again = redeem(owner, "LAUNCH5")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "promo_already_redeemed"
    assert wallet_of(owner).balance == before + 5_000_000
    assert PromoCode.objects.get(code="LAUNCH5").redemptions == 1


def test_each_organization_may_redeem_once(owner, outsider):
    PromoCode.objects.create(code="AGENCY", amount=1_000_000)
    assert redeem(owner, "AGENCY").status_code == 201
    assert redeem(outsider, "AGENCY").status_code == 201
    assert PromoCode.objects.get(code="AGENCY").redemptions == 2


@pytest.mark.parametrize(("promo", "status", "code"), [
    ({"code": "OLD", "expires_at": timezone.now() - timedelta(minutes=1)}, 410, "promo_expired"),
    ({"code": "OFF", "active": False}, 404, "promo_not_found"),
    ({"code": "FULL", "max_redemptions": 0}, 410, "promo_exhausted"),
])
def test_expired_disabled_and_exhausted_codes_credit_nothing(owner, promo, status, code):
    PromoCode.objects.create(amount=1_000_000, **promo)
    before = wallet_of(owner).balance

    response = redeem(owner, promo["code"])

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert wallet_of(owner).balance == before
    assert not PromoRedemption.objects.exists()


def test_unknown_code_is_not_found(owner):
    response = redeem(owner, "NOPE")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "promo_not_found")


def test_the_last_redemption_is_the_limit(db):
    PromoCode.objects.create(code="TWO", amount=100_000, max_redemptions=2)
    first, second, third = (make_tenant(f"Org {n}", f"o{n}@x.test") for n in range(3))
    promo_redeem(organization=first.organization, code="TWO")
    promo_redeem(organization=second.organization, code="TWO")
    with pytest.raises(DomainError) as refused:
        promo_redeem(organization=third.organization, code="TWO")
    assert refused.value.code == "promo_exhausted"


def test_redeeming_needs_the_billing_scope(owner, member):
    PromoCode.objects.create(code="SCOPE", amount=100_000)
    response = redeem(member, "SCOPE")
    assert response.status_code == 403
    assert not PromoRedemption.objects.exists()


def test_staff_create_a_promo_code_in_dollars_in_the_admin(staff_client, owner):
    response = staff_client.post("/admin/billing/promocode/add/", {
        "code": "spring", "amount": "2.50", "max_redemptions": "100", "active": "on",
        "memo": "Spring campaign", "redemption_set-TOTAL_FORMS": "0",
        "redemption_set-INITIAL_FORMS": "0"})

    assert response.status_code == 302, response.content[:2000]
    promo = PromoCode.objects.get()
    assert (promo.code, promo.amount, promo.max_redemptions) == ("SPRING", 2_500_000, 100)
    assert redeem(owner, "spring").json()["amount"]["micros"] == 2_500_000
    listing = staff_client.get("/admin/billing/promocode/")
    assert "$2.50" in listing.content.decode()
