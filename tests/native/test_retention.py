"""Image retention: old files are deleted, jobs keep their metadata, the API says "expired"."""

from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import GeneratedImage
from generation.retention import images_expire
from tests.native.conftest import FLASH


def test_expired_images_are_deleted_and_reported(owner, submit, work, client, settings):
    settings.IMAGE_RETENTION_DAYS = 30
    job = submit(owner, model=FLASH, prompt="old").json()
    work()
    fresh = submit(owner, model=FLASH, prompt="new").json()
    work()
    old_image = GeneratedImage.objects.get(job_id=job["id"])
    signed_url = owner.api.get(f"/api/v1/generations/{job['id']}").json()["images"][0]["url"]
    name = old_image.file.name
    GeneratedImage.objects.filter(pk=old_image.pk).update(
        created_at=timezone.now() - timedelta(days=31))

    assert images_expire() == 1
    assert not default_storage.exists(name)

    detail = owner.api.get(f"/api/v1/generations/{job['id']}").json()
    [image] = detail["images"]
    assert (image["expired"], image["url"]) == (True, None)
    assert (image["width"], image["height"]) == (1024, 1024)
    assert detail["status"] == "succeeded"
    assert client.get(signed_url).status_code == 410
    fresh_image = owner.api.get(f"/api/v1/generations/{fresh['id']}").json()["images"][0]
    assert fresh_image["expired"] is False and fresh_image["url"]
    assert images_expire() == 0
