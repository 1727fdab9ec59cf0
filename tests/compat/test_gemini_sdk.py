"""The official `google-genai` SDK, with HttpOptions(base_url=<live server>), against a real worker."""

import base64
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from google import genai
from google.genai import errors, types

from accounts.services import api_key_create, api_key_revoke
from billing.models import Wallet
from generation.models import GenerationJob, JobStatus
from generation.services import image_request_for
from tests.compat.conftest import image_of, png_bytes
from tests.conftest import make_tenant

# Live-server tests commit for real; serialized rollback restores the seeded price list after each.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def sdk(live: str, key: str) -> genai.Client:
    """Keep the client in a variable: a dropped Client closes its HTTP connection pool."""
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=live, timeout=60_000))


@pytest.fixture
def tenant(transactional_db):
    return make_tenant("Northwind Agency", "owner@northwind.test", credits="10")


def _image_parts(response):
    return [part for part in response.candidates[0].content.parts if part.inline_data]


def test_image_config_gives_the_catalog_dimensions(live, tenant):
    client = sdk(live, tenant.api_key)
    response = client.models.generate_content(
        model=PRO, contents="a lighthouse at dawn",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K")))

    [part] = _image_parts(response)
    assert part.inline_data.mime_type == "image/png"
    assert image_of(part.inline_data.data).size == (2752, 1536)
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.candidates_token_count == 1120
    assert response.model_version == "local-renderer"
    job = GenerationJob.objects.get()
    assert (job.status, job.tier, job.aspect_ratio) == (JobStatus.SUCCEEDED, "2K", "16:9")
    assert response.response_id == str(job.id)


def test_edit_with_a_reference_image_keeps_its_ratio(live, tenant):
    photo = png_bytes(900, 1200)  # 3:4

    client = sdk(live, tenant.api_key)
    response = client.models.generate_content(
        model=PRO, contents=[types.Part.from_bytes(data=photo, mime_type="image/png"),
                             "make the sky purple"])

    [part] = _image_parts(response)
    assert image_of(part.inline_data.data).size == (896, 1200)
    job = GenerationJob.objects.get()
    assert job.prompt == "make the sky purple"
    [reference] = job.references.all()
    assert (reference.width, reference.height) == (900, 1200)
    assert image_request_for(job).reference_images[0].data == photo
    assert job.price == 134_000 + 1_100


def test_a_chat_sends_its_earlier_turns_back(live, tenant):
    client = sdk(live, tenant.api_key)
    chat = client.chats.create(
        model=FLASH, config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]))

    first = chat.send_message("a red ball on a table")
    second = chat.send_message("now make the ball blue")

    assert _image_parts(first) and _image_parts(second)
    first_job, second_job = GenerationJob.objects.order_by("created_at")
    assert second_job.prompt == "now make the ball blue"
    history = image_request_for(second_job).history
    assert [turn.role for turn in history] == ["user", "model"]
    assert history[0].parts == [{"text": "a red ball on a table"}]
    [sent_back] = [part for part in history[1].parts if "inlineData" in part]
    with first_job.images.get().file.open("rb") as handle:
        first_image = handle.read()
    assert base64.urlsafe_b64decode(sent_back["inlineData"]["data"] + "==") == first_image


def test_snake_case_url_safe_base64_and_thought_signatures_pass_through(live, tenant):
    signature = base64.urlsafe_b64encode(b"\xfb\xff opaque signature").decode().rstrip("=")
    earlier_image = base64.urlsafe_b64encode(png_bytes(64, 64)).decode().rstrip("=")
    reference = base64.urlsafe_b64encode(png_bytes(1024, 1024, (9, 9, 9))).decode().rstrip("=")
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "a cat"}]},
            {"role": "model", "parts": [
                {"text": "Here it is", "thought_signature": signature},
                {"inline_data": {"mime_type": "image/png", "data": earlier_image},
                 "thought_signature": signature}]},
            {"role": "user", "parts": [{"text": "add a hat"},
                                       {"inline_data": {"mime_type": "image/jpeg",
                                                        "data": reference}}]},
        ],
        "generation_config": {"response_modalities": ["Image"], "seed": 7,
                              "image_config": {"aspect_ratio": "1:1", "image_size": "1k"}},
        "tools": [{"google_search": {}}],
    }

    response = httpx.post(f"{live}/v1beta/models/{PRO}:generateContent",
                          params={"key": tenant.api_key}, json=body, timeout=60)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in answer and "modelVersion" in answer
    job = GenerationJob.objects.get()
    assert (job.seed, job.grounding, job.tier) == (7, True, "1K")
    assert job.price == 134_000 + 1_100 + 14_000
    assert job.references.get().mime_type == "image/png"  # sniffed, not the declared jpeg
    model_turn = image_request_for(job).history[1]
    assert model_turn.role == "model"
    assert model_turn.parts == [
        {"text": "Here it is", "thoughtSignature": signature},
        {"inlineData": {"mimeType": "image/png", "data": earlier_image},
         "thoughtSignature": signature}]


def test_streaming_delivers_the_image_as_one_event(live, tenant):
    client = sdk(live, tenant.api_key)

    chunks = list(client.models.generate_content_stream(
        model=FLASH, contents="a kite", config=types.GenerateContentConfig(
            image_config=types.ImageConfig(aspect_ratio="4:5"))))

    [chunk] = chunks
    [part] = _image_parts(chunk)
    assert image_of(part.inline_data.data).size == (896, 1152)


def test_models_listing_with_a_query_key(live, tenant):
    response = httpx.get(f"{live}/v1beta/models", params={"key": tenant.api_key})
    assert [model["name"] for model in response.json()["models"]] == [f"models/{PRO}",
                                                                      f"models/{FLASH}"]
    client = sdk(live, tenant.api_key)
    sdk_names = [model.name for model in client.models.list()]
    assert sdk_names == [f"models/{PRO}", f"models/{FLASH}"]


@pytest.mark.parametrize("state", ["revoked", "expired"])
def test_rejected_keys_get_google_401s(live, tenant, state):
    if state == "revoked":
        api_key_revoke(api_key=tenant.organization.api_keys.get())
        secret = tenant.api_key
    else:
        _, secret = api_key_create(organization=tenant.organization, name="old",
                                   expires_at=timezone.now() - timedelta(minutes=1))

    client = sdk(live, secret)
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model=PRO, contents="x")

    assert (raised.value.code, raised.value.status) == (401, "UNAUTHENTICATED")
    assert GenerationJob.objects.count() == 0


def test_errors_come_in_googles_shape(live, tenant):
    client = sdk(live, tenant.api_key)
    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model="gemini-9-ultra", contents="x")
    assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")

    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(
            model=FLASH, contents="x",
            config=types.GenerateContentConfig(image_config=types.ImageConfig(image_size="4K")))
    assert (raised.value.code, raised.value.status) == (400, "INVALID_ARGUMENT")
    assert "image_size" in raised.value.message or "1K" in raised.value.message

    poor = make_tenant("Shoestring", "poor@shoestring.test", credits="0.01")
    poor_client = sdk(live, poor.api_key)
    with pytest.raises(errors.ClientError) as raised:
        poor_client.models.generate_content(model=PRO, contents="x")
    assert raised.value.code == 402
    assert raised.value.details["error"]["details"][0]["reason"] == "insufficient_credits"
    assert GenerationJob.objects.count() == 0
    assert Wallet.objects.get(organization=poor.organization).reserved == 0
