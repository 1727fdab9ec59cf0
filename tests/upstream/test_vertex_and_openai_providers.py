"""The Vertex AI and OpenAI-compatible providers, against local fakes over real sockets: a
Vertex channel mints OAuth tokens from a service-account JSON (fake token endpoint) and calls
the project path; an OpenAI channel speaks /images/generations and /images/edits."""

import asyncio
import io
import json

import pytest
from PIL import Image

from generation.models import Channel, JobStatus
from generation.providers.base import (
    AuthenticationFailed,
    ImageRequest,
    InvalidRequest,
    NoImage,
    RateLimited,
    ReferenceImage,
    Unavailable,
)
from generation.providers.openai import OpenAIProvider
from tests.fakes.fake_google_token import running_fake_token_server
from tests.fakes.fake_openai_images import running_fake_openai_images
from tests.upstream.conftest import make_channel


@pytest.fixture
def token_server(fake_gemini):
    with running_fake_token_server(access_token=fake_gemini.api_key) as server:
        yield server


@pytest.fixture
def fake_openai():
    with running_fake_openai_images() as fake:
        yield fake


def vertex_channel(fake_gemini, info) -> Channel:
    return make_channel("vertex-eu", fake_gemini.base_url, json.dumps(info), provider="vertex",
                        options={"project": "demo-project", "region": "europe-west4"})


def test_a_vertex_channel_serves_jobs_with_one_cached_token(owner, fake_gemini, token_server,
                                                            submit, run_queued_jobs):
    vertex_channel(fake_gemini, token_server.service_account_info())
    ids = [submit(owner, model="gemini-3-pro-image-preview", prompt=f"p{n}").json()["id"]
           for n in range(2)]
    run_queued_jobs()

    jobs = owner.organization.jobs.filter(pk__in=ids)
    assert {(job.status, job.provider, job.channel) for job in jobs} == {
        (JobStatus.SUCCEEDED, "vertex", "vertex-eu")}
    assert token_server.app.issued == 1  # refreshed once, reused for the second call
    request = fake_gemini.app.received[-1]
    assert request.path == ("/v1/projects/demo-project/locations/europe-west4/publishers/google/"
                            "models/gemini-3-pro-image-preview:generateContent")
    assert request.headers["authorization"] == f"Bearer {fake_gemini.api_key}"


def test_a_vertex_service_account_google_refuses_disables_the_channel(
        owner, fake_gemini, token_server, generate, mailoutbox):
    info = token_server.service_account_info()
    token_server.app.public_keys.clear()  # the key was deleted in the Google console
    vertex_channel(fake_gemini, info)

    job = generate(owner)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "upstream_authentication_failed")
    assert not Channel.objects.get(name="vertex-eu").enabled
    assert token_server.app.refused == 1 and fake_gemini.app.request_count == 0
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("ratio, size", [("16:9", (1536, 1024)), ("1:1", (1024, 1024)),
                                         ("9:16", (1024, 1536))])
def test_an_openai_channel_serves_jobs(owner, fake_openai, generate, ratio, size):
    make_channel("openai", fake_openai.base_url, fake_openai.api_key, provider="openai",
                 options={"model_map": {"gemini-3-pro-image-preview": "gpt-image-1"}})
    job = generate(owner, aspect_ratio=ratio)
    assert (job.status, job.provider, job.channel) == (JobStatus.SUCCEEDED, "openai", "openai")
    image = job.images.get()
    assert (image.width, image.height) == size
    assert fake_openai.app.requests[-1]["model"] == "gpt-image-1"
    assert job.usage["output_tokens"] == 1056


def test_an_openai_url_answer_is_fetched(owner, fake_openai, generate):
    make_channel("openai", fake_openai.base_url, fake_openai.api_key, provider="openai")
    job = generate(owner, prompt="[format:url] a kite")
    assert job.status == JobStatus.SUCCEEDED
    assert Image.open(job.images.get().file).size == (1024, 1024)


def test_an_openai_moderation_refusal_blocks_the_job(owner, fake_openai, generate):
    make_channel("openai", fake_openai.base_url, fake_openai.api_key, provider="openai")
    job = generate(owner, prompt="[fault:moderation] something")
    assert (job.status, job.error_code) == (JobStatus.BLOCKED, "safety_blocked")


def _request(prompt: str, references=()) -> ImageRequest:
    return ImageRequest(model="gemini-3-pro-image-preview", prompt=prompt, tier="1K",
                        aspect_ratio="1:1", width=1024, height=1024,
                        reference_images=tuple(references))


@pytest.mark.parametrize("prompt, error", [
    ("[fault:429] x", RateLimited), ("[fault:500] x", Unavailable),
    ("[fault:503] x", Unavailable), ("[fault:400] x", InvalidRequest),
    ("[fault:empty] x", NoImage)])
def test_openai_outcomes_map_to_typed_errors(fake_openai, prompt, error):
    provider = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url)
    with pytest.raises(error) as raised:
        asyncio.run(provider.generate(_request(prompt)))
    if error is RateLimited:
        assert raised.value.retry_after == 0.25  # from retry-after-ms


def test_openai_rejects_a_bad_key_as_authentication_failure(fake_openai):
    provider = OpenAIProvider(api_key="sk-wrong", base_url=fake_openai.base_url)
    with pytest.raises(AuthenticationFailed):
        asyncio.run(provider.generate(_request("x")))


def test_openai_reference_images_go_to_images_edits_as_multipart(fake_openai):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buffer, format="PNG")
    references = [ReferenceImage(buffer.getvalue(), "image/png")] * 2
    provider = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url)

    result = asyncio.run(provider.generate(_request("make it blue", references)))

    assert result.images[0].width == 1024
    sent = fake_openai.app.requests[-1]
    assert (sent["path"], sent["image_count"], sent["prompt"], sent["n"]) == (
        "/v1/images/edits", 2, "make it blue", "1")
