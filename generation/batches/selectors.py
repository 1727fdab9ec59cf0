"""Tenant-scoped reads for batches: another organization's (or brand's) batch does not exist."""

from django.db.models import Count

from accounts.tenancy import Tenant
from config.errors import NotFound
from generation.batches.models import Batch
from generation.models import GenerationJob, JobStatus


def batches_visible_to(tenant: Tenant):
    batches = Batch.objects.filter(organization=tenant.organization)
    if tenant.brand is not None:
        batches = batches.filter(brand=tenant.brand)
    return batches


def batch_for(*, tenant: Tenant, batch_id) -> Batch:
    batch = batches_visible_to(tenant).filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("No such batch.", code="batch_not_found")
    return batch


def batch_counts(batch: Batch) -> dict[str, int]:
    counts = dict.fromkeys(JobStatus.values, 0)
    rows = (GenerationJob.objects.filter(batch_item__batch=batch).values("status")
            .annotate(n=Count("pk")).order_by())
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


def batch_jobs(batch: Batch):
    return (GenerationJob.objects.filter(batch_item__batch=batch)
            .select_related("batch_item").prefetch_related("images")
            .order_by("batch_item__index"))
