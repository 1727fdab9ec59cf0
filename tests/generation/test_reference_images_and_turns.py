"""Reference images, output formats and multi-turn continuation on the native jobs API."""

import base64
import io
import struct
import zlib

import pytest
from PIL import Image

from billing.models import LedgerEntry, Reservation
from generation.models import GenerationJob, JobReference
from generation.services import image_request_for

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users need passwords, not a deliberately slow hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def encoded(fmt: str, size=(640, 480), color=(30, 90, 160)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming huge dimensions: tiny on the wire, enormous once decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def post_multipart(actor, django_capture_on_commit_callbacks, files, **fields):
    with django_capture_on_commit_callbacks(execute=True):
        return actor.api.post("/api/v1/generations", {**fields, "reference_images": files},
                              format="multipart")


def test_uploaded_references_are_stored_priced_and_sent_upstream(
        owner, django_capture_on_commit_callbacks):
    jpeg, webp = encoded("JPEG", (800, 600)), encoded("WEBP", (300, 300))
    files = [io.BytesIO(jpeg), io.BytesIO(webp)]
    files[0].name, files[1].name = "photo.png", "logo.gif"  # names and types are not trusted

    response = post_multipart(owner, django_capture_on_commit_callbacks, files, model=PRO,
                              prompt="put the logo on the photo")

    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get()
    assert [(r.mime_type, r.width, r.height) for r in job.references.all()] == [
        ("image/jpeg", 800, 600), ("image/webp", 300, 300)]
    assert job.aspect_ratio == "4:3"  # no ratio asked: the first image's shape
    assert response.json()["price"]["micros"] == 134_000 + 2 * 1_100
    sent = image_request_for(job).reference_images
    assert [(ref.mime_type, ref.data) for ref in sent] == [("image/jpeg", jpeg),
                                                           ("image/webp", webp)]


def test_base64_references_in_json(owner, submit):
    png = encoded("PNG", (512, 512))
    response = submit(owner, model=FLASH, prompt="x", aspect_ratio="16:9",
                      reference_images=[base64.urlsafe_b64encode(png).decode().rstrip("=")])
    assert response.status_code == 202, response.json()
    assert GenerationJob.objects.get().aspect_ratio == "16:9"  # an explicit ratio wins
    assert JobReference.objects.get().size_bytes == len(png)


@pytest.mark.parametrize(("payload", "status", "code"), [
    (b"this is not an image at all", 400, "invalid_image"),
    (encoded("GIF"), 400, "unsupported_image_type"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", 400, "unsupported_image_type"),
    (bomb_png(50_000, 50_000), 413, "image_too_large"),  # past Pillow's own bomb guard
    (bomb_png(7_000, 7_000), 413, "image_too_large"),  # past our pixel cap
    (encoded("PNG")[:200], 400, "invalid_image"),  # truncated
])
def test_bad_uploads_are_refused_and_leave_nothing_behind(
        owner, django_capture_on_commit_callbacks, payload, status, code, settings):
    entries = LedgerEntry.objects.count()
    upload = io.BytesIO(payload)
    upload.name = "x.png"

    response = post_multipart(owner, django_capture_on_commit_callbacks, [upload], model=PRO,
                              prompt="x")

    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, "reference_images[0]")
    assert GenerationJob.objects.count() == JobReference.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert LedgerEntry.objects.count() == entries


def test_oversize_upload_is_413(owner, django_capture_on_commit_callbacks, settings):
    settings.MAX_IMAGE_UPLOAD_BYTES = 10_000
    upload = io.BytesIO(encoded("PNG", (400, 400)) + b"\x00" * 20_000)
    upload.name = "big.png"
    response = post_multipart(owner, django_capture_on_commit_callbacks, [upload], model=PRO,
                              prompt="x")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"


def test_more_references_than_the_model_takes(owner, django_capture_on_commit_callbacks):
    files = []
    for index in range(4):  # Flash takes 3
        files.append(io.BytesIO(encoded("PNG", (64, 64))))
        files[-1].name = f"{index}.png"
    response = post_multipart(owner, django_capture_on_commit_callbacks, files, model=FLASH,
                              prompt="x")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_images"
    assert GenerationJob.objects.count() == 0


@pytest.mark.parametrize(("output_format", "dpi", "pil_format", "mime_type"), [
    ("jpeg", None, "JPEG", "image/jpeg"),
    ("webp", None, "WEBP", "image/webp"),
    ("tiff", 600, "TIFF", "image/tiff"),
])
def test_output_format_is_converted_when_stored(owner, submit, run_queued_jobs, client,
                                                output_format, dpi, pil_format, mime_type):
    payload = {"output_format": output_format}
    if dpi:
        payload["output_dpi"] = dpi
    job = submit(owner, model=FLASH, prompt="print me", aspect_ratio="3:2", **payload).json()
    run_queued_jobs()

    [image] = owner.api.get(f"/api/v1/generations/{job['id']}").json()["images"]
    assert image["mime_type"] == mime_type
    decoded = Image.open(io.BytesIO(b"".join(client.get(image["url"]).streaming_content)))
    assert (decoded.format, decoded.size) == (pil_format, (1248, 832))
    if dpi:
        assert tuple(round(value) for value in decoded.info["dpi"]) == (600, 600)


def test_dpi_without_tiff_is_refused(owner, submit):
    response = submit(owner, model=FLASH, prompt="x", output_format="png", output_dpi=300)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "output_dpi"


def test_a_continued_job_sends_the_parents_turns_back_exactly(owner, submit, run_queued_jobs):
    photo = base64.b64encode(encoded("PNG", (1024, 1024))).decode()
    first = submit(owner, model=PRO, prompt="a cat", reference_images=[photo]).json()
    run_queued_jobs()
    # What a real Gemini upstream returns and the worker keeps: parts with thought signatures.
    model_turn = {"role": "model", "parts": [
        {"text": "A cat.", "thoughtSignature": "c2lnLTE="},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="},
         "thoughtSignature": "c2lnLTI="}]}
    GenerationJob.objects.filter(pk=first["id"]).update(model_turn=model_turn)

    second = submit(owner, model=PRO, prompt="add a hat", parent=first["id"]).json()
    run_queued_jobs()
    third = submit(owner, model=PRO, prompt="make it red", parent=second["id"]).json()

    assert second["parent"] == first["id"]
    history = image_request_for(GenerationJob.objects.get(pk=third["id"])).history
    assert [turn.role for turn in history] == ["user", "model", "user", "model"]
    assert history[0].parts == [{"text": "a cat"},
                                {"inlineData": {"mimeType": "image/png", "data": photo}}]
    assert history[1].parts == model_turn["parts"]
    assert history[2].parts == [{"text": "add a hat"}]
    assert history[3].role == "model"  # the local render's own text and image


def test_a_parent_from_another_organization_is_404(owner, outsider, submit, run_queued_jobs):
    job = submit(owner, model=PRO, prompt="secret").json()
    run_queued_jobs()

    response = submit(outsider, model=PRO, prompt="continue it", parent=job["id"])

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "parent_not_found"
    assert GenerationJob.objects.filter(organization=outsider.organization).count() == 0


def test_only_a_succeeded_parent_on_the_same_model_can_be_continued(owner, submit,
                                                                    run_queued_jobs):
    queued = submit(owner, model=PRO, prompt="not yet").json()
    response = submit(owner, model=PRO, prompt="next", parent=queued["id"])
    assert (response.status_code, response.json()["error"]["code"]) == (409,
                                                                        "parent_not_succeeded")
    run_queued_jobs()
    response = submit(owner, model=FLASH, prompt="next", parent=queued["id"])
    assert response.json()["error"]["code"] == "parent_model_mismatch"


def test_a_refused_submit_leaves_no_reference_files(db, django_capture_on_commit_callbacks,
                                                    settings):
    from pathlib import Path

    from tests.conftest import make_tenant

    poor = make_tenant("Shoestring", "poor@shoestring.test", credits="0.01")
    upload = io.BytesIO(encoded("PNG", (256, 256)))
    upload.name = "ref.png"

    response = post_multipart(poor, django_capture_on_commit_callbacks, [upload], model=PRO,
                              prompt="too expensive")

    assert response.status_code == 402
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []
    assert JobReference.objects.count() == 0
