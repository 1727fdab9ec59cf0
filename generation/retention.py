"""Image retention: files older than IMAGE_RETENTION_DAYS are deleted; their rows (and the jobs'
metadata) stay, with an empty `file` meaning "expired". Scheduled daily (dedupe migration 0002)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import GeneratedImage

logger = logging.getLogger(__name__)


def image_is_expired(image: GeneratedImage) -> bool:
    return not image.file


def images_expire(*, now=None, chunk: int = 500) -> int:
    """Delete expired image files and mark their rows; returns how many files were deleted.

    A file shared by dedupe-cached jobs expires with its oldest row (the original). Storage I/O
    happens outside any transaction; marking is one UPDATE per chunk."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.IMAGE_RETENTION_DAYS)
    deleted = 0
    while True:
        names = list(GeneratedImage.objects.filter(created_at__lt=cutoff).exclude(file="")
                     .values_list("file", flat=True).distinct()[:chunk])
        if not names:
            return deleted
        for name in names:
            try:
                default_storage.delete(name)
                deleted += 1
            except OSError:
                logger.exception("could not delete expired image %s", name)
        GeneratedImage.objects.filter(file__in=names).update(file="")


def expire_images() -> int:
    """django-q2 entry point."""
    return images_expire()
