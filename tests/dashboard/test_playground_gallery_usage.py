"""Playground (price before submitting, live status), gallery thumbnails and filters, usage."""

import csv
import io

from django.core.files.storage import default_storage
from PIL import Image

from accounts.services import brand_create
from generation.models import GenerationJob
from generation.thumbnails import thumbnail_name
from tests.conftest import make_tenant
from tests.dashboard.conftest import browser_for

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"


def test_price_is_quoted_before_submitting(owner_client):
    quote = owner_client.get("/app/playground/quote", {"model": PRO, "image_size": "2K",
                                                       "aspect_ratio": "16:9"}).json()
    assert quote["price"] == {"micros": 134_000, "usd": "$0.134"}
    assert (quote["width"], quote["height"]) == (2752, 1536)
    assert quote["available"] == "$10.00" and quote["affordable"] is True

    flash_4k = owner_client.get("/app/playground/quote", {"model": FLASH, "image_size": "4K"})
    assert flash_4k.status_code == 400
    assert flash_4k.json()["error"]["code"] == "unsupported_image_size"


def test_playground_submit_runs_and_shows_a_generated_thumbnail(owner, owner_client,
                                                                django_capture_on_commit_callbacks,
                                                                run_queued_jobs, client):
    with django_capture_on_commit_callbacks(execute=True):
        submitted = owner_client.post("/app/playground/submit", {
            "prompt": "a lighthouse at dawn", "model": PRO, "image_size": "4K",
            "aspect_ratio": "1:1"})
    assert submitted.status_code == 202
    job = submitted.json()
    assert (job["status"], job["price"], job["done"]) == ("queued", "$0.24", False)

    assert run_queued_jobs() == 1
    status = owner_client.get(job["status_url"]).json()
    assert status["status"] == "succeeded" and status["done"]
    [image] = status["images"]
    assert (image["width"], image["height"]) == (4096, 4096)

    thumbnail = owner_client.get(image["thumbnail"])
    assert thumbnail["Content-Type"] == "image/webp"
    picture = Image.open(io.BytesIO(thumbnail.content))
    assert (picture.format, picture.size) == ("WEBP", (384, 384))
    assert len(thumbnail.content) < 100_000  # the 4K original is megabytes
    stored = GenerationJob.objects.get(pk=job["id"]).images.get()
    assert default_storage.exists(thumbnail_name(stored))  # cached for the next request

    full = client.get(image["download"])
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).size == (4096, 4096)
    detail = owner_client.get(job["detail_url"]).content.decode()
    assert "a lighthouse at dawn" in detail and "$0.24" in detail and "Download 4096×4096" in detail


def test_viewers_cannot_submit_and_outsiders_cannot_follow_a_job(owner, owner_client,
                                                                 viewer_client, outsider_client):
    job_id = owner_client.post("/app/playground/submit", {"prompt": "x", "model": PRO}).json()["id"]
    viewer = viewer_client.post("/app/playground/submit", {"prompt": "x", "model": PRO})
    assert viewer.status_code == 403
    assert viewer_client.get("/app/playground/").status_code == 403
    assert viewer_client.get(f"/app/jobs/{job_id}/status").status_code == 200  # read-only
    assert outsider_client.get(f"/app/jobs/{job_id}/status").status_code == 404
    assert outsider_client.get(f"/app/jobs/{job_id}/").status_code == 404
    assert GenerationJob.objects.filter(organization=owner.organization).count() == 1


def test_insufficient_credits_are_reported_in_the_playground(db):
    poor = make_tenant("Poor Studio", "poor@example.test", credits="0.1")
    refused = browser_for(poor.user).post("/app/playground/submit", {"prompt": "x", "model": PRO,
                                                              "image_size": "4K"})
    assert refused.status_code == 402
    assert refused.json()["error"]["message"].startswith("Insufficient credits")


def test_gallery_filters_by_brand_and_status_and_paginates(owner, owner_client, submit,
                                                          run_queued_jobs):
    soda = brand_create(organization=owner.organization, name="Acme Soda")
    submit(owner, prompt="soda can", brand=str(soda.pk))
    run_queued_jobs()
    for n in range(25):
        submit(owner, prompt=f"queued thing {n}", model=FLASH)

    by_brand = owner_client.get("/app/gallery/", {"brand": str(soda.pk)}).content.decode()
    assert "soda can" in by_brand and "queued thing" not in by_brand
    succeeded = owner_client.get("/app/gallery/", {"status": "succeeded"}).content.decode()
    assert "soda can" in succeeded and "queued thing" not in succeeded
    first = owner_client.get("/app/gallery/").content.decode()
    assert "Page 1 of 2" in first and "queued thing 24" in first and "soda can" not in first
    assert "soda can" in owner_client.get("/app/gallery/", {"page": 2}).content.decode()
    future = owner_client.get("/app/gallery/", {"since": "2999-01-01"}).content.decode()
    assert "No images match" in future


def test_usage_charts_and_csv_count_charged_jobs_only(owner, owner_client, outsider_client,
                                                      submit, run_queued_jobs):
    soda = brand_create(organization=owner.organization, name="Acme Soda")
    submit(owner, prompt="a", image_size="2K", brand=str(soda.pk))
    submit(owner, prompt="b", model=FLASH)
    run_queued_jobs()
    submit(owner, prompt="still queued")  # reserved, not charged

    page = owner_client.get("/app/usage/").content.decode()
    assert "Acme Soda" in page and "Nano Banana Pro" in page and "2K" in page
    assert "<svg" in page and "$0.173" in page  # 0.134 + 0.039

    export = owner_client.get("/app/usage.csv", {"days": 7})
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert sorted(row["charged_micro_usd"] for row in rows) == ["134000", "39000"]
    assert {row["brand"] for row in rows} == {"Acme Soda", ""}  # the API call named no brand

    outsider_rows = list(csv.DictReader(io.StringIO(
        outsider_client.get("/app/usage.csv").content.decode())))
    assert outsider_rows == []
