"""OpenAI-compatible `n`: the request's jobs are held all together or not at all, and a refusal
names the request's total, with or without the shared cache."""

import json

import pytest
from django.test import Client

from billing.models import PriceOverride, Reservation, ReservationStatus
from billing.money import format_usd
from billing.selectors import wallet_of
from generation.models import GenerationJob

PRO = "gemini-3-pro-image-preview"
PRICE = 134_000  # gpt-image-1 runs on PRO at 1K


@pytest.fixture(params=["shared cache", "per-process cache"])
def cache_mode(request):
    if request.param == "shared cache":
        request.getfixturevalue("shared_cache")
    return request.param


def generate(key, **body):
    return Client().post("/v1/images/generations", data=json.dumps({"prompt": "x", **body}),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_n_jobs_are_held_together(owner, outsider, settings, cache_mode):
    settings.SYNC_WAIT_SECONDS = 0  # answer 504 at once; the jobs stay queued and held
    available = wallet_of(organization=owner.organization).available

    assert generate(owner.api_key, n=3).status_code == 504

    jobs = GenerationJob.objects.filter(organization=owner.organization)
    assert jobs.count() == 3
    holds = Reservation.objects.filter(pk__in=jobs.values("reservation_id"))
    assert [hold.amount for hold in holds] == [PRICE] * 3
    assert all(hold.status == ReservationStatus.OPEN for hold in holds)
    assert {hold.reference for hold in holds} == {f"job:{job.pk}" for job in jobs}
    assert wallet_of(organization=owner.organization).available == available - 3 * PRICE
    assert not GenerationJob.objects.filter(organization=outsider.organization).exists()


def test_n_jobs_beyond_the_credit_are_refused_with_their_total(owner, settings, cache_mode):
    settings.SYNC_WAIT_SECONDS = 0
    available = wallet_of(organization=owner.organization).available
    PriceOverride.objects.create(organization=owner.organization, model=PRO, tier="1K",
                                 unit_price=available // 2)  # two images fit, three do not

    response = generate(owner.api_key, n=3)

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert error["message"] == (
        f"Insufficient credits: this request costs {format_usd(available // 2 * 3, symbol=True)}, "
        f"available {format_usd(available, symbol=True)}.")
    assert not GenerationJob.objects.exists()
    assert not Reservation.objects.exists()
    assert wallet_of(organization=owner.organization).available == available
    assert generate(owner.api_key, n=2).status_code == 504  # two still fit
