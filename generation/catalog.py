"""What the upstream models can do: models, size tiers, aspect ratios and output dimensions.

Facts from ../shared/reference/gemini-image-api.md. Every surface validates against this table
and the local renderer paints exactly these sizes, so a local image has the shape a real one would.
"""

import math
from dataclasses import dataclass

PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"

TIERS = ("1K", "2K", "4K")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


@dataclass(frozen=True)
class ModelSpec:
    id: str
    display_name: str
    tiers: tuple[str, ...]
    max_reference_images: int
    supports_grounding: bool
    output_tokens: dict[str, int]


MODELS: dict[str, ModelSpec] = {
    PRO: ModelSpec(
        id=PRO,
        display_name="Nano Banana Pro",
        tiers=("1K", "2K", "4K"),
        max_reference_images=14,
        supports_grounding=True,
        output_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    ),
    FLASH: ModelSpec(
        id=FLASH,
        display_name="Nano Banana",
        tiers=("1K",),
        max_reference_images=3,
        supports_grounding=False,
        output_tokens={"1K": 1290},
    ),
}

# (width, height) per ratio; columns: 2.5 Flash, 3 Pro 1K, 3 Pro 2K, 3 Pro 4K.
_DIMENSIONS = {
    "1:1": ((1024, 1024), (1024, 1024), (2048, 2048), (4096, 4096)),
    "2:3": ((832, 1248), (848, 1264), (1696, 2528), (3392, 5056)),
    "3:2": ((1248, 832), (1264, 848), (2528, 1696), (5056, 3392)),
    "3:4": ((864, 1184), (896, 1200), (1792, 2400), (3584, 4800)),
    "4:3": ((1184, 864), (1200, 896), (2400, 1792), (4800, 3584)),
    "4:5": ((896, 1152), (928, 1152), (1856, 2304), (3712, 4608)),
    "5:4": ((1152, 896), (1152, 928), (2304, 1856), (4608, 3712)),
    "9:16": ((768, 1344), (768, 1376), (1536, 2752), (3072, 5504)),
    "16:9": ((1344, 768), (1376, 768), (2752, 1536), (5504, 3072)),
    "21:9": ((1536, 672), (1584, 672), (3168, 1344), (6336, 2688)),
}


def output_dimensions(model: str, tier: str, aspect_ratio: str) -> tuple[int, int]:
    """The (width, height) the real model returns. Raises KeyError for unknown combinations."""
    spec = MODELS[model]
    if tier not in spec.tiers:
        raise KeyError(f"{model} has no {tier} tier")
    column = 0 if model == FLASH else 1 + TIERS.index(tier)
    return _DIMENSIONS[aspect_ratio][column]


def normalize_tier(value: str | None) -> str:
    """'2k' and '2K' are the same tier on our surfaces; the upstream wants upper case."""
    return (value or "1K").strip().upper()


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The supported ratio closest to width:height (compared on a log scale, so 2:1 and 1:2 are
    as far from 1:1 as each other)."""
    wanted = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda ratio: abs(
        math.log(int(ratio.split(":")[0]) / int(ratio.split(":")[1])) - wanted))


def smallest_tier_covering(model: str, aspect_ratio: str, width: int, height: int) -> str:
    """The smallest tier of `model` whose output is at least width x height; else its largest."""
    tiers = MODELS[model].tiers
    for tier in tiers:
        out_width, out_height = output_dimensions(model, tier, aspect_ratio)
        if out_width >= width and out_height >= height:
            return tier
    return tiers[-1]
