"""Staff edit money rules in the admin, in dollars; totals stay read-only."""

import pytest

from accounts.models import Brand
from billing.models import OrganizationDiscount, PriceOverride, SpendCap, Wallet
from tests.billing.conftest import PRO


@pytest.mark.parametrize("page", [
    "wallet", "ledgerentry", "reservation", "pricelist", "signupcreditrule",
    "organizationdiscount", "priceoverride", "promocode", "spendcap"])
def test_every_billing_admin_page_opens(staff_client, owner, page):
    assert staff_client.get(f"/admin/billing/{page}/").status_code == 200
    if page not in ("ledgerentry",):
        assert staff_client.get(f"/admin/billing/{page}/add/").status_code in (200, 403)


def test_staff_set_caps_terms_and_threshold_in_dollars(staff_client, owner):
    brand = Brand.objects.get(organization=owner.organization)
    org = str(owner.organization.pk)

    assert staff_client.post("/admin/billing/spendcap/add/", {
        "brand": str(brand.pk), "limit": "50", "period": "month"}).status_code == 302
    assert staff_client.post("/admin/billing/organizationdiscount/add/", {
        "organization": org, "discount_bps": "1500"}).status_code == 302
    assert staff_client.post("/admin/billing/priceoverride/add/", {
        "organization": org, "model": PRO, "tier": "4K", "unit_price": "0.199"}).status_code == 302
    wallet = Wallet.objects.get(organization=owner.organization)
    response = staff_client.post(f"/admin/billing/wallet/{wallet.pk}/change/",
                                 {"low_balance_threshold": "5.00"})
    assert response.status_code == 302

    assert SpendCap.objects.get().limit == 50_000_000
    assert OrganizationDiscount.objects.get().discount_bps == 1500
    assert PriceOverride.objects.get().unit_price == 199_000
    wallet.refresh_from_db()
    assert (wallet.low_balance_threshold, wallet.balance) == (5_000_000, 10_000_000)
    assert "$50.00" in staff_client.get("/admin/billing/spendcap/").content.decode()


def test_a_cap_must_name_a_brand_or_a_key_not_both(staff_client, owner):
    response = staff_client.post("/admin/billing/spendcap/add/", {"limit": "1", "period": "month"})
    assert response.status_code == 200
    assert not SpendCap.objects.exists()
