"""The fake Gemini server keeps the real wire contract, so tests run against it prove something.

Everything here goes over real HTTP to the fake served by uvicorn in a background thread.
"""

import base64
import io
import random
import time
from dataclasses import dataclass

import anyio
import httpx
import pytest
from PIL import Image

from generation.catalog import FLASH, PRO
from tests.fakes.fake_gemini import FakeGemini, FakeGeminiServer, running_fake_gemini


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def server():
    with running_fake_gemini(thought_images=0) as running:
        yield running


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=30) as client:
        yield client


@dataclass
class Fake:
    """The shared fake server plus a keep-alive client, so each test costs one round trip."""

    server: FakeGeminiServer
    http: httpx.Client

    @property
    def app(self):
        return self.server.app

    @property
    def base_url(self):
        return self.server.base_url

    @property
    def api_key(self):
        return self.server.api_key

    def post(self, body, *, model=PRO, version="v1beta", key=None, headers=None, timeout=30.0):
        all_headers = {"x-goog-api-key": self.server.api_key if key is None else key,
                       **(headers or {})}
        if key == "":
            del all_headers["x-goog-api-key"]
        return self.http.post(f"{self.base_url}/{version}/models/{model}:generateContent",
                              json=body, headers=all_headers, timeout=timeout)


@pytest.fixture
def fake(server, http):
    server.app.reset(config=True)  # each test starts from the config the server was built with
    return Fake(server, http)


def request_body(prompt="a red ball beside a blue cube", ratio="1:1", size=None):
    image_config = {"aspectRatio": ratio}
    if size:
        image_config["imageSize"] = size
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"],
                                 "imageConfig": image_config}}


def image_size(part) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(part["inlineData"]["data"]))) as image:
        assert image.format == "PNG"
        return image.size


def png_bytes(width, height) -> bytes:
    # Noise, so its base64 surely uses the characters where URL-safe differs from standard.
    rng = random.Random(7)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def error_of(response) -> dict:
    return response.json()["error"]


# --- success shape ---------------------------------------------------------------------------

def test_success_is_camel_case_with_signed_text_and_image_parts(fake):
    response = fake.post(request_body(ratio="16:9", size="2K"))

    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"candidates", "usageMetadata", "modelVersion", "responseId"}
    candidate = payload["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    text_part, image_part = candidate["content"]["parts"]
    assert text_part["text"] and text_part["thoughtSignature"]
    assert image_part["inlineData"]["mimeType"] == "image/png"
    assert image_part["thoughtSignature"]
    assert image_size(image_part) == (2752, 1536)
    usage = payload["usageMetadata"]
    assert usage["candidatesTokensDetails"][0] == {"modality": "IMAGE", "tokenCount": 1120}
    assert usage["totalTokenCount"] == (usage["promptTokenCount"] + usage["candidatesTokenCount"]
                                        + usage["thoughtsTokenCount"])
    assert payload["modelVersion"] == PRO
    assert "_" not in "".join(payload) + "".join(candidate) + "".join(usage)


@pytest.mark.parametrize(("model", "size", "ratio", "dimensions", "image_tokens"), [
    (PRO, None, "1:1", (1024, 1024), 1120),
    (PRO, "1K", "3:4", (896, 1200), 1120),
    (PRO, "2K", "2:3", (1696, 2528), 1120),
    (PRO, "4K", "21:9", (6336, 2688), 2000),
    (PRO, "4K", "9:16", (3072, 5504), 2000),
    (FLASH, None, "9:16", (768, 1344), 1290),
    (FLASH, "1K", "4:3", (1184, 864), 1290),
])
def test_image_has_the_real_dimensions_and_token_count(fake, model, size, ratio, dimensions,
                                                       image_tokens):
    response = fake.post(request_body(ratio=ratio, size=size), model=model)

    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert image_size(parts[-1]) == dimensions
    details = response.json()["usageMetadata"]["candidatesTokensDetails"]
    assert {"modality": "IMAGE", "tokenCount": image_tokens} in details


def test_pro_can_show_an_interim_thought_image_first(fake):
    fake.app.configure(thought_images=1)

    pro = fake.post(request_body(ratio="16:9", size="4K")).json()
    flash = fake.post(request_body(ratio="16:9"), model=FLASH).json()

    draft, text, final = pro["candidates"][0]["content"]["parts"]
    assert draft["thought"] is True and "thoughtSignature" not in draft
    assert image_size(draft) == (1376, 768)
    assert image_size(final) == (5504, 3072) and "thought" not in final
    assert "thought" not in text
    # Flash does not think: no drafts.
    assert [part.get("thought") for part in flash["candidates"][0]["content"]["parts"]] == [
        None, None]


@pytest.mark.parametrize("modalities", [["IMAGE"], ["Image"]])
def test_image_only_modality_returns_no_text(fake, modalities):
    body = request_body()
    body["generationConfig"]["responseModalities"] = modalities

    parts = fake.post(body).json()["candidates"][0]["content"]["parts"]

    assert [set(part) for part in parts] == [{"inlineData", "thoughtSignature"}]


def test_every_api_version_and_a_path_prefix_are_served(fake):
    for version in ("v1", "v1beta", "v1alpha", "proxy/gemini/v1beta"):
        assert fake.post(request_body(), version=version).status_code == 200


def test_grounded_request_gets_grounding_metadata(fake):
    body = request_body(prompt="today's weather in Paris as an infographic") | {
        "tools": [{"google_search": {}}]}

    candidate = fake.post(body).json()["candidates"][0]

    assert candidate["groundingMetadata"]["webSearchQueries"]


# --- input the real API accepts or rejects -----------------------------------------------------

def test_snake_case_fields_and_urlsafe_unpadded_base64_are_accepted(fake):
    reference = png_bytes(160, 90)
    encoded = base64.urlsafe_b64encode(reference).decode().rstrip("=")
    assert {"-", "_"} & set(encoded)  # really differs from standard base64
    body = {"contents": [{"role": "user", "parts": [
                {"text": "make it snow"},
                {"inline_data": {"mime_type": "image/png", "data": encoded}}]}],
            "generation_config": {"response_modalities": ["TEXT", "IMAGE"],
                                  "image_config": {"image_size": "2K"}}}

    response = fake.post(body)

    assert response.status_code == 200, response.text
    # No aspect ratio given: the input image's shape (16:9) decides.
    assert image_size(response.json()["candidates"][0]["content"]["parts"][-1]) == (2752, 1536)


def test_standard_padded_base64_is_accepted(fake):
    reference = png_bytes(90, 160)
    body = request_body()
    body["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(reference).decode()}})

    assert fake.post(body).status_code == 200


@pytest.mark.parametrize(("model", "mutate", "fragment"), [
    (PRO, lambda b: b["generationConfig"]["imageConfig"].update(imageSize="4k"), "image_size"),
    (FLASH, lambda b: b["generationConfig"]["imageConfig"].update(imageSize="2K"), "2K"),
    (PRO, lambda b: b["generationConfig"]["imageConfig"].update(aspectRatio="7:5"), "7:5"),
    (PRO, lambda b: b["generationConfig"].update(negativePrompt="blur"), "negativePrompt"),
    (PRO, lambda b: b["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "image/png", "data": "not base64!"}}), "Base64"),
    (PRO, lambda b: b["contents"][0]["parts"].append(
        {"inlineData": {"mimeType": "application/pdf", "data": "AAAA"}}), "MIME"),
    (PRO, lambda b: b.update(contents=[]), "contents"),
])
def test_invalid_requests_are_400_invalid_argument(fake, model, mutate, fragment):
    body = request_body()
    mutate(body)

    response = fake.post(body, model=model)

    assert response.status_code == 400
    assert error_of(response)["status"] == "INVALID_ARGUMENT"
    assert fragment in error_of(response)["message"]


def test_flash_accepts_an_explicit_1k(fake):
    assert fake.post(request_body(size="1K"), model=FLASH).status_code == 200


def test_unknown_model_is_404_not_found(fake):
    response = fake.post(request_body(), model="gemini-9-ultra-image")

    assert response.status_code == 404
    assert error_of(response)["status"] == "NOT_FOUND"


def test_wrong_api_key_is_400_api_key_invalid(fake):
    response = fake.post(request_body(), key="not-the-key")

    assert response.status_code == 400
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


def test_missing_api_key_is_403_permission_denied(fake):
    response = fake.post(request_body(), key="")

    assert response.status_code == 403
    assert error_of(response)["status"] == "PERMISSION_DENIED"


def test_api_key_may_come_in_the_query_string(fake):
    url = f"{fake.base_url}/v1beta/models/{PRO}:generateContent?key={fake.api_key}"

    assert fake.http.post(url, json=request_body()).status_code == 200


# --- faults --------------------------------------------------------------------------------------

def test_429_carries_a_fractional_retry_info_delay_and_no_retry_after_header(fake):
    fake.app.configure(retry_delay=0.25)

    response = fake.post(request_body(prompt="hello [fault:429]"))

    assert response.status_code == 429
    assert "retry-after" not in response.headers
    error = error_of(response)
    assert error["status"] == "RESOURCE_EXHAUSTED"
    retry_info = [d for d in error["details"]
                  if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"]
    assert retry_info == [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                           "retryDelay": "0.25s"}]


def _candidate(response):
    return response.json()["candidates"][0]


@pytest.mark.parametrize(("trigger", "status", "check"), [
    ("500", 500, lambda r: error_of(r)["status"] == "INTERNAL"),
    ("503", 503, lambda r: error_of(r)["status"] == "UNAVAILABLE"),
    ("safety", 200, lambda r: r.json()["promptFeedback"]["blockReason"] == "SAFETY"
     and r.json()["promptFeedback"]["safetyRatings"] and "candidates" not in r.json()),
    ("prohibited", 200,
     lambda r: r.json()["promptFeedback"]["blockReason"] == "PROHIBITED_CONTENT"),
    ("image_safety", 200, lambda r: _candidate(r)["finishReason"] == "IMAGE_SAFETY"
     and _candidate(r)["safetyRatings"] and "content" not in _candidate(r)),
    ("no_image", 200, lambda r: _candidate(r)["finishReason"] == "NO_IMAGE"),
    ("text_only", 200, lambda r: _candidate(r)["finishReason"] == "STOP"
     and [set(p) for p in _candidate(r)["content"]["parts"]] == [{"text", "thoughtSignature"}]),
])
def test_prompt_triggers_pick_the_outcome(fake, trigger, status, check):
    response = fake.post(request_body(prompt=f"a cat [fault:{trigger}]"))

    assert response.status_code == status
    assert check(response)
    assert fake.app.outcomes[trigger] == 1


def test_malformed_trigger_sends_a_truncated_json_body(fake):
    response = fake.post(request_body(prompt="[fault:malformed] a cat"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


def test_unknown_trigger_is_rejected_loudly(fake):
    response = fake.post(request_body(prompt="[fault:teapot]"))

    assert response.status_code == 400
    assert "teapot" in error_of(response)["message"]


def test_header_picks_the_outcome_too(fake):
    response = fake.post(request_body(), headers={"x-fake-fault": "503"})

    assert response.status_code == 503


def test_script_is_consumed_in_order_then_requests_succeed(fake):
    fake.app.configure(script=["503", "429", "ok", "500"])
    statuses = [fake.post(request_body()).status_code for _ in range(5)]
    fake.app.configure(script=["safety"])
    blocked = fake.post(request_body()).json()

    assert statuses == [503, 429, 200, 500, 200]
    assert blocked["promptFeedback"]["blockReason"] == "SAFETY"


def test_fault_rate_draws_from_the_fault_mix(fake):
    fake.app.configure(fault_rate=1.0, fault_mix={"503": 1.0})
    statuses = {fake.post(request_body()).status_code for _ in range(5)}
    fake.app.configure(fault_rate=0.0)
    healthy = fake.post(request_body()).status_code

    assert statuses == {503}
    assert healthy == 200


@pytest.mark.parametrize("config", [{"fault_mix": {"418": 1.0}}, {"script": ["ok", "oops"]},
                                    {"latency": (2.0, 1.0)}, {"fault_rate": 1.5}])
def test_bad_config_fails_loudly(config):
    with pytest.raises(ValueError):
        FakeGemini(**config)


def test_latency_trigger_and_header_delay_the_answer(fake):
    started = time.monotonic()
    assert fake.post(request_body(prompt="slow [latency:0.4]")).status_code == 200
    assert time.monotonic() - started >= 0.4

    started = time.monotonic()
    assert fake.post(request_body(), headers={"x-fake-latency": "0.3"}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_timeout_hangs_until_the_client_gives_up_and_is_then_forgotten(fake):
    with pytest.raises(httpx.ReadTimeout):
        fake.post(request_body(prompt="[fault:timeout]"), timeout=0.3)

    deadline = time.monotonic() + 3
    while fake.app.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.app.in_flight == 0
    assert fake.app.outcomes["timeout"] == 1


# --- multi-turn signatures ------------------------------------------------------------------------

def _second_turn(first_prompt: str, model_content: dict) -> dict:
    return {"contents": [
        {"role": "user", "parts": [{"text": first_prompt}]},
        model_content,
        {"role": "user", "parts": [{"text": "now make the ball green"}]},
    ], "generationConfig": {"imageConfig": {"aspectRatio": "16:9"}}}


def test_multi_turn_with_signatures_sent_back_succeeds(fake):
    fake.app.configure(thought_images=1)
    first = fake.post(request_body(prompt="a red ball", ratio="16:9")).json()
    model_content = first["candidates"][0]["content"]
    assert model_content["parts"][0]["thought"] is True  # drafts go back too, unsigned
    # The SDK sends bytes fields URL-safe: a re-encoded signature is still the signature.
    model_content["parts"][1]["thoughtSignature"] = base64.urlsafe_b64encode(
        base64.b64decode(model_content["parts"][1]["thoughtSignature"])).decode()

    second = fake.post(_second_turn("a red ball", model_content))

    assert second.status_code == 200, second.text
    assert image_size(second.json()["candidates"][0]["content"]["parts"][-1]) == (1376, 768)


@pytest.mark.parametrize("tamper", ["change_signature", "drop_signature", "change_image",
                                    "change_text"])
def test_multi_turn_with_altered_model_parts_is_rejected(fake, tamper):
    first = fake.post(request_body(prompt="a red ball", ratio="16:9")).json()
    model_content = first["candidates"][0]["content"]
    text_part, image_part = model_content["parts"]
    if tamper == "change_signature":
        image_part["thoughtSignature"] = base64.b64encode(b"\0" * 32).decode()
    elif tamper == "drop_signature":
        del text_part["thoughtSignature"]
    elif tamper == "change_image":
        image_part["inlineData"]["data"] = base64.b64encode(png_bytes(16, 9)).decode()
    else:
        text_part["text"] += " (edited)"

    response = fake.post(_second_turn("a red ball", model_content))

    assert response.status_code == 400
    assert error_of(response)["status"] == "INVALID_ARGUMENT"
    assert "signature" in error_of(response)["message"]


# --- introspection and concurrency -----------------------------------------------------------------

def test_counters_and_recorded_bodies_are_bounded(fake):
    fake.app.configure(max_recorded=2)
    for index in range(3):
        fake.post(request_body(prompt=f"picture {index}"))
    fake.post(request_body(), key="wrong")

    assert fake.app.request_count == 4
    assert fake.app.outcomes == {"ok": 3, "rejected": 1}
    assert len(fake.app.bodies) == 2
    assert fake.app.bodies[0]["contents"][0]["parts"][0]["text"] == "picture 2"
    assert fake.app.received[-1].headers["x-goog-api-key"] == "wrong"
    fake.app.reset()
    assert fake.app.request_count == 0 and fake.app.bodies == []


def test_healthz_answers(fake):
    assert fake.http.get(f"{fake.base_url}/healthz").json() == {"status": "ok"}


@pytest.mark.anyio
async def test_hundreds_of_slow_requests_are_served_concurrently(fake):
    count = 200
    fake.app.configure(latency=1.0)
    statuses = []
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(index):
            response = await client.post(
                f"{fake.base_url}/v1beta/models/{PRO}:generateContent",
                json=request_body(prompt=f"picture {index}"),
                headers={"x-goog-api-key": fake.api_key})
            statuses.append(response.status_code)

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for index in range(count):
                group.start_soon(one, index)
        elapsed = time.monotonic() - started

    assert statuses == [200] * count
    # One second each: served one after another they would take 200 s. (Most of the few
    # seconds this takes is httpx's client-side pool, not the fake.)
    assert elapsed < 20
    assert fake.app.max_in_flight >= count * 0.9
    assert fake.app.in_flight == 0
