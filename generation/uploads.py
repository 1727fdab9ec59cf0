"""Turning what a client sent (multipart files, standard or URL-safe base64) into decoded images."""

import base64
import binascii
import re

from django.conf import settings

from config.errors import DomainError
from generation.imaging import DecodedImage, ImageTooLarge, decode_image

_BASE64_ALPHABET = re.compile(r"^[A-Za-z0-9+/_\-=\s]*$")


def decode_upload(upload, *, param: str) -> DecodedImage:
    """A Django UploadedFile; its declared content type and name are ignored."""
    if upload.size is not None and upload.size > settings.MAX_IMAGE_UPLOAD_BYTES:
        raise ImageTooLarge(f"{param} is {upload.size} bytes; the limit is "
                            f"{settings.MAX_IMAGE_UPLOAD_BYTES} bytes per image.", param=param)
    upload.seek(0)
    return decode_image(upload.read(settings.MAX_IMAGE_UPLOAD_BYTES + 1), param=param)


def base64_bytes(text, *, param: str) -> bytes:
    """Standard or URL-safe base64, padded or not (Google's SDK sends URL-safe, unpadded)."""
    if not isinstance(text, str) or not _BASE64_ALPHABET.match(text):
        raise DomainError(f"{param} is not base64.", code="invalid_base64", param=param)
    compact = "".join(text.split()).rstrip("=")
    if len(compact) * 3 // 4 > settings.MAX_IMAGE_UPLOAD_BYTES:
        raise ImageTooLarge(f"{param} is larger than {settings.MAX_IMAGE_UPLOAD_BYTES} bytes.",
                            param=param)
    try:
        return base64.urlsafe_b64decode(compact.replace("+", "-").replace("/", "_")
                                        + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raise DomainError(f"{param} is not valid base64.", code="invalid_base64",
                          param=param) from None


def decode_base64_image(text, *, param: str) -> DecodedImage:
    return decode_image(base64_bytes(text, param=param), param=param)
