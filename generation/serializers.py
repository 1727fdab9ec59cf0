from rest_framework import serializers

from billing.money import money
from generation import catalog
from generation.moderation.selectors import moderation_data
from generation.signing import absolute, signed_image_path


class GenerationCreateSerializer(serializers.Serializer):
    model = serializers.CharField(default=catalog.PRO)
    prompt = serializers.CharField(trim_whitespace=True)
    image_size = serializers.CharField(required=False, allow_null=True)
    aspect_ratio = serializers.CharField(required=False, allow_null=True)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0,
                                    max_value=2**31 - 1)
    grounding = serializers.BooleanField(default=False)
    brand = serializers.UUIDField(required=False, allow_null=True)
    # Multi-turn editing, reference images (multipart files or base64 strings) and output format.
    parent = serializers.UUIDField(required=False, allow_null=True)
    # Each item: base64 image data, {"asset": id} or {"url": "https://..."} (generation.assets).
    reference_images = serializers.ListField(child=serializers.JSONField(), required=False,
                                             default=list)
    output_format = serializers.CharField(required=False, allow_null=True)
    output_dpi = serializers.IntegerField(required=False, allow_null=True)
    # Brand assets (generation/assets/options.py).
    character = serializers.UUIDField(required=False, allow_null=True)
    style_preset = serializers.UUIDField(required=False, allow_null=True)
    negative_prompt = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def image_data(image, request) -> dict:
    if not image.file:  # deleted by the retention task (generation/retention.py)
        url, url_expires_at = None, None
    else:
        path, expires_at = signed_image_path(image.id)
        url, url_expires_at = absolute(request, path), expires_at.isoformat()
    return {
        "id": str(image.id),
        "url": url,
        "url_expires_at": url_expires_at,
        "expired": not image.file,
        "mime_type": image.mime_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
    }


def job_data(job, request) -> dict:
    """The native representation of a generation job."""
    return {
        "id": str(job.id),
        "object": "generation",
        "status": job.status,
        "model": job.model,
        "prompt": job.prompt,
        "image_size": job.tier,
        "aspect_ratio": job.aspect_ratio,
        "width": job.width,
        "height": job.height,
        "seed": job.seed,
        "grounding": job.grounding,
        "brand": str(job.brand_id) if job.brand_id else None,
        "parent": str(job.parent_id) if job.parent_id else None,
        "output_format": job.params.get("output_format"),
        "price": money(job.price),
        "price_breakdown": job.price_breakdown,
        "attempts": job.attempts,
        "local_render": job.is_local_render,
        "text": job.text or None,
        "cached": bool(job.params.get("cached_from")),
        "cached_from": job.params.get("cached_from"),
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "moderation": moderation_data(job),
        "images": [image_data(image, request) for image in job.images.all()],
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
