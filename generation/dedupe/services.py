"""The dedupe cache: an opted-in organization (or brand) asking again for exactly what it got a
moment ago is served the earlier images at the cache price (free by default), as a new job that
says where it came from. It still is a job with a reservation that ends exactly once."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.tenancy import Tenant
from billing.reference import PRICES, terms_stamp
from billing.services import reservation_capture, reservation_open
from config import refcache
from generation.dedupe.models import DedupePolicy
from generation.dedupe.reference import dedupe_policies_of, policies_stamp
from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.moderation.reference import PREFILTER
from generation.services import _brand_for, job_submit, validate_generation


def references_fingerprint(request: dict) -> str | None:
    """Hook for reference images: a hash of their bytes (order kept) once requests carry them.
    Jobs with references store it as params["references_hash"]; None means no references."""
    return request.get("references_hash")


def dedupe_policy_for(*, organization, brand) -> DedupePolicy | None:
    if refcache.enabled():
        policies = dedupe_policies_of(organization_id=organization.pk)
    else:
        policies = {policy.brand_id: policy for policy in DedupePolicy.objects.filter(
            Q(brand__isnull=True) | Q(brand=brand), organization=organization)}
    policy = policies.get(brand.pk if brand else None) or policies.get(None)
    return policy if policy is not None and policy.enabled else None


def dedupe_policy_set(*, organization, brand=None, enabled: bool = True,
                      window_seconds: int | None = None,
                      cache_price: int | None = None) -> DedupePolicy:
    policy, _ = DedupePolicy.objects.update_or_create(
        organization=organization, brand=brand,
        defaults={"enabled": enabled, "window_seconds": window_seconds,
                  "cache_price": cache_price})
    return policy


def dedupe_source_for(*, organization, brand, model: str, prompt: str, tier: str,
                      aspect_ratio: str, seed: int | None, grounding: bool,
                      references_hash: str | None, window_seconds: int) -> GenerationJob | None:
    """The newest succeeded job of the same normalized request within the window whose images
    have not expired."""
    jobs = GenerationJob.objects.filter(
        organization=organization, brand=brand, status=JobStatus.SUCCEEDED, model=model,
        prompt=prompt, tier=tier, aspect_ratio=aspect_ratio, seed=seed, grounding=grounding,
        finished_at__gte=timezone.now() - timedelta(seconds=window_seconds),
        images__isnull=False,
    ).exclude(images__file="")
    if references_hash is None:
        jobs = jobs.exclude(params__has_key="references_hash")
    else:
        jobs = jobs.filter(params__references_hash=references_hash)
    return jobs.order_by("-finished_at").distinct().first()


def job_submit_or_reuse(*, tenant: Tenant, model: str, prompt: str, image_size: str | None = None,
                        aspect_ratio: str | None = None, seed: int | None = None,
                        grounding: bool = False, brand_id=None, reference_images=(),
                        parent_id=None, output_format=None, output_dpi=None) -> GenerationJob:
    """`job_submit`, unless the dedupe cache can serve this request.

    Only plain text-to-image requests in the default format are served from the cache: an edit
    (reference images, a parent conversation) or another output format always runs."""
    request = {"model": model, "prompt": prompt, "image_size": image_size,
               "aspect_ratio": aspect_ratio, "seed": seed, "grounding": grounding,
               "brand_id": brand_id}
    if reference_images or parent_id or output_format or output_dpi:
        return job_submit(tenant=tenant, **request, reference_images=reference_images,
                          parent_id=parent_id, output_format=output_format,
                          output_dpi=output_dpi)
    tier, ratio, _ = validate_generation(model=model, prompt=prompt, image_size=image_size,
                                         aspect_ratio=aspect_ratio, grounding=grounding)
    # Every version stamp of the submit in one cache round trip (job_submit reuses them).
    organization_id = tenant.organization.pk
    with refcache.snapshot(policies_stamp(organization_id), PREFILTER, PRICES,
                           terms_stamp(organization_id)):
        return _job_submit_or_reuse(tenant=tenant, request=request, brand_id=brand_id,
                                    tier=tier, ratio=ratio)


def _job_submit_or_reuse(*, tenant: Tenant, request: dict, brand_id, tier: str,
                         ratio: str) -> GenerationJob:
    model, prompt, seed, grounding = (request["model"], request["prompt"], request["seed"],
                                      request["grounding"])
    brand = _brand_for(tenant, brand_id)
    policy = dedupe_policy_for(organization=tenant.organization, brand=brand)
    if policy is not None:
        source = dedupe_source_for(
            organization=tenant.organization, brand=brand, model=model, prompt=prompt, tier=tier,
            aspect_ratio=ratio, seed=seed, grounding=grounding,
            references_hash=references_fingerprint(request),
            window_seconds=policy.window_seconds or settings.DEDUPE_DEFAULT_WINDOW_SECONDS)
        if source is not None:
            price = settings.DEDUPE_CACHE_PRICE_MICROS if policy.cache_price is None \
                else policy.cache_price
            return job_from_cache(tenant=tenant, source=source, price=price)
    return job_submit(tenant=tenant, **request)


def job_from_cache(*, tenant: Tenant, source: GenerationJob, price: int) -> GenerationJob:
    """A succeeded job whose images are the source's files (shared, not copied)."""
    from generation.services import job_settled_announce

    now = timezone.now()
    with transaction.atomic():
        job = GenerationJob(
            organization=tenant.organization, brand=source.brand, api_key=tenant.api_key,
            created_by=tenant.user, model=source.model, prompt=source.prompt, tier=source.tier,
            aspect_ratio=source.aspect_ratio, width=source.width, height=source.height,
            seed=source.seed, grounding=source.grounding,
            params={**source.params, "cached_from": str(source.pk)},
            price=price, price_list_id=source.price_list_id, google_cost=0,
            price_breakdown=[{"item": "dedupe_cache", "quantity": 1, "unit_price": price,
                              "amount": price}],
            status=JobStatus.SUCCEEDED, provider="cache", channel=source.channel,
            is_local_render=source.is_local_render, model_version=source.model_version,
            text=source.text, started_at=now, finished_at=now)
        job.reservation = reservation_open(
            organization=tenant.organization, amount=price, reference=f"job:{job.id}",
            expires_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS))
        job.save(force_insert=True)
        GeneratedImage.objects.bulk_create([
            GeneratedImage(job=job, index=image.index, file=image.file.name,
                           mime_type=image.mime_type, width=image.width, height=image.height,
                           size_bytes=image.size_bytes, sha256=image.sha256)
            for image in source.images.all()])
        reservation_capture(reservation=job.reservation, brand=job.brand, api_key=job.api_key,
                            memo=f"dedupe cache of {source.pk}")
        job_settled_announce(job_id=job.pk)
    return job
