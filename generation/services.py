"""Writes for generation: submit (validate, quote, reserve, enqueue) and run (claim, call, settle)."""

import hashlib
import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
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
from generation.moderation.services import prefilter_check
from generation.providers.base import ImageRequest, ProviderResult

logger = logging.getLogger(__name__)

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


def claim_due_jobs(*, limit: int) -> list[GenerationJob]:
    """queued (and due) → running, attempt + 1, for up to `limit` jobs.

    `SKIP LOCKED` lets many workers claim side by side without waiting on or double-taking a
    row; the conditional UPDATE is the guarantee (exactly one claimant per attempt). The new
    `attempts` value is the claim's fencing token: settlement only lands for that attempt.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(GenerationJob.objects.select_for_update(skip_locked=True)
                   .filter(status=JobStatus.QUEUED)
                   .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                   .order_by("created_at").values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        GenerationJob.objects.filter(pk__in=ids, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now,
            next_attempt_at=None,
            deadline_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS))
    return list(GenerationJob.objects.select_related("reservation", "brand", "api_key")
                .filter(pk__in=ids, status=JobStatus.RUNNING, started_at=now))


def seconds_until_next_due(*, now=None) -> float | None:
    """How long until the next queued job may be claimed; None when nothing is queued."""
    now = now or timezone.now()
    queued = GenerationJob.objects.filter(status=JobStatus.QUEUED)
    if queued.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)).exists():
        return 0.0
    upcoming = queued.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return None if upcoming is None else (upcoming - now).total_seconds()


def provider_for(model: str):
    """A provider for `model` outside the worker path (no lease taken): the first enabled
    channel that serves it, else the local renderer."""
    from generation.channels import provider_for_channel
    from generation.models import Channel

    channel = next((c for c in Channel.objects.filter(enabled=True) if c.serves(model)), None)
    return provider_for_channel(channel)


def image_request_for(job: GenerationJob) -> ImageRequest:
    return ImageRequest(model=job.model, prompt=job.prompt, tier=job.tier,
                        aspect_ratio=job.aspect_ratio, width=job.width, height=job.height,
                        seed=job.seed, grounding=job.grounding)


def job_run(*, job_id=None) -> None:
    """Worker entry: run due jobs (this one among them) concurrently until none is left.

    Safe to call any number of times: jobs are claimed, never assumed. See generation.dispatch.
    """
    from generation.dispatch import dispatch_due_jobs

    dispatch_due_jobs()


def job_requeue(*, job: GenerationJob, delay: float, code: str, message: str,
                consume_attempt: bool = True) -> bool:
    """running → queued, claimable again after `delay` seconds. No worker sleeps meanwhile."""
    updates = {"status": JobStatus.QUEUED, "error_code": code, "error_message": message[:2000],
               "next_attempt_at": timezone.now() + timedelta(seconds=max(0.0, delay))}
    if not consume_attempt:
        updates["attempts"] = F("attempts") - 1  # we never reached an upstream
    return GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING,
                                        attempts=job.attempts).update(**updates) == 1


def job_sweep(*, now=None) -> dict:
    """Jobs stuck in `running` past their deadline (their worker died or hung): requeue while
    attempts remain, else fail and release. Then wake a worker if due jobs wait."""
    from generation.channels import channel_leases_prune

    now = now or timezone.now()
    requeued = failed = 0
    stuck = GenerationJob.objects.select_related("reservation").filter(
        status=JobStatus.RUNNING, deadline_at__lt=now)
    for job in stuck:
        if job.attempts < settings.JOB_MAX_ATTEMPTS:
            requeued += GenerationJob.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts,
                deadline_at__lt=now).update(
                status=JobStatus.QUEUED, next_attempt_at=None, error_code="deadline_exceeded",
                error_message="The worker running this job stopped; it was queued again.")
        else:
            failed += _settle_failure(job, JobStatus.FAILED, "deadline_exceeded",
                                      "The job did not finish before its deadline.")
    due = seconds_until_next_due(now=now)
    if due is not None and due <= 0:
        transaction.on_commit(job_enqueue_dispatch)
    channel_leases_prune()
    if requeued or failed:
        logger.warning("sweeper: %d stuck jobs requeued, %d failed", requeued, failed)
    return {"requeued": requeued, "failed": failed}


def job_enqueue_dispatch() -> None:
    from django_q.tasks import async_task

    async_task("generation.tasks.dispatch_jobs", task_name="dispatch")


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
                    latency_ms: int, channel_name: str = "") -> bool:
    """The one place a job succeeds: files first, then status + capture in one transaction."""
    images = _store_images(job, result)  # file writes happen before the transaction
    try:
        with transaction.atomic():
            # `attempts=job.attempts` fences out a stale worker whose attempt was swept.
            finished = GenerationJob.objects.filter(
                pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
                status=JobStatus.SUCCEEDED, finished_at=timezone.now(), provider=provider_name,
                channel=channel_name, is_local_render=result.is_local_render,
                model_version=result.model_version, text=result.text, usage=result.usage,
                upstream_latency_ms=latency_ms, error_code="", error_message="")
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
        return False
    # After the capture committed: may queue one auto-recharge top-up (database only, cheap).
    auto_recharge_check(organization_id=job.organization_id)
    return True


class _Superseded(Exception):
    pass


def _settle_failure(job: GenerationJob, status: str, code: str, message: str,
                    channel_name: str = "") -> bool:
    """The one place a job fails or is blocked: status + release in one transaction."""
    with transaction.atomic():
        ended = GenerationJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=status, finished_at=timezone.now(), error_code=code,
            error_message=message[:2000], **({"channel": channel_name} if channel_name else {}))
        if ended:
            reservation_release(reservation=job.reservation)
            job_settled_announce(job_id=job.pk)
    return bool(ended)


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
