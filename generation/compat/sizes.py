"""OpenAI's `size` onto our aspect ratios and tiers."""

import re

from config.errors import DomainError
from generation import catalog

_WXH = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


def map_openai_size(size: str | None, *, model: str, aspect_ratio: str | None = None,
                    image_size: str | None = None, first_image=None) -> tuple[str | None, str | None]:
    """(tier, aspect_ratio) for an OpenAI `size`; None leaves the service default (1K, 1:1 or the
    input image's ratio). The extra fields `aspect_ratio` and `image_size` win over `size`."""
    tier = ratio = None
    value = (size or "auto").strip()
    if value.lower() == "auto":
        pass
    elif value.upper() in catalog.TIERS:
        tier = value.upper()
    elif (match := _WXH.match(value)) and model in catalog.MODELS:
        width, height = int(match[1]), int(match[2])
        ratio = catalog.nearest_aspect_ratio(width, height)
        tier = catalog.smallest_tier_covering(model, ratio, width, height)
    elif not _WXH.match(value):
        raise DomainError(f"Unsupported size '{size}': use WIDTHxHEIGHT, auto, 1K, 2K or 4K.",
                          code="invalid_size", param="size")
    if aspect_ratio:
        ratio = aspect_ratio
    elif ratio is None and first_image is not None:
        ratio = catalog.nearest_aspect_ratio(first_image.width, first_image.height)
    return (image_size or tier), ratio
