"""Writes for generation: submit (validate, quote, reserve, enqueue) and run (claim, call, settle)."""

import asyncio
import hashlib
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Brand
from accounts.tenancy import Tenant
from billing.payments.services import auto_recharge_check
from billing.services import (
    quote_generation,
    reservation_capture,
    reservation_open,
    reservation_release,
)
from config.errors import DomainError, NotFound
from generation import catalog
from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.moderation.services import job_settle_blocked, prefilter_check
from generation.providers.base import ImageRequest, ProviderError, ProviderResult, SafetyBlocked

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_RETRY_WAIT_SECONDS = 60.0
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def validate_generation(*, model: str, prompt: str, image_size: str | None,
                        aspect_ratio: str | None) -> tuple[str, str, tuple[int, int]]:
    """(tier, aspect_ratio, (width, height)) for a request, or a DomainError naming the field."""
    if model not in catalog.MODELS:
        raise DomainError(f"Unknown model '{model}'. Available: {', '.join(catalog.MODELS)}.",
                          code="unknown_model", param="model")
    if not prompt or not prompt.strip():
        raise DomainError("A prompt is required.", code="missing_prompt", param="prompt")
    if len(prompt) > settings.MAX_PROMPT_CHARS:
        raise DomainError(f"The prompt is longer than {settings.MAX_PROMPT_CHARS} characters.",
                          code="prompt_too_long", param="prompt", status_code=413)
    tier = catalog.normalize_tier(image_size)
    spec = catalog.MODELS[model]
    if tier not in spec.tiers:
        raise DomainError(f"{model} supports image_size {', '.join(spec.tiers)}; got '{image_size}'.",
                          code="unsupported_image_size", param="image_size")
    ratio = (aspect_ratio or "1:1").strip()
    if ratio not in catalog.ASPECT_RATIOS:
        raise DomainError(f"Unsupported aspect_ratio '{ratio}'. "
                          f"Supported: {', '.join(catalog.ASPECT_RATIOS)}.",
                          code="unsupported_aspect_ratio", param="aspect_ratio")
    return tier, ratio, catalog.output_dimensions(model, tier, ratio)


def _brand_for(tenant: Tenant, brand_id) -> Brand | None:
    if brand_id is None:
        if tenant.brand is None and tenant.brand_ids is not None:
            if len(tenant.brand_ids) != 1:
                raise DomainError("Choose one of the brands you have access to.",
                                  code="brand_required", param="brand")
            [brand_id] = tenant.brand_ids
        else:
            return tenant.brand
    brand = Brand.objects.filter(pk=brand_id, organization=tenant.organization,
                                 archived_at__isnull=True).first()
    if brand is None or not tenant.allows_brand(brand.pk):
        raise NotFound("No such brand.", code="brand_not_found", param="brand")
    return brand


def job_submit(*, tenant: Tenant, model: str, prompt: str, image_size: str | None = None,
               aspect_ratio: str | None = None, seed: int | None = None, grounding: bool = False,
               brand_id=None) -> GenerationJob:
    """Validate, quote, reserve and queue one generation. Nothing is written when any step fails."""
    tier, ratio, (width, height) = validate_generation(
        model=model, prompt=prompt, image_size=image_size, aspect_ratio=aspect_ratio)
    if grounding and not catalog.MODELS[model].supports_grounding:
        raise DomainError(f"{model} does not support search grounding.",
                          code="unsupported_option", param="grounding")
    brand = _brand_for(tenant, brand_id)
    prefilter_check(tenant=tenant, model=model, prompt=prompt, brand=brand,
                    params={"image_size": tier, "aspect_ratio": ratio, "seed": seed,
                            "grounding": grounding})
    quote = quote_generation(model=model, tier=tier, grounding=grounding,
                             organization=tenant.organization)
    with transaction.atomic():
        job = GenerationJob(
            organization=tenant.organization, brand=brand, api_key=tenant.api_key,
            created_by=tenant.user, model=model, prompt=prompt, tier=tier, aspect_ratio=ratio,
            width=width, height=height, seed=seed, grounding=grounding,
            price=quote.total, price_list_id=quote.price_list_id, google_cost=quote.google_cost,
            price_breakdown=[{"item": line.item, "quantity": line.quantity,
                              "unit_price": line.unit_price, "amount": line.amount}
                             for line in quote.lines],
        )
        # Funds and the brand's and key's spend caps are checked under the wallet lock.
        job.reservation = reservation_open(
            organization=tenant.organization, amount=quote.total, reference=f"job:{job.id}",
            expires_at=timezone.now() + timedelta(seconds=settings.JOB_DEADLINE_SECONDS * 3),
            brand=brand, api_key=tenant.api_key)
        job.save(force_insert=True)
        transaction.on_commit(lambda: job_enqueue(job_id=job.id))
    return job


def job_enqueue(*, job_id) -> None:
    from django_q.tasks import async_task

    async_task("generation.tasks.run_job", str(job_id), task_name=f"job:{job_id}")


def _claim(job_id) -> bool:
    """queued → running, attempt + 1. Exactly one worker wins; the others see 0 rows."""
    now = timezone.now()
    return GenerationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now,
        deadline_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS)) == 1


def provider_for(model: str):
    """The upstream that serves `model`: Gemini when a key is configured, else the local renderer."""
    if settings.GEMINI_API_KEY:
        from generation.providers.gemini import GeminiProvider

        return GeminiProvider(api_key=settings.GEMINI_API_KEY, base_url=settings.GEMINI_BASE_URL)
    from generation.providers.local import LocalProvider

    return LocalProvider()


def image_request_for(job: GenerationJob) -> ImageRequest:
    return ImageRequest(model=job.model, prompt=job.prompt, tier=job.tier,
                        aspect_ratio=job.aspect_ratio, width=job.width, height=job.height,
                        seed=job.seed, grounding=job.grounding)


def job_run(*, job_id) -> None:
    """Run one job to a terminal state. Safe to call twice: only the claimant does anything."""
    if not _claim(job_id):
        logger.info("job %s was not queued; nothing to do", job_id)
        return
    job = GenerationJob.objects.select_related("reservation").get(pk=job_id)
    provider = provider_for(job.model)
    request = image_request_for(job)
    attempt = 1
    while True:
        started = time.monotonic()
        try:
            # Network I/O: never inside a transaction.
            result = asyncio.run(provider.generate(request))
        except SafetyBlocked as blocked:
            job_settle_blocked(job=job, blocked=blocked)  # case + charge policy: moderation
            return
        except ProviderError as error:
            if error.retryable and attempt < MAX_ATTEMPTS:
                delay = getattr(error, "retry_after", None) or 2.0 ** attempt
                time.sleep(min(delay, MAX_RETRY_WAIT_SECONDS))
                attempt += 1
                continue
            _settle_failure(job, JobStatus.FAILED, error.code, error.message)
            return
        latency_ms = int((time.monotonic() - started) * 1000)
        _settle_success(job, provider.name, result, latency_ms, attempt)
        return


def _store_images(job: GenerationJob, result: ProviderResult) -> list[GeneratedImage]:
    images = []
    for index, produced in enumerate(result.images):
        image = GeneratedImage(job=job, index=index, mime_type=produced.mime_type,
                               width=produced.width, height=produced.height,
                               size_bytes=len(produced.data),
                               sha256=hashlib.sha256(produced.data).hexdigest())
        extension = _EXTENSIONS.get(produced.mime_type, "bin")
        image.file.save(f"{index}.{extension}", ContentFile(produced.data), save=False)
        images.append(image)
    return images


def _settle_success(job: GenerationJob, provider_name: str, result: ProviderResult,
                    latency_ms: int, attempts: int) -> None:
    images = _store_images(job, result)  # file writes happen before the transaction
    try:
        with transaction.atomic():
            finished = GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.SUCCEEDED, finished_at=timezone.now(), provider=provider_name,
                is_local_render=result.is_local_render, model_version=result.model_version,
                text=result.text, usage=result.usage, upstream_latency_ms=latency_ms,
                attempts=job.attempts + attempts - 1)
            if not finished:
                # Swept or canceled while we worked: it was settled elsewhere; keep nothing.
                raise _Superseded
            GeneratedImage.objects.bulk_create(images)
            reservation_capture(reservation=job.reservation, brand=job.brand, api_key=job.api_key,
                                memo=f"{job.model} {job.tier} {job.aspect_ratio}")
            job_settled_announce(job_id=job.pk)
    except _Superseded:
        for image in images:
            image.file.delete(save=False)
        return
    # After the capture committed: may queue one auto-recharge top-up (database only, cheap).
    auto_recharge_check(organization_id=job.organization_id)


class _Superseded(Exception):
    pass


def _settle_failure(job: GenerationJob, status: str, code: str, message: str) -> None:
    with transaction.atomic():
        ended = GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=status, finished_at=timezone.now(), error_code=code,
            error_message=message[:2000])
        if ended:
            reservation_release(reservation=job.reservation)
            job_settled_announce(job_id=job.pk)


def job_cancel(*, job: GenerationJob) -> bool:
    """Cancel a queued job and return its credits. Running jobs finish (the upstream is paid)."""
    with transaction.atomic():
        canceled = GenerationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.CANCELED, finished_at=timezone.now(), error_code="canceled",
            error_message="Canceled by the customer.")
        if canceled:
            reservation_release(reservation=job.reservation)
            job_settled_announce(job_id=job.pk)
    return bool(canceled)


def job_settled_announce(*, job_id) -> None:
    """What customers see when a job reaches a terminal state: the `generation.<status>` webhook
    and its batch's progress. Runs inside the settling transaction, so both commit with it."""
    from generation.batches.services import batch_job_settled
    from generation.serializers import job_data
    from generation.webhooks.services import webhook_event_emit

    job = (GenerationJob.objects.select_related("organization").prefetch_related("images")
           .get(pk=job_id))
    webhook_event_emit(organization=job.organization, event_type=f"generation.{job.status}",
                       data=job_data(job, None))
    batch_job_settled(job_id=job_id)
