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
