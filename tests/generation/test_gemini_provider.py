"""GeminiProvider against the fake Gemini server over real HTTP: every outcome becomes the
result or the typed error the worker acts on.
"""

import base64
import dataclasses
import io
import socket

import httpx
import pytest
from PIL import Image

from generation.catalog import FLASH, PRO, output_dimensions
from generation.providers.base import (
    AuthenticationFailed,
    ImageRequest,
    InvalidRequest,
    NoImage,
    RateLimited,
    ReferenceImage,
    SafetyBlocked,
    Turn,
    Unavailable,
    UpstreamTimeout,
)
from generation.providers.gemini import GeminiProvider
from tests.fakes.fake_gemini import running_fake_gemini

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server():
    # Pro shows one interim thought image before the answer, as the real model may.
    with running_fake_gemini(thought_images=1) as running:
        yield running


@pytest.fixture
def fake(server):
    server.app.reset(config=True)
    return server


@pytest.fixture
def provider(fake):
    return GeminiProvider(api_key=fake.api_key, base_url=fake.base_url)


def image_request(prompt="a red ball beside a blue cube", *, model=PRO, tier="2K", ratio="16:9",
                  **extra) -> ImageRequest:
    width, height = output_dimensions(model, tier.upper(), ratio)
    return ImageRequest(model=model, prompt=prompt, tier=tier, aspect_ratio=ratio, width=width,
                        height=height, **extra)


def jpeg_bytes(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


# --- success -------------------------------------------------------------------------------------

async def test_generates_the_exact_size_skips_the_thought_image_and_returns_text_and_usage(
        provider, fake):
    result = await provider.generate(image_request())

    [image] = result.images  # the interim thought image is not an answer
    assert (image.width, image.height) == (2752, 1536)
    assert image.mime_type == "image/png"
    with Image.open(io.BytesIO(image.data)) as decoded:
        assert decoded.size == (2752, 1536)
    assert result.text.startswith("Here is your 2752x1536 image")
    assert result.model_version == PRO
    assert result.usage["output_image_tokens"] == 1120
    assert result.usage["input_tokens"] > 0
    assert result.usage["total_tokens"] == (result.usage["input_tokens"]
                                            + result.usage["output_tokens"]
                                            + result.usage["thoughts_tokens"])
    assert result.is_local_render is False

    sent = fake.app.bodies[-1]
    assert sent["contents"] == [{"role": "user",
                                 "parts": [{"text": "a red ball beside a blue cube"}]}]
    assert sent["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"],
                                        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"}}
    assert "tools" not in sent
    assert fake.app.received[-1].path == f"/v1beta/models/{PRO}:generateContent"
    assert fake.app.received[-1].headers["x-goog-api-key"] == fake.api_key


async def test_model_turn_keeps_every_part_with_its_signature(provider):
    result = await provider.generate(image_request())

    assert result.model_turn.role == "model"
    draft, text, final = result.model_turn.parts
    assert draft["thought"] is True
    assert text["thoughtSignature"] and text["text"] == result.text
    assert final["thoughtSignature"]
    assert base64.b64decode(final["inlineData"]["data"]) == result.images[0].data


async def test_flash_gets_no_image_size_and_its_own_dimensions(provider, fake):
    result = await provider.generate(image_request(model=FLASH, tier="1K", ratio="16:9"))

    assert (result.images[0].width, result.images[0].height) == (1344, 768)
    assert result.usage["output_image_tokens"] == 1290
    assert fake.app.bodies[-1]["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}


async def test_a_lowercase_tier_is_sent_upper_case(provider, fake):
    # Our surfaces accept "4k"; the upstream answers 400 to it.
    result = await provider.generate(image_request(tier="4k", ratio="1:1"))

    assert (result.images[0].width, result.images[0].height) == (4096, 4096)
    assert fake.app.bodies[-1]["generationConfig"]["imageConfig"]["imageSize"] == "4K"


async def test_seed_and_grounding_are_sent(provider, fake):
    await provider.generate(image_request(seed=42, grounding=True))

    sent = fake.app.bodies[-1]
    assert sent["generationConfig"]["seed"] == 42
    assert sent["tools"] == [{"googleSearch": {}}]


async def test_reference_images_are_sent_as_inline_data(provider, fake):
    references = (ReferenceImage(data=jpeg_bytes(320, 180), mime_type="image/jpeg"),
                  ReferenceImage(data=jpeg_bytes(100, 100), mime_type="image/jpeg"))

    result = await provider.generate(image_request(reference_images=references))

    assert result.images
    text, first, second = fake.app.bodies[-1]["contents"][0]["parts"]
    assert text == {"text": "a red ball beside a blue cube"}
    for part, reference in ((first, references[0]), (second, references[1])):
        assert part["inlineData"]["mimeType"] == "image/jpeg"
        assert base64.b64decode(part["inlineData"]["data"]) == reference.data


async def test_a_shared_client_is_reused(fake):
    requests_seen = []

    async def count(request):
        requests_seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as client:
        provider = GeminiProvider(api_key=fake.api_key, base_url=fake.base_url + "/", client=client)
        await provider.generate(image_request(tier="1K"))
        await provider.generate(image_request(tier="1K"))

    assert requests_seen == [f"/v1beta/models/{PRO}:generateContent"] * 2


# --- multi-turn editing ----------------------------------------------------------------------------

async def test_two_turn_edit_sends_the_signed_model_turn_back_and_succeeds(provider, fake):
    first = await provider.generate(image_request("a red ball", ratio="1:1", tier="1K"))
    history = (Turn(role="user", parts=[{"text": "a red ball"}]), first.model_turn)

    second = await provider.generate(
        image_request("now make the ball green", ratio="1:1", tier="1K", history=history))

    assert (second.images[0].width, second.images[0].height) == (1024, 1024)
    sent = fake.app.bodies[-1]["contents"]
    assert [content["role"] for content in sent] == ["user", "model", "user"]
    assert sent[1]["parts"] == first.model_turn.parts  # exactly as received, signatures too
    assert sent[2]["parts"] == [{"text": "now make the ball green"}]


async def test_a_tampered_signature_is_an_invalid_request(provider):
    first = await provider.generate(image_request("a red ball", ratio="1:1", tier="1K"))
    parts = [dict(part) for part in first.model_turn.parts]
    parts[-1]["thoughtSignature"] = base64.b64encode(b"forged by someone" * 2).decode()
    history = (Turn(role="user", parts=[{"text": "a red ball"}]), Turn("model", parts))

    with pytest.raises(InvalidRequest) as raised:
        await provider.generate(image_request("make it green", tier="1K", history=history))

    assert "signature" in raised.value.message
    assert raised.value.retryable is False


# --- faults become typed errors --------------------------------------------------------------------

async def test_429_is_rate_limited_with_the_fractional_retry_info_delay(provider, fake):
    fake.app.configure(retry_delay=34.4)

    with pytest.raises(RateLimited) as raised:
        await provider.generate(image_request("a cat [fault:429]"))

    assert raised.value.retry_after == 34.4
    assert raised.value.retryable is True


async def test_scripted_429_carries_the_default_delay(provider, fake):
    fake.app.configure(script=["429", "ok"])

    with pytest.raises(RateLimited) as raised:
        await provider.generate(image_request())
    assert raised.value.retry_after == 1.5
    # The provider itself never retried: one call, one upstream request.
    assert fake.app.request_count == 1

    assert (await provider.generate(image_request())).images


@pytest.mark.parametrize(("trigger", "error_type", "reason"), [
    ("500", Unavailable, None),
    ("503", Unavailable, None),
    ("malformed", Unavailable, None),
    ("safety", SafetyBlocked, "SAFETY"),
    ("prohibited", SafetyBlocked, "PROHIBITED_CONTENT"),
    ("image_safety", SafetyBlocked, "IMAGE_SAFETY"),
    ("no_image", NoImage, None),
    ("text_only", NoImage, None),
])
async def test_faults_map_to_typed_errors(provider, trigger, error_type, reason):
    with pytest.raises(error_type) as raised:
        await provider.generate(image_request(f"a cat [fault:{trigger}]"))

    if reason is not None:
        assert raised.value.reason == reason
        assert raised.value.retryable is False
    if trigger in ("safety", "image_safety"):
        assert any(rating.get("blocked") for rating in raised.value.safety_ratings)
    if error_type is Unavailable:
        assert raised.value.retryable is True


async def test_a_hanging_upstream_is_an_upstream_timeout(fake):
    provider = GeminiProvider(api_key=fake.api_key, base_url=fake.base_url, timeout=0.5)

    with pytest.raises(UpstreamTimeout) as raised:
        await provider.generate(image_request("a cat [fault:timeout]"))

    assert raised.value.retryable is True


async def test_a_wrong_api_key_is_an_authentication_failure(fake):
    provider = GeminiProvider(api_key="not-the-key", base_url=fake.base_url)

    with pytest.raises(AuthenticationFailed) as raised:
        await provider.generate(image_request())

    assert "API key not valid" in raised.value.message


async def test_a_missing_api_key_is_an_authentication_failure(fake):
    provider = GeminiProvider(api_key="", base_url=fake.base_url)

    with pytest.raises(AuthenticationFailed):
        await provider.generate(image_request())


@pytest.mark.parametrize("change", [{"model": "gemini-9-ultra-image"}, {"aspect_ratio": "7:5"}])
async def test_requests_the_upstream_rejects_are_invalid_requests(provider, change):
    request = dataclasses.replace(image_request(), **change)

    with pytest.raises(InvalidRequest) as raised:
        await provider.generate(request)

    assert raised.value.retryable is False


async def test_an_unreachable_upstream_is_unavailable():
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GeminiProvider(api_key="key", base_url=f"http://127.0.0.1:{port}")

    with pytest.raises(Unavailable):
        await provider.generate(image_request())
