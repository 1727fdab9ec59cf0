"""Per-key requests per minute and per-organization concurrency: 429 with Retry-After."""

from generation.models import GenerationJob, JobStatus
from tests.native.conftest import FLASH


def test_requests_per_minute_per_key(owner, member, settings):
    settings.RATE_LIMIT_PER_KEY_RPM = 3
    for _ in range(3):
        assert owner.api.get("/api/v1/wallet").status_code == 200
    limited = owner.api.get("/api/v1/wallet")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another key of the same organization has its own budget.
    assert member.api.get("/api/v1/wallet").status_code == 200


def test_concurrency_per_organization(owner, outsider, submit, settings):
    settings.MAX_CONCURRENT_JOBS_PER_ORG = 2
    assert submit(owner, model=FLASH, prompt="a").status_code == 202
    assert submit(owner, model=FLASH, prompt="b").status_code == 202
    limited = submit(owner, model=FLASH, prompt="c")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited["Retry-After"]
    assert GenerationJob.objects.filter(organization=owner.organization).count() == 2
    # Another organization is not affected, and a finished job frees a slot.
    assert submit(outsider, model=FLASH, prompt="c").status_code == 202
    GenerationJob.objects.filter(organization=owner.organization).update(
        status=JobStatus.SUCCEEDED)
    assert submit(owner, model=FLASH, prompt="c").status_code == 202


def test_requests_per_minute_are_counted_in_redis(owner, settings, redis_cache):
    settings.RATE_LIMIT_PER_KEY_RPM = 2
    assert "Redis" in type(redis_cache).__name__
    assert owner.api.get("/api/v1/ledger").status_code == 200
    assert owner.api.get("/api/v1/ledger").status_code == 200
    limited = owner.api.get("/api/v1/ledger")
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
