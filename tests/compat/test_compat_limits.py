"""The per-key requests-per-minute limit and the per-organization concurrency limit hold on the
OpenAI- and Gemini-compatible surfaces too, each answering 429 with retry-after in its own shape.
Nothing is queued or reserved by a refused request."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from billing.models import Reservation
from generation.models import GenerationJob

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"
GEMINI_PATHS = [f"/{version}/models/{PRO}:generateContent"
                for version in ("v1", "v1beta", "v1alpha")]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def openai_generate(key, body):
    return Client().post("/v1/images/generations", data=json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def gemini_generate(key, body, path=GEMINI_PATHS[1]):
    return Client().post(path, data=json.dumps(body), content_type="application/json",
                         HTTP_X_GOOG_API_KEY=key)


def assert_openai_429(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert int(response["retry-after"]) >= 1
    assert response["x-should-retry"] == "true"


def assert_google_429(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert error["details"][0]["reason"] == "rate_limited"
    retry_after = int(response["retry-after"])
    assert retry_after >= 1
    assert error["details"][1]["retryDelay"] == f"{retry_after}s"


def test_openai_requests_per_minute_per_key(owner, member, settings):
    settings.RATE_LIMIT_PER_KEY_RPM = 2
    # Refused requests count too: the limit is on requests, not on images.
    for _ in range(2):
        assert openai_generate(owner.api_key, {"prompt": ""}).status_code == 400
    assert_openai_429(openai_generate(owner.api_key, {"prompt": "a cat"}))
    assert_openai_429(Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {owner.api_key}"))
    # Another key has its own budget.
    assert openai_generate(member.api_key, {"prompt": ""}).status_code == 400
    assert not GenerationJob.objects.exists()


def test_gemini_requests_per_minute_per_key_on_every_version(owner, outsider, settings):
    settings.RATE_LIMIT_PER_KEY_RPM = 3
    for path in GEMINI_PATHS:
        assert gemini_generate(owner.api_key, {"contents": []}, path).status_code == 400
    for path in GEMINI_PATHS:
        assert_google_429(gemini_generate(owner.api_key, {"contents": "a cat"}, path))
    assert gemini_generate(outsider.api_key, {"contents": []}).status_code == 400
    assert not GenerationJob.objects.exists()


def test_openai_concurrency_counts_every_image_of_the_request(owner, outsider, submit, settings):
    settings.MAX_CONCURRENT_JOBS_PER_ORG = 2
    assert submit(owner, model=FLASH, prompt="running").status_code == 202

    assert_openai_429(openai_generate(owner.api_key, {"prompt": "two more", "n": 2}))
    assert GenerationJob.objects.filter(organization=owner.organization).count() == 1
    assert Reservation.objects.filter(wallet__organization=owner.organization).count() == 1
    # The outsider's organization has its own slots (its request fails later, on the model).
    response = openai_generate(outsider.api_key, {"prompt": "x", "n": 2, "model": "nope"})
    assert response.status_code == 400


def test_gemini_concurrency_per_organization(owner, submit, settings):
    settings.MAX_CONCURRENT_JOBS_PER_ORG = 1
    assert submit(owner, model=FLASH, prompt="running").status_code == 202

    assert_google_429(gemini_generate(owner.api_key, {"contents": "a cat"}))
    assert GenerationJob.objects.filter(organization=owner.organization).count() == 1
