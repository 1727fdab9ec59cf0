"""Images we receive and images we hand out, through Pillow.

Received images (references, masks) are decoded for real: the type is sniffed from the bytes, never
taken from a header or a file name, and the pixel count is checked before the pixels are loaded, so
a decompression bomb is refused without ever being expanded. Output images are converted to the
format the customer asked for when they are stored.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from config.errors import DomainError

# Types the upstream accepts and Pillow decodes here. HEIC/HEIF are accepted upstream too, but
# Pillow cannot decode them without a plugin we do not ship, so they are refused with a clear error.
_ACCEPTED = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")

OUTPUT_FORMATS = ("png", "jpeg", "webp", "tiff")
OUTPUT_MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp",
                     "tiff": "image/tiff"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/tiff": "tif"}


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    mime_type: str
    width: int
    height: int


class ImageTooLarge(DomainError):
    status_code = 413
    code = "image_too_large"


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def decode_image(data: bytes, *, param: str = "image") -> DecodedImage:
    """Validate an uploaded image and report what it really is. Raises DomainError (413 for size)."""
    if len(data) > settings.MAX_IMAGE_UPLOAD_BYTES:
        raise ImageTooLarge(f"{param} is {len(data)} bytes; the limit is "
                            f"{settings.MAX_IMAGE_UPLOAD_BYTES} bytes per image.", param=param)
    if not data:
        raise DomainError(f"{param} is empty.", code="invalid_image", param=param)
    if _looks_like_heif(data):
        raise DomainError(f"{param} is HEIC/HEIF (or AVIF), which this service cannot decode; "
                          "send PNG, JPEG or WebP.", code="unsupported_image_type", param=param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
                if kind not in _ACCEPTED:
                    raise DomainError(f"{param} is {kind or 'an unknown type'}; send PNG, JPEG or "
                                      "WebP.", code="unsupported_image_type", param=param)
                if width * height > settings.MAX_IMAGE_PIXELS:
                    raise ImageTooLarge(f"{param} is {width}x{height} pixels; the limit is "
                                        f"{settings.MAX_IMAGE_PIXELS} pixels.", param=param)
                image.load()  # decodes every pixel: truncated or corrupt data fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(f"{param} expands to too many pixels.", param=param) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError(f"{param} is not a readable PNG, JPEG or WebP image.",
                          code="invalid_image", param=param) from None
    return DecodedImage(data=data, mime_type=_ACCEPTED[kind], width=width, height=height)


def validate_output_format(output_format: str | None, dpi: int | None) -> tuple[str | None, int | None]:
    """Normalize (format, dpi). None means: keep what the model returned."""
    if output_format in (None, ""):
        if dpi is not None:
            raise DomainError("output_dpi needs output_format 'tiff'.", code="invalid_field",
                              param="output_dpi")
        return None, None
    fmt = output_format.strip().lower()
    fmt = {"jpg": "jpeg", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in OUTPUT_FORMATS:
        raise DomainError(f"Unsupported output_format '{output_format}'. "
                          f"Supported: {', '.join(OUTPUT_FORMATS)}.",
                          code="unsupported_output_format", param="output_format")
    if dpi is not None:
        if fmt != "tiff":
            raise DomainError("output_dpi applies to output_format 'tiff' only.",
                              code="invalid_field", param="output_dpi")
        if not 72 <= dpi <= 1200:
            raise DomainError("output_dpi must be between 72 and 1200.", code="invalid_field",
                              param="output_dpi")
    return fmt, (dpi or 300) if fmt == "tiff" else None


def convert_image(data: bytes, *, output_format: str, dpi: int | None = None,
                  quality: int | None = None) -> tuple[bytes, str]:
    """(bytes, mime type) of `data` re-encoded as `output_format`; same pixels, same size."""
    mime_type = OUTPUT_MIME_TYPES[output_format]
    with Image.open(io.BytesIO(data)) as image:
        if image.format and image.format.lower() == output_format and dpi is None \
                and quality is None:
            return data, mime_type
        image.load()
        if output_format == "jpeg" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")  # JPEG has no alpha channel
        options = {}
        if output_format in ("jpeg", "webp"):
            options["quality"] = quality if quality is not None else 90
        if output_format == "tiff":
            options.update(compression="tiff_lzw", dpi=(dpi or 300, dpi or 300))
        buffer = io.BytesIO()
        image.save(buffer, format=output_format.upper(), **options)
    return buffer.getvalue(), mime_type
