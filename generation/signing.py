"""Signed, expiring download links for images: the link itself is the permission."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

_SALT = "atelier.image-download"


def signed_image_path(image_id) -> tuple[str, datetime]:
    token = signing.dumps({"i": str(image_id)}, salt=_SALT, compress=True)
    expires_at = timezone.now() + timedelta(seconds=settings.SIGNED_URL_TTL_SECONDS)
    return reverse("image-download", kwargs={"token": token}), expires_at


def image_id_from_token(token: str) -> str | None:
    try:
        payload = signing.loads(token, salt=_SALT, max_age=settings.SIGNED_URL_TTL_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    return payload.get("i")


def absolute(request, path: str) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    return settings.PUBLIC_BASE_URL + path
