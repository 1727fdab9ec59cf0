"""Generation options built on brand assets: asset and URL references, characters, style
presets, negative prompts; all priced per reference image, all tenant-scoped."""

import pytest

from billing.models import Reservation
from generation.batches.models import Batch
from generation.models import GenerationJob, JobReference
from generation.services import image_request_for
from tests.assets.conftest import FLASH, PRO, b64, png_bytes


def refs_line(job: GenerationJob) -> int:
    return next((line["quantity"] for line in job.price_breakdown
                 if line["item"] == "reference_image"), 0)


@pytest.fixture
def character(owner, brand, upload_asset):
    faces = [upload_asset(name=f"face {i}", data=png_bytes((90, 120), color=(i * 80, 60, 60)))
             for i in range(2)]
    response = owner.api.post(f"/api/v1/brands/{brand.pk}/characters",
                              {"name": "Mia", "assets": [face["id"] for face in faces]},
                              format="json")
    return response.json()


@pytest.fixture
def preset(owner, brand):
    return owner.api.post(f"/api/v1/brands/{brand.pk}/style-presets", {
        "name": "Poster", "prompt_suffix": "Style: flat vector poster.", "model": FLASH,
        "aspect_ratio": "16:9", "output_format": "webp"}, format="json").json()


def test_asset_and_character_references_are_sent_and_each_priced(owner, submit, upload_asset,
                                                                  character):
    logo = upload_asset(name="logo", data=png_bytes((200, 100)))
    response = submit(owner, model=PRO, prompt="Mia holding the logo", aspect_ratio="1:1",
                      reference_images=[{"asset": logo["id"]}], character=character["id"])

    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get()
    sent = image_request_for(job).reference_images
    assert len(sent) == 3  # the explicit reference first, then the character's two images
    assert [(ref.width, ref.height) for ref in job.references.all()] == [
        (200, 100), (90, 120), (90, 120)]
    assert refs_line(job) == 3


def test_character_images_count_against_the_models_maximum(owner, submit, upload_asset,
                                                           character):
    extra = [{"asset": upload_asset(name=f"x{i}")["id"]} for i in range(2)]
    refused = submit(owner, model=FLASH, prompt="too many", reference_images=extra,
                     character=character["id"])  # 2 + 2 > 3

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "too_many_images"
    assert not GenerationJob.objects.exists() and not JobReference.objects.exists()


def test_style_preset_adds_its_suffix_and_defaults_and_explicit_fields_win(owner, submit,
                                                                           preset):
    response = submit(owner, prompt="a lighthouse", style_preset=preset["id"],
                      aspect_ratio="4:3", negative_prompt="text, watermarks")
    assert response.status_code == 202, response.json()
    job = response.json()
    assert job["model"] == FLASH and job["output_format"] == "webp"  # from the preset
    assert job["aspect_ratio"] == "4:3"  # explicit beats the preset's 16:9
    assert job["prompt"] == ("a lighthouse\n\nStyle: flat vector poster.\n\n"
                             "Avoid: text, watermarks")
    plain = submit(owner, prompt="a barn", style_preset=preset["id"]).json()
    assert plain["aspect_ratio"] == "16:9"


def test_url_references_are_fetched_sniffed_and_priced(owner, submit, image_host):
    image_host.routes["/photo"] = (200, {"content-type": "text/plain"},
                                   png_bytes((80, 80), fmt="JPEG"))
    image_host.routes["/moved"] = (302, {"location": "/photo"}, b"")
    response = submit(owner, model=PRO, prompt="like this",
                      reference_images=[{"url": image_host.url("/moved")}])

    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get()
    assert [ref.mime_type for ref in job.references.all()] == ["image/jpeg"]
    assert refs_line(job) == 1


def test_bad_url_references_are_refused_clearly(owner, submit, image_host, settings):
    image_host.routes["/page"] = (200, {"content-type": "image/png"}, b"<html>hi</html>")
    image_host.routes["/big"] = (200, {}, png_bytes((300, 300), fmt="BMP"))

    def refused(url, status, code):
        response = submit(owner, model=PRO, prompt="x", reference_images=[{"url": url}])
        assert response.status_code == status, response.json()
        error = response.json()["error"]
        assert (error["code"], error["param"]) == (code, "reference_images[0]")

    refused(image_host.url("/missing"), 400, "reference_url_failed")
    refused(image_host.url("/page"), 400, "invalid_image")
    refused("ftp://example.com/a.png", 400, "unsafe_url")
    settings.MAX_IMAGE_UPLOAD_BYTES = 2048
    refused(image_host.url("/big"), 413, "image_too_large")
    # Without the development setting, loopback and private addresses are refused.
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = False
    refused(image_host.url("/page"), 400, "unsafe_url")
    refused("http://169.254.169.254/latest/meta-data", 400, "unsafe_url")
    assert not GenerationJob.objects.exists() and not Reservation.objects.exists()


def test_foreign_assets_characters_and_presets_are_404(owner, outsider, other_brand_key, submit,
                                                       upload_asset, character, preset):
    logo = upload_asset()
    _, bound = other_brand_key
    for client in (outsider.api, bound):
        for fields, param in (({"reference_images": [{"asset": logo["id"]}]},
                               "reference_images[0]"),
                              ({"character": character["id"]}, "character"),
                              ({"style_preset": preset["id"]}, "style_preset")):
            response = client.post("/api/v1/generations",
                                   {"model": PRO, "prompt": "x", **fields}, format="json")
            assert response.status_code == 404, response.json()
            assert response.json()["error"]["param"] == param
    assert not GenerationJob.objects.exists()


def test_malformed_reference_items_are_named(owner, submit):
    response = submit(owner, model=PRO, prompt="x", reference_images=[b64(png_bytes()),
                                                                      {"file": "nope"}])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "reference_images[1]"


def test_batch_items_take_style_presets_and_negative_prompts(owner, preset, other_brand_key,
                                                              django_capture_on_commit_callbacks):
    def batch(client, requests):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/batches", {"requests": requests}, format="json")

    response = batch(owner.api, [
        {"prompt": "one", "style_preset": preset["id"]},
        {"model": PRO, "prompt": "two", "negative_prompt": "blur", "aspect_ratio": "1:1"}])
    assert response.status_code == 202, response.json()
    first, second = GenerationJob.objects.order_by("batch_item__index")
    assert (first.model, first.aspect_ratio, first.params["output_format"]) == (
        FLASH, "16:9", "webp")
    assert first.prompt == "one\n\nStyle: flat vector poster."
    assert (second.model, second.prompt) == (PRO, "two\n\nAvoid: blur")

    _, bound = other_brand_key
    foreign = batch(bound, [{"prompt": "x", "style_preset": preset["id"]}])
    assert (foreign.status_code, foreign.json()["error"]["param"]) == (
        404, "requests[0].style_preset")
    with_refs = batch(owner.api, [{"prompt": "x", "reference_images": [b64(png_bytes())]}])
    assert with_refs.json()["error"]["code"] == "unsupported_option"
    assert Batch.objects.count() == 1
