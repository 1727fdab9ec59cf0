"""The official `openai` SDK, pointed at <live server>/v1, against a real worker cluster."""

import base64
from datetime import timedelta

import httpx
import openai
import pytest
from django.utils import timezone
from openai import OpenAI

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from billing.models import EntryKind, LedgerEntry, Wallet
from generation.models import GenerationJob, JobStatus
from tests.compat.conftest import image_of, png_bytes
from tests.conftest import make_tenant

# Live-server tests commit for real; serialized rollback restores the seeded price list after each.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def sdk(live: str, key: str, **kwargs) -> OpenAI:
    return OpenAI(base_url=f"{live}/v1", api_key=key, timeout=60, **kwargs)


@pytest.fixture
def tenant(transactional_db):
    return make_tenant("Northwind Agency", "owner@northwind.test", credits="10")


def test_generate_b64_json_maps_openai_size_to_ratio_and_covering_tier(live, tenant):
    result = sdk(live, tenant.api_key).images.generate(
        model=PRO, prompt="a lighthouse at dawn", size="1536x1024", response_format="b64_json")

    # 1536x1024 is 3:2; Pro's 1K 3:2 (1264x848) is too small, its 2K (2528x1696) covers it.
    assert result.size == "2528x1696"
    assert result.output_format == "png"
    [item] = result.data
    assert item.url is None
    image = image_of(base64.b64decode(item.b64_json))
    assert (image.format, image.size) == ("PNG", (2528, 1696))
    assert result.usage.output_tokens == 1120
    job = GenerationJob.objects.get()
    assert (job.status, job.tier, job.aspect_ratio) == (JobStatus.SUCCEEDED, "2K", "3:2")
    capture = LedgerEntry.objects.get(kind=EntryKind.CAPTURE)
    assert capture.amount == -134_000


def test_n_2_with_signed_urls_runs_two_jobs_and_charges_each(live, tenant):
    result = sdk(live, tenant.api_key).images.generate(
        model=FLASH, prompt="two variations", n=2, response_format="url",
        extra_body={"aspect_ratio": "9:16", "output_format": "jpeg"})

    assert len(result.data) == 2
    assert (result.size, result.output_format) == ("768x1344", "jpeg")
    for item in result.data:
        assert item.b64_json is None
        download = httpx.get(item.url)
        assert download.status_code == 200
        assert image_of(download.content).format == "JPEG"
    assert GenerationJob.objects.filter(status=JobStatus.SUCCEEDED).count() == 2
    wallet = Wallet.objects.get(organization=tenant.organization)
    assert (wallet.balance, wallet.reserved) == (10_000_000 - 2 * 39_000, 0)
    # Without the signature the files are not reachable.
    assert httpx.get(result.data[0].url.split("?")[0] + "x").status_code == 404


def test_edit_one_image_keeps_its_shape_and_sends_it_as_a_reference(live, tenant):
    photo = png_bytes(1200, 900)  # 4:3

    result = sdk(live, tenant.api_key).images.edit(
        model=PRO, image=("photo.png", photo, "image/png"), prompt="make it night",
        response_format="b64_json")

    assert result.size == "1200x896"  # Pro 1K at 4:3
    job = GenerationJob.objects.get()
    [reference] = job.references.all()
    assert (reference.mime_type, reference.width, reference.height) == ("image/png", 1200, 900)
    with reference.file.open("rb") as handle:
        assert handle.read() == photo
    assert job.price == 134_000 + 1_100
    assert job.price_breakdown[1] == {"item": "reference_image", "quantity": 1,
                                      "unit_price": 1_100, "amount": 1_100}


def test_edit_with_several_images_and_a_mask(live, tenant):
    images = [("a.png", png_bytes(1024, 1024), "image/png"),
              ("b.webp", _webp(640, 640), "application/octet-stream")]  # type is sniffed
    mask = ("mask.png", png_bytes(1024, 1024, (0, 0, 0, 0), mode="RGBA"), "image/png")

    result = sdk(live, tenant.api_key).images.edit(
        model=PRO, image=images, mask=mask, prompt="blend them", size="1024x1024",
        response_format="b64_json")

    assert image_of(base64.b64decode(result.data[0].b64_json)).size == (1024, 1024)
    job = GenerationJob.objects.get()
    kinds = [(ref.mime_type, ref.is_mask) for ref in job.references.all()]
    assert kinds == [("image/png", False), ("image/webp", False), ("image/png", True)]


def test_list_models(live, tenant):
    ids = [model.id for model in sdk(live, tenant.api_key).models.list()]
    assert ids == [PRO, FLASH]


def test_insufficient_credits_is_a_402_the_sdk_does_not_retry(live, transactional_db):
    poor = make_tenant("Shoestring", "poor@shoestring.test", credits="0.05")
    requests = []
    client = sdk(live, poor.api_key, http_client=httpx.Client(
        event_hooks={"request": [requests.append]}))

    with pytest.raises(openai.APIStatusError) as raised:
        client.images.generate(model=PRO, prompt="too expensive", n=1)

    error = raised.value
    assert error.status_code == 402
    assert (error.code, error.type) == ("insufficient_credits", "insufficient_quota")
    assert "$0.05" in error.message
    assert len(requests) == 1  # no retries
    assert GenerationJob.objects.count() == 0


def test_n_is_all_or_nothing_on_credits(live, transactional_db):
    tight = make_tenant("Tight", "tight@budget.test", credits="0.10")

    with pytest.raises(openai.APIStatusError) as raised:
        sdk(live, tight.api_key).images.generate(model=FLASH, prompt="three", n=3)

    assert raised.value.status_code == 402
    assert GenerationJob.objects.count() == 0
    wallet = Wallet.objects.get(organization=tight.organization)
    assert (wallet.balance, wallet.reserved) == (100_000, 0)


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown"])
def test_rejected_keys_get_openai_401s(live, tenant, state):
    key = ApiKey.objects.get(organization=tenant.organization)
    secret = tenant.api_key
    if state == "revoked":
        api_key_revoke(api_key=key)
    elif state == "expired":
        _, secret = api_key_create(organization=tenant.organization, name="old",
                                   expires_at=timezone.now() - timedelta(minutes=1))
    else:
        secret = "atl_" + "x" * 40

    with pytest.raises(openai.AuthenticationError) as raised:
        sdk(live, secret).images.generate(model=PRO, prompt="x")

    assert raised.value.status_code == 401
    assert raised.value.code == {"revoked": "api_key_revoked", "expired": "api_key_expired",
                                 "unknown": "invalid_api_key"}[state]
    assert GenerationJob.objects.count() == 0


def test_bad_input_is_a_400_in_openai_shape(live, tenant):
    client = sdk(live, tenant.api_key)
    with pytest.raises(openai.BadRequestError) as raised:
        client.images.generate(model=PRO, prompt="x", size="huge")
    assert (raised.value.code, raised.value.param) == ("invalid_size", "size")

    with pytest.raises(openai.BadRequestError) as raised:
        client.images.edit(model=PRO, prompt="x", image=("x.png", b"not an image", "image/png"))
    assert (raised.value.code, raised.value.param) == ("invalid_image", "image")
    assert GenerationJob.objects.count() == 0


def _webp(width, height) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="WEBP")
    return buffer.getvalue()
