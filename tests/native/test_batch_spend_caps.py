"""Batches are held to the same spend caps and low-balance bookkeeping as single submits."""

from accounts.models import Brand, Scope
from accounts.services import api_key_create
from billing.models import CapPeriod, Reservation, SpendCap, Wallet
from generation.batches.models import Batch
from generation.models import GenerationJob
from tests.native.conftest import FLASH, PRO, client_for


def test_a_batch_over_a_brands_monthly_cap_is_refused_whole(owner, post):
    brand = Brand.objects.get(organization=owner.organization)
    SpendCap.objects.create(brand=brand, limit=300_000)  # two $0.134 images fit, three do not
    response = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": f"p{i}", "brand": str(brand.pk)} for i in range(3)]})

    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("brand_budget_exceeded", "brand")
    assert not GenerationJob.objects.exists() and not Batch.objects.exists()
    assert not Reservation.objects.exists()
    assert Wallet.objects.get(organization=owner.organization).reserved == 0


def test_a_batch_under_the_cap_holds_against_it(owner, post, submit):
    brand = Brand.objects.get(organization=owner.organization)
    SpendCap.objects.create(brand=brand, limit=300_000)
    response = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": f"p{i}", "brand": str(brand.pk)} for i in range(2)]})
    assert response.status_code == 202, response.json()
    assert set(Reservation.objects.values_list("brand", flat=True)) == {brand.pk}

    # The batch's holds count: one more image for the brand no longer fits.
    refused = submit(owner, model=PRO, prompt="third", brand=str(brand.pk))
    assert refused.json()["error"]["code"] == "brand_budget_exceeded"
    # Work for no brand is not held to the brand's cap.
    assert post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": "unbranded"}]}).status_code == 202


def test_a_keys_cap_counts_the_whole_batch(owner, post):
    key, secret = api_key_create(organization=owner.organization, name="batch robot",
                                 scopes=[Scope.GENERATE, Scope.READ])
    SpendCap.objects.create(api_key=key, limit=100_000, period=CapPeriod.LIFETIME)
    response = post(client_for(secret), "/api/v1/batches", {"requests": [
        {"model": FLASH, "prompt": f"p{i}"} for i in range(3)]})  # 3 × 0.039 > 0.10

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "key_budget_exceeded"
    assert not Reservation.objects.exists()


def test_a_batch_crossing_the_low_balance_threshold_records_it(owner, post):
    Wallet.objects.filter(organization=owner.organization).update(
        low_balance_threshold=9_800_000)  # $10 of credit; a $0.268 batch crosses $9.80
    response = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": f"p{i}"} for i in range(2)]})
    assert response.status_code == 202
    assert Wallet.objects.get(organization=owner.organization).low_balance_since is not None

    batch = response.json()
    assert post(owner.api, f"/api/v1/batches/{batch['id']}/cancel").status_code == 200
    assert Wallet.objects.get(organization=owner.organization).low_balance_since is None
