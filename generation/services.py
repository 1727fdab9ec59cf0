"""Writes for generation: submit (validate, quote, reserve, enqueue) and run (claim, call, settle)."""

import base64
import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F, Q, prefetch_related_objects
from django.utils import timezone

from accounts.models import Brand
from accounts.tenancy import Tenant
from billing.money import format_usd
from billing.payments.services import auto_recharge_check
from billing.reference import PRICES, terms_stamp
from billing.selectors import wallet_of
from billing.services import (
    quote_generation,
    reservation_capture,
    reservation_release,
    reservations_open_alike,
)
from config import refcache
from config.compiled import CompiledQuery
from config.errors import Conflict, DomainError, InsufficientCredits, NotFound
from generation import catalog
from generation.imaging import EXTENSIONS, DecodedImage, convert_image, validate_output_format
from generation.models import GeneratedImage, GenerationJob, JobReference, JobStatus
from generation.moderation.reference import PREFILTER
from generation.moderation.services import job_settle_blocked, prefilter_check
from generation.providers.base import (
    ImageRequest,
    ProviderResult,
    ReferenceImage,
    SafetyBlocked,
    Turn,
)
from generation.waiting import job_signal_finished

logger = logging.getLogger(__name__)


def validate_generation(*, model: str, prompt: str, image_size: str | None,
                        aspect_ratio: str | None,
                        grounding: bool = False) -> tuple[str, str, tuple[int, int]]:
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
    if grounding and not catalog.MODELS[model].supports_grounding:
        raise DomainError(f"{model} does not support search grounding.",
                          code="unsupported_option", param="grounding")
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
               brand_id=None, **options) -> GenerationJob:
    """Validate, quote, reserve and queue one generation. Nothing is written when any step fails."""
    return jobs_submit(tenant=tenant, model=model, prompt=prompt, image_size=image_size,
                       aspect_ratio=aspect_ratio, seed=seed, grounding=grounding,
                       brand_id=brand_id, **options)[0]


def jobs_submit(*, tenant: Tenant, model: str, prompt: str, image_size: str | None = None,
                aspect_ratio: str | None = None, seed: int | None = None,
                grounding: bool = False, brand_id=None, count: int = 1,
                reference_images: Sequence[DecodedImage] = (), mask: DecodedImage | None = None,
                parent_id=None, history: Sequence[Turn] = (), output_format: str | None = None,
                output_dpi: int | None = None, output_quality: int | None = None,
                ) -> list[GenerationJob]:
    """`count` identical generations, reserved all together or not at all.

    Reference images (and an edit mask) arrive decoded by `generation.imaging`; `parent_id`
    continues that job's conversation; `history` carries earlier turns a client sent itself.
    """
    if model not in catalog.MODELS:
        validate_generation(model=model, prompt=prompt, image_size=image_size,
                            aspect_ratio=aspect_ratio)  # raises the unknown-model error
    spec = catalog.MODELS[model]
    inputs = [*reference_images, *([mask] if mask is not None else [])]
    if len(inputs) > spec.max_reference_images:
        raise DomainError(f"{model} takes at most {spec.max_reference_images} input images; "
                          f"got {len(inputs)}.", code="too_many_images", param="image")
    if aspect_ratio is None and reference_images:
        # As upstream: without an explicit ratio an edit keeps its (first) input image's shape.
        aspect_ratio = catalog.nearest_aspect_ratio(reference_images[0].width,
                                                    reference_images[0].height)
    tier, ratio, (width, height) = validate_generation(
        model=model, prompt=prompt, image_size=image_size, aspect_ratio=aspect_ratio,
        grounding=grounding)
    output_format, output_dpi = validate_output_format(output_format, output_dpi)
    brand = _brand_for(tenant, brand_id)
    parent = _parent_for(tenant, parent_id, model) if parent_id else None
    # The reference data below (rules, prices, the organization's terms) is memoized per
    # process; its version stamps are read here in one cache round trip.
    with refcache.snapshot(PREFILTER, PRICES, terms_stamp(tenant.organization.pk)):
        return _jobs_submit_checked(
            tenant=tenant, model=model, prompt=prompt, tier=tier, ratio=ratio, width=width,
            height=height, seed=seed, grounding=grounding, brand=brand, parent=parent,
            count=count, inputs=inputs, mask=mask, history=history, output_format=output_format,
            output_dpi=output_dpi, output_quality=output_quality)


def _jobs_submit_checked(*, tenant: Tenant, model: str, prompt: str, tier: str, ratio: str,
                         width: int, height: int, seed, grounding: bool, brand, parent,
                         count: int, inputs: list[DecodedImage], mask, history,
                         output_format, output_dpi, output_quality) -> list[GenerationJob]:
    prefilter_check(tenant=tenant, model=model, prompt=prompt, brand=brand,
                    params={"image_size": tier, "aspect_ratio": ratio, "seed": seed,
                            "grounding": grounding})
    quote = quote_generation(model=model, tier=tier, grounding=grounding,
                             reference_images=len(inputs), organization=tenant.organization)
    params = {key: value for key, value in (("output_format", output_format),
                                            ("output_dpi", output_dpi),
                                            ("output_quality", output_quality)) if value}
    jobs = [GenerationJob(
        organization=tenant.organization, brand=brand, api_key=tenant.api_key,
        created_by=tenant.user, model=model, prompt=prompt, tier=tier, aspect_ratio=ratio,
        width=width, height=height, seed=seed, grounding=grounding, params=params, parent=parent,
        history=[{"role": turn.role, "parts": turn.parts} for turn in history],
        price=quote.total, price_list_id=quote.price_list_id, google_cost=quote.google_cost,
        price_breakdown=[{"item": line.item, "quantity": line.quantity,
                          "unit_price": line.unit_price, "amount": line.amount}
                         for line in quote.lines],
        reservation_id=uuid.uuid4(), has_references=bool(inputs),
    ) for _ in range(count)]
    if inputs:
        # A fast refusal before files are written. Without files there is nothing to spare:
        # the holds below refuse insufficient funds with the same 402 and the same message.
        _check_affordable(tenant, quote.total * count)
    # Files first (object storage is network I/O, never inside a transaction); removed on failure.
    references: list[JobReference] = []
    try:
        for job in jobs:
            for index, image in enumerate(inputs):
                references.append(_reference_file(job, index, image, is_mask=image is mask))
        # The holds first, each request's in one statement committed on its own: the wallet
        # row (every submit and settlement of the organization updates it) is locked only while
        # PostgreSQL runs that statement, never across a round trip to this process, where a
        # paused thread would hold up every other submit and settlement of the organization.
        # Funds and the brand's and key's spend caps are checked under that lock.
        reservations = reservations_open_alike(
            organization=tenant.organization, amount=quote.total,
            holds=[(job.reservation_id, f"job:{job.id}") for job in jobs],
            expires_at=timezone.now() + timedelta(seconds=settings.JOB_DEADLINE_SECONDS * 3),
            brand=brand, api_key=tenant.api_key)
        try:
            with transaction.atomic():
                GenerationJob.objects.bulk_create(jobs)
                if references:
                    JobReference.objects.bulk_create(references)
        except BaseException:
            # No job, no hold. Should a release fail too, the reservation sweep releases a hold
            # without a job once it expires (billing/sweeps.py).
            for reservation in reservations:
                try:
                    reservation_release(reservation=reservation)
                except Exception:
                    logger.exception("could not release hold %s of a failed submit",
                                     reservation.reference)
            raise
        # The jobs exist from here on: whatever fails now must not release their holds.
        for job, reservation in zip(jobs, reservations, strict=True):
            job.reservation = reservation
            transaction.on_commit(partial(job_enqueue, job_id=job.id))
    except BaseException:
        for reference in references:
            reference.file.delete(save=False)
        raise
    return jobs


def _check_affordable(tenant: Tenant, total: int) -> None:
    """Fail fast, before any file is written. The reservations below remain the authority."""
    available = wallet_of(organization=tenant.organization).available
    if total > available:
        raise InsufficientCredits(f"Insufficient credits: this request costs "
                                  f"{format_usd(total, symbol=True)}, available "
                                  f"{format_usd(available, symbol=True)}.")


def _reference_file(job: GenerationJob, index: int, image: DecodedImage, *,
                    is_mask: bool) -> JobReference:
    reference = JobReference(job=job, index=index, is_mask=is_mask, mime_type=image.mime_type,
                             width=image.width, height=image.height, size_bytes=len(image.data),
                             sha256=hashlib.sha256(image.data).hexdigest())
    name = f"{'mask' if is_mask else 'ref'}{index}.{EXTENSIONS[image.mime_type]}"
    reference.file.save(name, ContentFile(image.data), save=False)
    return reference


def _parent_for(tenant: Tenant, parent_id, model: str) -> GenerationJob:
    from generation.selectors import job_for

    try:
        parent = job_for(tenant=tenant, job_id=parent_id)
    except NotFound:
        raise NotFound("No such generation to continue.", code="parent_not_found",
                       param="parent") from None
    if parent.status != JobStatus.SUCCEEDED:
        raise Conflict(f"Only a succeeded generation can be continued; this one is "
                       f"{parent.status}.", code="parent_not_succeeded", param="parent")
    if parent.model != model:
        raise DomainError(f"A conversation stays on one model: the parent used {parent.model}.",
                          code="parent_model_mismatch", param="model")
    return parent


def job_enqueue(*, job_id) -> None:
    """After commit: wake a running dispatch loop at once (Redis mode); when no loop with room
    is alive, queue the job's django-q2 task, which starts one (generation.wakeups)."""
    from config.queue import enqueue
    from generation.wakeups import job_due_notify

    if not job_due_notify(job_id=job_id):
        enqueue("generation.tasks.run_job", str(job_id), task_name=f"job:{job_id}")


_CLAIM_SQL = """
UPDATE generation_generationjob
   SET status = %(running)s, attempts = attempts + 1, started_at = %(now)s,
       next_attempt_at = NULL, deadline_at = %(deadline)s
 WHERE id IN (SELECT id FROM generation_generationjob
               WHERE status = %(queued)s AND (next_attempt_at IS NULL OR next_attempt_at <= %(now)s)
               ORDER BY created_at
               LIMIT %(limit)s
               FOR UPDATE SKIP LOCKED)
   AND status = %(queued)s
RETURNING id
"""


# The claim's load, compiled once (see config/compiled.py): its select_related over six wide
# tables cost the worker more CPU to compile than PostgreSQL spends answering it.
_CLAIMED_JOBS = CompiledQuery(lambda v: GenerationJob.objects.select_related(
    "reservation", "brand", "api_key", "organization__payment_account", "batch_item")
    .filter(pk__in=v.ids, status=JobStatus.RUNNING, started_at=v.started_at))


def claim_due_jobs(*, limit: int) -> list[GenerationJob]:
    """queued (and due) → running, attempt + 1, for up to `limit` jobs.

    `SKIP LOCKED` lets many workers claim side by side without waiting on or double-taking a
    row; the conditional UPDATE is the guarantee (exactly one claimant per attempt). The new
    `attempts` value is the claim's fencing token: settlement only lands for that attempt.
    On PostgreSQL the claim is one statement (a loop claims for every job it is woken for).
    """
    now = timezone.now()
    deadline = now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"running": JobStatus.RUNNING, "queued": JobStatus.QUEUED,
                                        "now": now, "deadline": deadline, "limit": limit})
            ids = [row[0] for row in cursor.fetchall()]
    else:
        with transaction.atomic():
            ids = list(GenerationJob.objects.select_for_update(skip_locked=True)
                       .filter(status=JobStatus.QUEUED)
                       .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                       .order_by("created_at").values_list("pk", flat=True)[:limit])
            GenerationJob.objects.filter(pk__in=ids, status=JobStatus.QUEUED).update(
                status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now,
                next_attempt_at=None, deadline_at=deadline)
    if not ids:
        return []
    # Everything the run and the settlement read, loaded here once for the whole batch: the
    # organization (with its payment account: auto-recharge), the batch item, the references.
    jobs = _CLAIMED_JOBS.fetch(ids=ids, started_at=now)
    prefetch_related_objects([job for job in jobs if job.has_references is not False],
                             "references")
    return jobs


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
    references = list(job.references.all()) if job.has_references is not False else []
    return ImageRequest(model=job.model, prompt=prompt_sent_for(job, references), tier=job.tier,
                        aspect_ratio=job.aspect_ratio, width=job.width, height=job.height,
                        seed=job.seed, grounding=job.grounding,
                        reference_images=tuple(ReferenceImage(data=_read(ref.file),
                                                              mime_type=ref.mime_type)
                                               for ref in references),
                        history=conversation_before(job))


MASK_INSTRUCTION = ("\n\nThe last image is an edit mask: change only the areas where the mask "
                    "is transparent and keep everything else exactly as it is.")


def prompt_sent_for(job: GenerationJob, references: list[JobReference]) -> str:
    """The prompt as the upstream receives it. Gemini has no mask input: a mask travels as the
    last reference image with an instruction saying what it is."""
    return job.prompt + (MASK_INSTRUCTION if any(ref.is_mask for ref in references) else "")


def conversation_before(job: GenerationJob) -> tuple[Turn, ...]:
    """Every turn preceding this job's own: its parent's conversation, the parent's user turn and
    the parent's model turn (sent back exactly, thought signatures included), then any turns the
    client supplied itself."""
    turns: list[Turn] = []
    if job.parent_id:
        parent = job.parent
        turns.extend(conversation_before(parent))
        turns.append(user_turn_of(parent))
        turns.append(model_turn_of(parent))
    turns.extend(Turn(role=turn["role"], parts=turn["parts"]) for turn in job.history)
    return tuple(turns)


def user_turn_of(job: GenerationJob) -> Turn:
    references = list(job.references.all())
    parts = [{"text": prompt_sent_for(job, references)}]
    parts += [{"inlineData": {"mimeType": ref.mime_type,
                              "data": base64.b64encode(_read(ref.file)).decode()}}
              for ref in references]
    return Turn(role="user", parts=parts)


def model_turn_of(job: GenerationJob) -> Turn:
    """The upstream's own model turn when it gave one; else (local renders) the text and images
    we stored, which is all there is to send back."""
    if job.model_turn:
        return Turn(role=job.model_turn.get("role", "model"), parts=job.model_turn["parts"])
    parts = [{"text": job.text}] if job.text else []
    parts += [{"inlineData": {"mimeType": image.mime_type,
                              "data": base64.b64encode(_read(image.file)).decode()}}
              for image in job.images.all()]
    return Turn(role="model", parts=parts)


def _read(field_file) -> bytes:
    with field_file.open("rb") as handle:
        return handle.read()


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
    from config.queue import enqueue

    enqueue("generation.tasks.dispatch_jobs", task_name="dispatch")


def _settle_blocked(job: GenerationJob, blocked: SafetyBlocked, *, provider_name: str = "",
                    channel_name: str = "") -> bool:
    """The upstream refused: moderation opens the case and applies the charge policy, then the
    customer hears of it, in one transaction. The job keeps who refused it (staff error rates
    per provider and channel count blocks where they happened)."""
    with transaction.atomic():
        if job_settle_blocked(job=job, blocked=blocked) is None:
            return False
        GenerationJob.objects.filter(pk=job.pk).update(provider=provider_name,
                                                       channel=channel_name)
        job_settled_announce(job_id=job.pk)
    return True


def _store_images(job: GenerationJob, result: ProviderResult) -> list[GeneratedImage]:
    images = []
    output_format = job.params.get("output_format")
    for index, produced in enumerate(result.images):
        data, mime_type = produced.data, produced.mime_type
        if output_format:
            data, mime_type = convert_image(data, output_format=output_format,
                                            dpi=job.params.get("output_dpi"),
                                            quality=job.params.get("output_quality"))
        image = GeneratedImage(job=job, index=index, mime_type=mime_type,
                               width=produced.width, height=produced.height,
                               size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        extension = EXTENSIONS.get(mime_type, "bin")
        image.file.save(f"{index}.{extension}", ContentFile(data), save=False)
        images.append(image)
    return images


@dataclass(frozen=True)
class Success:
    """One call that brought images, waiting to be settled."""

    job: GenerationJob
    provider_name: str
    result: ProviderResult
    latency_ms: int
    channel_name: str = ""
    may_have_listeners: bool = True  # see `job_settled_announce`


def _settle_success(job: GenerationJob, provider_name: str, result: ProviderResult,
                    latency_ms: int, channel_name: str = "", *,
                    may_have_listeners: bool = True) -> bool:
    """The one place a job succeeds (see `jobs_settle_success`); False when its attempt was
    fenced out (swept or canceled while the call ran)."""
    return jobs_settle_success(successes=[Success(
        job=job, provider_name=provider_name, result=result, latency_ms=latency_ms,
        channel_name=channel_name, may_have_listeners=may_have_listeners)])[0]


def jobs_settle_success(*, successes: Sequence[Success]) -> list[bool]:
    """Succeed one job or several at once (the worker settles the calls that finished together
    in one transaction). Files first; then per job the fenced status update, its images and its
    announcement; then the captures, last before COMMIT so the wallet row (every job of an
    organization captures on it) stays locked briefly, in wallet order so that two workers'
    groups never wait on each other's wallets in a cycle. Only a job whose fenced update landed
    captures, so each reservation is charged at most once. Per job: landed or fenced out."""
    stored = [_store_images(success.job, success.result) for success in successes]
    try:
        with transaction.atomic():
            landed = [_job_mark_succeeded(success) for success in successes]
            GeneratedImage.objects.bulk_create(
                [image for ok, images in zip(landed, stored, strict=True) if ok
                 for image in images])
            settled = [success for ok, success in zip(landed, successes, strict=True) if ok]
            for success in settled:
                success.job.status = JobStatus.SUCCEEDED
                job_settled_announce(job_id=success.job.pk, job=success.job,
                                     may_have_listeners=success.may_have_listeners)
            for success in sorted(settled, key=lambda s: (s.job.reservation.wallet_id,
                                                          str(s.job.reservation_id))):
                job = success.job
                reservation_capture(reservation=job.reservation, brand=job.brand,
                                    api_key=job.api_key,
                                    memo=f"{job.model} {job.tier} {job.aspect_ratio}")
    except BaseException:
        for image in (image for images in stored for image in images):
            image.file.delete(save=False)
        raise
    # Fenced out: swept or canceled while we worked; it was settled elsewhere, keep nothing.
    for ok, images in zip(landed, stored, strict=True):
        for image in images if not ok else ():
            image.file.delete(save=False)
    # After the captures committed: may queue one auto-recharge top-up (database only, cheap).
    for organization_id in dict.fromkeys(success.job.organization_id for success in settled
                                         if _may_auto_recharge(success.job)):
        auto_recharge_check(organization_id=organization_id)
    return landed


def _job_mark_succeeded(success: Success) -> bool:
    # `attempts=job.attempts` fences out a stale worker whose attempt was swept.
    job, result = success.job, success.result
    return GenerationJob.objects.filter(
        pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.SUCCEEDED, finished_at=timezone.now(), provider=success.provider_name,
        channel=success.channel_name, is_local_render=result.is_local_render,
        model_version=result.model_version, text=result.text, usage=result.usage,
        upstream_latency_ms=success.latency_ms, error_code="", error_message="",
        model_turn={"role": result.model_turn.role, "parts": result.model_turn.parts}
        if result.model_turn else None) == 1


def _may_auto_recharge(job: GenerationJob) -> bool:
    """False when the claim already read that the organization has no auto-recharge to check.
    Turned on since the claim, it is checked by the organization's next job (the check compares
    the wallet as it is then, so no crossing is missed for long)."""
    from accounts.models import Organization

    if not (GenerationJob.organization.is_cached(job)
            and Organization.payment_account.is_cached(job.organization)):
        return True
    account = getattr(job.organization, "payment_account", None)
    return account is not None and account.auto_recharge_enabled and (
        account.purchases_frozen_at is None)


def _settle_failure(job: GenerationJob, status: str, code: str, message: str,
                    channel_name: str = "", *, block_reason: str = "",
                    provider_name: str = "", may_have_listeners: bool = True) -> bool:
    """The one place a job fails: status + announce + release in one transaction."""
    with transaction.atomic():
        ended = GenerationJob.objects.filter(
            pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=status, finished_at=timezone.now(), error_code=code,
            error_message=message[:2000], block_reason=(block_reason or "")[:40],
            **({"channel": channel_name} if channel_name else {}),
            **({"provider": provider_name} if provider_name else {}))
        if ended:
            job.status = status
            job_settled_announce(job_id=job.pk, job=job, may_have_listeners=may_have_listeners)
            reservation_release(reservation=job.reservation)  # last: the wallet row lock
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


def job_settled_announce(*, job_id, job: GenerationJob | None = None,
                         may_have_listeners: bool = True) -> None:
    """What customers see when a job reaches a terminal state: the `generation.<status>` webhook,
    its batch's progress, and (after commit) a wake-up for requests waiting on it. Every path
    that ends a job calls this inside its settling transaction, so all of it commits with it.

    The worker passes the `job` it settles (its `status` set to the terminal one; organization
    and batch item loaded by the claim) instead of having it read again, and
    `may_have_listeners=False` when it read, at most about a second ago, that the organization
    has no enabled webhook endpoint."""
    transaction.on_commit(partial(job_signal_finished, job_id=job_id))
    from generation.batches.services import batch_job_settled
    from generation.serializers import job_data
    from generation.webhooks.services import webhook_event_emit

    loaded = job is None
    if loaded:
        job = GenerationJob.objects.select_related("organization", "batch_item").get(pk=job_id)
    if may_have_listeners:
        # The payload (images, signed links) is built only when an endpoint listens, from the
        # row as this transaction wrote it.
        webhook_event_emit(organization=job.organization, event_type=f"generation.{job.status}",
                           data=lambda: job_data(job if loaded else GenerationJob.objects.get(
                               pk=job_id), None))
    batch_item = getattr(job, "batch_item", None)  # loaded with the job: no query
    if batch_item is not None:
        batch_job_settled(job_id=job_id, batch_id=batch_item.batch_id)
