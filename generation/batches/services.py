"""Batches: up to MAX_BATCH_REQUESTS generations validated, priced and reserved all at once.

Each item is an ordinary generation job with its own reservation (the money invariant holds per
job); the batch only groups them. Rows are bulk-created so that 1,000 items cost a handful of
queries plus one queued task each.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.tenancy import Tenant
from billing.money import money
from billing.services import quote_generation, reservation_open_many, reservation_release_many
from config.errors import DomainError
from generation.assets.options import explicit_fields, generation_options_resolve
from generation.batches.models import Batch, BatchItem, BatchStatus
from generation.imaging import validate_output_format
from generation.models import GenerationJob, JobStatus
from generation.serializers import GenerationCreateSerializer, job_data
from generation.services import _brand_for, job_enqueue, validate_generation
from generation.webhooks.services import webhook_event_emit


def _item_error(index: int, error: DomainError) -> DomainError:
    param = f"requests[{index}]" + (f".{error.param}" if error.param else "")
    return DomainError(f"requests[{index}]: {error.message}", code=error.code, param=param,
                       status_code=error.status_code)


def _validated_all(requests: list) -> list[dict]:
    """Every item through the single-generation serializer (one serializer for the whole list:
    per-item serializers would deep-copy their fields a thousand times); the first bad item is
    reported as `requests[i].field`."""
    for index, raw in enumerate(requests):
        if not isinstance(raw, dict):
            raise DomainError(f"requests[{index}] must be an object.", code="invalid_field",
                              param=f"requests[{index}]")
        custom_id = raw.get("custom_id")
        if custom_id is not None and (not isinstance(custom_id, str) or len(custom_id) > 100):
            raise DomainError(f"requests[{index}].custom_id must be a string of at most 100 "
                              "characters.", code="invalid_field",
                              param=f"requests[{index}].custom_id")
    serializer = GenerationCreateSerializer(data=requests, many=True)
    if not serializer.is_valid():
        errors_by_index = serializer.errors
        if not isinstance(errors_by_index, dict):  # older DRF: a list with one entry per item
            errors_by_index = dict(enumerate(errors_by_index))
        for index, errors in sorted(errors_by_index.items()):
            if errors:
                field, problems = next(iter(errors.items()))
                problem = problems[0] if isinstance(problems, list) else problems
                code = "missing_field" if getattr(problem, "code", "") in (
                    "required", "null", "blank") else "invalid_field"
                raise DomainError(f"requests[{index}].{field}: {problem}", code=code,
                                  param=f"requests[{index}].{field}")
    validated = [dict(data) for data in serializer.validated_data]
    for data, raw in zip(validated, requests, strict=True):
        data["custom_id"] = raw.get("custom_id") or ""
    return validated


def batch_submit(*, tenant: Tenant, requests: list) -> Batch:
    """Validate every request, quote and reserve them all, then queue them; any invalid item or
    a shortfall of credit refuses the whole batch and writes nothing."""
    if not isinstance(requests, list) or not requests:
        raise DomainError("A batch needs a non-empty list of requests.", code="missing_field",
                          param="requests")
    if len(requests) > settings.MAX_BATCH_REQUESTS:
        raise DomainError(f"A batch holds at most {settings.MAX_BATCH_REQUESTS} requests; got "
                          f"{len(requests)}.", code="batch_too_large", param="requests",
                          status_code=413)
    now = timezone.now()
    quotes, brands, presets, jobs, items = {}, {}, {}, [], []
    for index, (data, raw) in enumerate(zip(_validated_all(requests), requests, strict=True)):
        try:
            if data.get("reference_images") or data.get("character"):
                raise DomainError("Batch items take no reference images or characters; submit "
                                  "such requests to /api/v1/generations.",
                                  code="unsupported_option", param="reference_images")
            # Style preset and negative prompt, as for a single generation.
            options = generation_options_resolve(tenant=tenant, data=data,
                                                 explicit=explicit_fields(raw),
                                                 resolve_references=False, presets=presets)
            data = {**data, **options.fields, "prompt": options.prompt}
            output_format, output_dpi = validate_output_format(data.get("output_format"),
                                                               data.get("output_dpi"))
            tier, ratio, (width, height) = validate_generation(
                model=data["model"], prompt=data["prompt"], image_size=data.get("image_size"),
                aspect_ratio=data.get("aspect_ratio"), grounding=data["grounding"])
            brand_key = data.get("brand")
            if brand_key not in brands:
                brands[brand_key] = _brand_for(tenant, brand_key)
            quote_key = (data["model"], tier, data["grounding"])
            if quote_key not in quotes:
                quotes[quote_key] = quote_generation(model=data["model"], tier=tier,
                                                     grounding=data["grounding"])
        except DomainError as error:
            raise _item_error(index, error) from None
        quote = quotes[quote_key]
        # Built like generation.services.job_submit builds one job (kept in step with it).
        job = GenerationJob(
            organization=tenant.organization, brand=brands[brand_key], api_key=tenant.api_key,
            created_by=tenant.user, model=data["model"], prompt=data["prompt"], tier=tier,
            aspect_ratio=ratio, width=width, height=height, seed=data.get("seed"),
            grounding=data["grounding"], price=quote.total,
            params={key: value for key, value in (("output_format", output_format),
                                                  ("output_dpi", output_dpi)) if value},
            price_list_id=quote.price_list_id,
            google_cost=quote.google_cost,
            price_breakdown=[{"item": line.item, "quantity": line.quantity,
                              "unit_price": line.unit_price, "amount": line.amount}
                             for line in quote.lines])
        jobs.append(job)
        items.append((index, data["custom_id"]))
    batch_brand = tenant.brand
    with transaction.atomic():
        reservations = reservation_open_many(
            organization=tenant.organization,
            holds=[(f"job:{job.id}", job.price, job.brand) for job in jobs],
            api_key=tenant.api_key, expires_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS * 3))
        for job, reservation in zip(jobs, reservations, strict=True):
            job.reservation = reservation
        batch = Batch.objects.create(
            organization=tenant.organization, brand=batch_brand, api_key=tenant.api_key,
            created_by=tenant.user, total=len(jobs), remaining=len(jobs),
            price=sum(job.price for job in jobs))
        GenerationJob.objects.bulk_create(jobs, batch_size=500)
        BatchItem.objects.bulk_create(
            [BatchItem(batch=batch, index=index, custom_id=custom_id, job=job)
             for (index, custom_id), job in zip(items, jobs, strict=True)], batch_size=500)
        # One task fans out to one task per job from a worker: a thousand broker writes stay
        # off the request's path (measured in bench/batch_submit.py).
        transaction.on_commit(lambda: batch_fan_out_enqueue(batch_id=batch.pk))
    return batch


def batch_fan_out_enqueue(*, batch_id) -> None:
    from config.queue import enqueue

    enqueue("generation.batches.tasks.enqueue_batch_jobs", str(batch_id),
               task_name=f"batch:{batch_id}")


def batch_jobs_enqueue(*, batch_id) -> int:
    """Queue a task for every item still queued (a redelivered fan-out is harmless: a worker
    claims each job with a conditional update, so a job never runs twice)."""
    job_ids = list(GenerationJob.objects.filter(batch_item__batch_id=batch_id,
                                                status=JobStatus.QUEUED)
                   .order_by("batch_item__index").values_list("pk", flat=True))
    for job_id in job_ids:
        job_enqueue(job_id=job_id)
    return len(job_ids)


def _complete_if_done(batch_id) -> None:
    """Mark the batch complete exactly once, when its last item has settled."""
    now = timezone.now()
    done = Batch.objects.filter(pk=batch_id, remaining=0, completed_at__isnull=True)
    completed = done.filter(cancel_requested_at__isnull=True).update(
        status=BatchStatus.COMPLETED, completed_at=now)
    if not completed and not done.update(status=BatchStatus.CANCELED, completed_at=now):
        return
    batch = Batch.objects.get(pk=batch_id)
    webhook_event_emit(organization=batch.organization, event_type="batch.completed",
                       data=batch_summary(batch))


def batch_job_settled(*, job_id, batch_id=None) -> None:
    """Called in the transaction that moved a job to a terminal state (exactly once per job).
    `batch_id`: the job's batch, when the caller has it already."""
    if batch_id is None:
        batch_id = (BatchItem.objects.filter(job_id=job_id)
                    .values_list("batch_id", flat=True).first())
    if batch_id is None:
        return
    Batch.objects.filter(pk=batch_id).update(remaining=F("remaining") - 1)
    _complete_if_done(batch_id)


def batch_cancel(*, batch: Batch) -> int:
    """Cancel the batch's queued items and release their credits; running items finish.
    Returns how many items were canceled."""
    now = timezone.now()
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now)
        # Locking the queued rows makes a worker's claim (a conditional UPDATE) wait for us and
        # then find them canceled.
        queued = list(GenerationJob.objects.select_for_update(of=("self",))
                      .filter(batch_item__batch=batch, status=JobStatus.QUEUED)
                      .values_list("pk", "reservation_id"))
        job_ids = [pk for pk, _ in queued]
        GenerationJob.objects.filter(pk__in=job_ids).update(
            status=JobStatus.CANCELED, finished_at=now, error_code="canceled",
            error_message="Canceled with its batch.")
        reservation_release_many(reservation_ids=[reservation for _, reservation in queued])
        if job_ids:
            Batch.objects.filter(pk=batch.pk).update(remaining=F("remaining") - len(job_ids))
            for job in GenerationJob.objects.filter(pk__in=job_ids).prefetch_related("images"):
                webhook_event_emit(organization=batch.organization,
                                   event_type="generation.canceled", data=job_data(job, None))
        _complete_if_done(batch.pk)
    return len(job_ids)


def batch_summary(batch: Batch) -> dict:
    from generation.batches.selectors import batch_counts

    return {
        "id": str(batch.pk),
        "object": "batch",
        "status": batch.status,
        "total": batch.total,
        "counts": batch_counts(batch),
        "price": money(batch.price),
        "created_at": batch.created_at.isoformat(),
        "completed_at": batch.completed_at.isoformat() if batch.completed_at else None,
    }
