"""Spend caps per brand (monthly) and per API key, enforced at submit with an error naming
the cap; captured spend plus open reservations count, released jobs do not."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import Brand, Scope
from accounts.services import api_key_create
from billing.models import CapPeriod, EntryKind, LedgerEntry, Reservation, SpendCap
from billing.services import reservation_capture, reservation_open
from generation.models import GenerationJob
from tests.billing.conftest import FLASH, PRO, wallet_of
from tests.conftest import Actor


def brand_of(actor) -> Brand:
    return Brand.objects.get(organization=actor.organization)


def test_brand_monthly_cap_counts_held_and_captured_spend(owner, submit, run_queued_jobs):
    brand = brand_of(owner)
    SpendCap.objects.create(brand=brand, limit=310_000)  # two $0.134 images fit, not three
    for_brand = {"model": PRO, "brand": str(brand.pk)}

    assert submit(owner, prompt="a", **for_brand).status_code == 202
    run_queued_jobs()  # captured: 0.134
    assert submit(owner, prompt="b", **for_brand).status_code == 202  # held
    refused = submit(owner, prompt="c", **for_brand)

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("brand_budget_exceeded", "brand")
    assert brand.name in error["message"] and "monthly spend cap of $0.31" in error["message"]
    assert "$0.268 spent or held" in error["message"]
    assert GenerationJob.objects.count() == 2
    # A cheaper image still fits under the cap, and work for no brand is not capped by it.
    assert submit(owner, model=FLASH, prompt="d", brand=str(brand.pk)).status_code == 202
    assert submit(owner, model=PRO, prompt="e").status_code == 202


def test_canceled_jobs_free_their_share_of_the_cap(owner, submit):
    brand = brand_of(owner)
    SpendCap.objects.create(brand=brand, limit=134_000)
    job = submit(owner, model=PRO, prompt="a", brand=str(brand.pk)).json()
    assert submit(owner, model=PRO, prompt="b", brand=str(brand.pk)).status_code == 402

    assert owner.api.post(f"/api/v1/generations/{job['id']}/cancel").status_code == 200
    assert submit(owner, model=PRO, prompt="b", brand=str(brand.pk)).status_code == 202


def test_last_months_spend_does_not_count_against_this_month(owner):
    brand = brand_of(owner)
    SpendCap.objects.create(brand=brand, limit=134_000)
    old = reservation_open(organization=owner.organization, amount=134_000, reference="old",
                           expires_at=timezone.now() + timedelta(hours=1), brand=brand)
    reservation_capture(reservation=old, brand=brand)
    last_month = timezone.now().replace(day=1) - timedelta(days=2)
    # Entries are append-only to the application; the test moves the clock back in SQL.
    LedgerEntry.objects.filter(reference="old").update(created_at=last_month)

    fresh = reservation_open(organization=owner.organization, amount=134_000, reference="new",
                             expires_at=timezone.now() + timedelta(hours=1), brand=brand)
    assert fresh.brand == brand


def test_key_cap_names_the_key_and_leaves_other_keys_alone(owner, submit):
    key, secret = api_key_create(organization=owner.organization, name="client portal",
                                 scopes=[Scope.GENERATE, Scope.READ])
    SpendCap.objects.create(api_key=key, limit=100_000, period=CapPeriod.LIFETIME)
    capped = Actor(owner.user, owner.organization, secret)

    assert submit(capped, model=FLASH, prompt="a").status_code == 202
    assert submit(capped, model=FLASH, prompt="b").status_code == 202
    refused = submit(capped, model=FLASH, prompt="c")

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "key_budget_exceeded"
    assert "client portal" in error["message"] and key.prefix in error["message"]
    assert "spend cap of $0.10" in error["message"]
    assert submit(owner, model=FLASH, prompt="other key").status_code == 202
    assert Reservation.objects.filter(api_key=key).count() == 2


def test_an_outsiders_cap_does_not_touch_us(owner, outsider, submit):
    theirs = brand_of(outsider)
    SpendCap.objects.create(brand=theirs, limit=0)
    assert submit(owner, model=PRO, prompt="x", brand=str(brand_of(owner).pk)).status_code == 202
    assert submit(outsider, model=PRO, prompt="x", brand=str(theirs.pk)).json()["error"]["code"] \
        == "brand_budget_exceeded"


def test_refused_submit_writes_nothing(owner, submit):
    brand = brand_of(owner)
    SpendCap.objects.create(brand=brand, limit=0)
    before = wallet_of(owner)
    assert submit(owner, model=PRO, prompt="x", brand=str(brand.pk)).status_code == 402
    after = wallet_of(owner)
    assert (after.balance, after.reserved) == (before.balance, before.reserved)
    assert not Reservation.objects.exists()
    assert not LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).exists()
