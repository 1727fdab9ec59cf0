"""The offline renderer: paints a deterministic PNG of exactly the size the real model returns.

Used when no upstream is configured. Its images say "LOCAL RENDER" on their face, and jobs it
serves are flagged `local_render` in every response, so nobody mistakes it for a model output.
"""

import asyncio
import hashlib
import io

from PIL import Image, ImageDraw, ImageFont

from generation.providers.base import ImageRequest, Provider, ProviderImage, ProviderResult


def _palette(digest: bytes) -> list[tuple[int, int, int]]:
    return [tuple(digest[i:i + 3]) for i in range(0, 18, 3)]


def render_png(request: ImageRequest) -> bytes:
    seed_material = "|".join([request.model, request.tier, request.aspect_ratio,
                              str(request.seed), request.prompt])
    digest = hashlib.sha256(seed_material.encode()).digest()
    colors = _palette(digest)
    width, height = request.width, request.height
    image = Image.new("RGB", (width, height), colors[0])
    draw = ImageDraw.Draw(image)
    # A few bands and discs placed by the digest: different prompts look different.
    for i in range(1, 5):
        left = digest[6 + i] * width // 255
        top = digest[12 + i] * height // 255
        radius = max(8, digest[18 + i] * min(width, height) // 512)
        draw.ellipse((left - radius, top - radius, left + radius, top + radius), fill=colors[i])
    band = height // 7
    draw.rectangle((0, height - band, width, height), fill=colors[5])
    font = ImageFont.load_default(size=max(12, band // 3))
    label = f"LOCAL RENDER  {request.model}  {request.tier}  {request.aspect_ratio}  {width}x{height}"
    draw.text((band // 3, height - band + band // 4), label, fill=(255, 255, 255), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class LocalProvider(Provider):
    name = "local"

    async def generate(self, request: ImageRequest) -> ProviderResult:
        data = await asyncio.to_thread(render_png, request)
        return ProviderResult(
            images=[ProviderImage(data=data, mime_type="image/png", width=request.width,
                                  height=request.height)],
            text="Local render: no upstream model is configured.",
            model_version="local-renderer",
            is_local_render=True,
        )
