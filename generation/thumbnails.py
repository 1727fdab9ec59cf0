"""Gallery thumbnails: made once with Pillow on first request, then kept in storage beside the
original. A 4K original is ~20 MB of PNG; the gallery must never send that to show a tile."""

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

THUMBNAIL_EDGE = 384
THUMBNAIL_MIME = "image/webp"


def thumbnail_name(image) -> str:
    return f"thumbs/{image.job.organization_id}/{image.job_id}/{image.index}-{THUMBNAIL_EDGE}.webp"


def render_thumbnail(data: bytes, edge: int = THUMBNAIL_EDGE) -> bytes:
    with Image.open(io.BytesIO(data)) as picture:
        picture.draft("RGB", (edge, edge))  # JPEG decodes at reduced scale: much less work
        picture = picture.convert("RGB")
        picture.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        picture.save(buffer, format="WEBP", quality=80, method=4)
    return buffer.getvalue()


def thumbnail_bytes(image) -> bytes:
    """The cached thumbnail of `image`, made and stored on first call."""
    name = thumbnail_name(image)
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as cached:
            return cached.read()
    with image.file.open("rb") as original:
        data = render_thumbnail(original.read())
    if not default_storage.exists(name):  # a concurrent request may have stored it meanwhile
        default_storage.save(name, ContentFile(data))
    return data
