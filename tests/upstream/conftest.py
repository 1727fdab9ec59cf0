"""Fixtures for the upstream tests: fake Gemini servers (real sockets) and channels on them."""

import importlib

import pytest
from django.apps import apps

from generation.models import Channel, GenerationJob
from tests.fakes.fake_gemini import running_fake_gemini


@pytest.fixture(scope="session")
def _shared_fake():
    with running_fake_gemini(retry_delay=0.05) as fake:
        yield fake


@pytest.fixture
def fake_gemini(_shared_fake):
    _shared_fake.app.reset(config=True)
    yield _shared_fake
    _shared_fake.app.reset(config=True)


@pytest.fixture(autouse=True)
def _fast_retries(settings):
    settings.RETRY_BACKOFF_BASE_MS = 10
    settings.ADMINS = [("Ops", "ops@atelier.test")]


def make_channel(name: str, base_url: str, key: str, **fields) -> Channel:
    channel = Channel(name=name, provider=fields.pop("provider", "gemini"), base_url=base_url,
                      **fields)
    channel.secret = key
    channel.save()
    return channel


@pytest.fixture
def gemini_channel(db, fake_gemini) -> Channel:
    return make_channel("primary", fake_gemini.base_url, fake_gemini.api_key)


@pytest.fixture
def generate(submit, run_queued_jobs):
    """Submit through the native API, let the queued task run, return the job row."""

    def _generate(actor, prompt="a lighthouse at dawn", **payload) -> GenerationJob:
        response = submit(actor, model=payload.pop("model", "gemini-3-pro-image-preview"),
                          prompt=prompt, **payload)
        assert response.status_code == 202, response.content
        run_queued_jobs()
        return GenerationJob.objects.get(pk=response.json()["id"])

    return _generate


@pytest.fixture
def committed_db(transactional_db, settings):
    """Committed rows, for real worker processes. A transactional test empties every table
    afterwards, migrations' reference data included; put back what the platform needs (the
    seeded price list, the sweeper's schedule) when an earlier transactional test took it."""
    from billing.models import PriceList

    # These tests submit hundreds of jobs at once, through the customer API's fairness limits.
    settings.RATE_LIMIT_PER_KEY_RPM = 100_000
    settings.MAX_CONCURRENT_JOBS_PER_ORG = 100_000
    if not PriceList.objects.exists():
        importlib.import_module("billing.migrations.0002_seed_prices").seed(apps, None)
    importlib.import_module("generation.migrations.0004_sweeper_schedule").create(apps, None)
