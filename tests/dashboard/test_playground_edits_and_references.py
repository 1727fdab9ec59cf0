"""The playground's reference-image upload and "Edit this image" (a job continuing a succeeded
job's conversation), through the same job_submit as the API."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.models import GenerationJob

FLASH = "gemini-2.5-flash-image"


def png(name="ref.png", size=(64, 48)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def generate(django_capture_on_commit_callbacks):
    """Submit from the playground as `client`, running the on-commit enqueue like a real request."""

    def _generate(client, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/app/playground/submit", {"model": FLASH, "image_size": "1K",
                                                          "aspect_ratio": "1:1", **fields})

    return _generate


def test_reference_images_are_uploaded_priced_and_kept(owner_client, run_queued_jobs, generate):
    plain = owner_client.get("/app/playground/quote", {"model": FLASH, "image_size": "1K"}).json()
    with_two = owner_client.get("/app/playground/quote", {"model": FLASH, "image_size": "1K",
                                                         "references": "2"}).json()
    assert with_two["price"]["micros"] > plain["price"]["micros"]

    response = generate(owner_client, prompt="this can, on a beach",
                        reference_images=[png("a.png"), png("b.png", (32, 32))])

    assert response.status_code == 202, response.json()
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.references.count() == 2 and job.price == with_two["price"]["micros"]
    run_queued_jobs()
    page = owner_client.get(f"/app/jobs/{job.pk}/").content.decode()
    assert "Reference images</dt><dd>2" in page


def test_a_file_that_is_not_an_image_is_refused(owner_client, generate):
    junk = SimpleUploadedFile("notes.png", b"not an image at all", content_type="image/png")
    response = generate(owner_client, prompt="x", reference_images=[junk])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "reference_images[0]"
    assert not GenerationJob.objects.exists()


def test_edit_this_image_continues_the_conversation(owner_client, run_queued_jobs, generate):
    first = generate(owner_client, prompt="a lighthouse at dawn").json()
    run_queued_jobs()
    detail = owner_client.get(f"/app/jobs/{first['id']}/").content.decode()
    assert f"/app/playground/?parent={first['id']}" in detail
    playground = owner_client.get(f"/app/playground/?parent={first['id']}").content.decode()
    assert "Editing this image." in playground and f'value="{first["id"]}"' in playground

    edit = generate(owner_client, prompt="now at night, with stars", parent=first["id"])

    assert edit.status_code == 202, edit.json()
    assert edit.json()["parent"] == first["id"]
    run_queued_jobs()
    child = GenerationJob.objects.get(pk=edit.json()["id"])
    assert child.parent_id is not None and str(child.parent_id) == first["id"]
    assert child.status == "succeeded"
    assert "the previous image" in owner_client.get(f"/app/jobs/{child.pk}/").content.decode()


def test_only_a_succeeded_own_job_on_the_same_model_can_be_continued(
        owner_client, outsider_client, viewer_client, run_queued_jobs, generate):
    with_no_worker = owner_client.post("/app/playground/submit", {"model": FLASH,
                                                                  "prompt": "still queued"})
    queued = with_no_worker.json()  # its enqueue never ran: it stays queued
    refused = generate(owner_client, prompt="edit", parent=queued["id"])
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "parent_not_succeeded"
    done = generate(owner_client, prompt="a lighthouse").json()
    run_queued_jobs()
    other_model = generate(owner_client, prompt="edit", parent=done["id"],
                           model="gemini-3-pro-image-preview")
    assert other_model.json()["error"]["code"] == "parent_model_mismatch"

    foreign = generate(outsider_client, prompt="steal", parent=done["id"])
    assert foreign.status_code == 404
    assert outsider_client.get(f"/app/playground/?parent={done['id']}").status_code == 404
    assert generate(viewer_client, prompt="edit", parent=done["id"]).status_code == 403
    assert generate(owner_client, prompt="edit", parent="not-a-uuid").status_code == 404


def test_the_playground_opens_without_and_with_a_bad_parent(owner_client):
    assert owner_client.get("/app/playground/").status_code == 200
    page = owner_client.get("/app/playground/?parent=nonsense")
    assert page.status_code == 200
    assert 'data-testid="editing" hidden' in page.content.decode()  # not in edit mode
