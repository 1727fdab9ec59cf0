"""Tenant-scoped reads. A job outside the caller's organization (or bound brand) does not exist."""

from accounts.tenancy import Tenant
from config.errors import NotFound
from generation.models import GeneratedImage, GenerationJob


def jobs_visible_to(tenant: Tenant):
    return tenant.scope_to_brands(GenerationJob.objects.filter(organization=tenant.organization))


def job_for(*, tenant: Tenant, job_id) -> GenerationJob:
    job = (jobs_visible_to(tenant).select_related("brand").prefetch_related("images")
           .filter(pk=job_id).first())
    if job is None:
        raise NotFound("No such generation.", code="generation_not_found")
    return job


def image_by_id(image_id) -> GeneratedImage | None:
    """Only for signed downloads: the signature, not the caller, proves access."""
    return GeneratedImage.objects.filter(pk=image_id).first()


def image_for(*, tenant: Tenant, image_id) -> GeneratedImage:
    image = (GeneratedImage.objects.select_related("job")
             .filter(pk=image_id, job__in=jobs_visible_to(tenant)).first())
    if image is None:
        raise NotFound("No such image.", code="image_not_found")
    return image
def jobs_filtered(*, tenant: Tenant, brand_id=None, statuses=None, created_after=None,
                  created_before=None):
    """The list endpoint's query: visible jobs narrowed by brand, statuses and a created range."""
    jobs = jobs_visible_to(tenant).select_related("brand").prefetch_related("images")
    if brand_id is not None:
        jobs = jobs.filter(brand_id=brand_id)
    if statuses:
        jobs = jobs.filter(status__in=list(statuses))
    if created_after is not None:
        jobs = jobs.filter(created_at__gte=created_after)
    if created_before is not None:
        jobs = jobs.filter(created_at__lt=created_before)
    return jobs
