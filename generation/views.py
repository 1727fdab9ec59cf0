"""Dashboard pages for generation: playground, gallery, job detail, thumbnails and usage."""

import csv
from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Scope
from accounts.pages import render_page, tenant_page
from accounts.selectors import brands_visible_to
from billing.money import format_usd
from billing.selectors import wallet_of
from billing.services import quote_generation
from config.errors import DomainError, NotFound
from config.ids import is_uuid
from generation import catalog, charts, selectors, usage
from generation.models import GeneratedImage, JobStatus
from generation.moderation import selectors as moderation_selectors
from generation.moderation.services import case_request_review
from generation.services import job_submit, validate_generation
from generation.signing import signed_image_path
from generation.thumbnails import THUMBNAIL_MIME, thumbnail_bytes
from generation.uploads import decode_upload

GALLERY_PAGE_SIZE = 24
USAGE_PERIODS = (7, 30, 90)


def _models():
    return [{"id": spec.id, "name": spec.display_name, "tiers": list(spec.tiers),
             "grounding": spec.supports_grounding} for spec in catalog.MODELS.values()]


@tenant_page(Scope.READ)
def overview(request, tenant):
    jobs = selectors.jobs_visible_to(tenant)
    since, until = usage.period(30)
    by_day = usage.usage_by_day(tenant, since=since, until=until)
    return render_page(request, "dashboard/home.html", {
        "wallet": wallet_of(organization=tenant.organization),
        "job_count": jobs.count(),
        "month_images": sum(row.images for row in by_day),
        "month_spend": format_usd(sum(row.spend for row in by_day), symbol=True),
        "day_chart": charts.column_chart(by_day, height=120, title="Spend, last 30 days"),
        "recent": jobs.select_related("brand").prefetch_related("images")
                  .order_by("-created_at")[:6],
        "base_url": request.build_absolute_uri("/").rstrip("/"),
    })


@tenant_page(Scope.GENERATE)
def playground(request, tenant):
    # "Edit this image" from a job's page: continue that job's conversation.
    parent = selectors.job_for(tenant=tenant, job_id=request.GET["parent"]) \
        if is_uuid(request.GET.get("parent")) else None
    return render_page(request, "dashboard/playground.html", {
        "parent": _job_status(parent) if parent else None,
        # The cheapest model first: the free signup credits cover a first image with it.
        "models": _models(), "default_model": catalog.FLASH, "ratios": catalog.ASPECT_RATIOS,
        "brands": brands_visible_to(tenant),
        "wallet": wallet_of(organization=tenant.organization),
        "recent": selectors.jobs_visible_to(tenant).select_related("brand")
                  .prefetch_related("images").order_by("-created_at")[:8],
    })


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "on", "yes")


@require_GET
@tenant_page(Scope.GENERATE, as_json=True)
def playground_quote(request, tenant):
    """The price of the form's current choices, before anything is submitted."""
    model = request.GET.get("model", catalog.PRO)
    tier, _, (width, height) = validate_generation(
        model=model, prompt="quote", image_size=request.GET.get("image_size"),
        aspect_ratio=request.GET.get("aspect_ratio"))
    grounding = _flag(request.GET.get("grounding")) and catalog.MODELS[model].supports_grounding
    references = request.GET.get("references", "0")
    quote = quote_generation(model=model, tier=tier, grounding=grounding,
                             reference_images=int(references) if references.isdigit() else 0,
                             organization=tenant.organization)
    available = wallet_of(organization=tenant.organization).available
    return JsonResponse({
        "price": {"micros": quote.total, "usd": format_usd(quote.total, symbol=True)},
        "lines": [{"item": line.item, "amount": format_usd(line.amount, symbol=True)}
                  for line in quote.lines],
        "width": width, "height": height,
        "available": format_usd(available, symbol=True),
        "affordable": quote.total <= available,
    })


@require_POST
@tenant_page(Scope.GENERATE, as_json=True)
def playground_submit(request, tenant):
    """The playground's Generate: the same job_submit as the API, with uploaded reference images
    and, for "Edit this image", the parent job whose conversation it continues."""
    references = [decode_upload(upload, param=f"reference_images[{index}]")
                  for index, upload in enumerate(request.FILES.getlist("reference_images"))]
    parent = request.POST.get("parent") or None
    if parent is not None and not is_uuid(parent):
        raise NotFound("No such generation to continue.", code="parent_not_found")
    job = job_submit(tenant=tenant, model=request.POST.get("model", catalog.PRO),
                     prompt=request.POST.get("prompt", ""),
                     image_size=request.POST.get("image_size"),
                     aspect_ratio=request.POST.get("aspect_ratio") or None,
                     grounding=_flag(request.POST.get("grounding")),
                     brand_id=request.POST.get("brand") or None,
                     reference_images=references, parent_id=parent)
    return JsonResponse(_job_status(job), status=202)


def _image_links(image: GeneratedImage) -> dict:
    path, _ = signed_image_path(image.id)
    return {"id": str(image.id), "thumbnail": f"/app/images/{image.id}/thumbnail",
            "download": path, "width": image.width, "height": image.height}


def _job_status(job) -> dict:
    return {
        "id": str(job.id), "status": job.status, "detail_url": f"/app/jobs/{job.id}/",
        "model": job.model, "prompt": job.prompt, "parent": str(job.parent_id) if job.parent_id else None,
        "status_url": f"/app/jobs/{job.id}/status",
        "price": format_usd(job.price, symbol=True), "local_render": job.is_local_render,
        "error": job.error_message or None,
        "images": [_image_links(image) for image in job.images.all()],
        "done": job.status not in (JobStatus.QUEUED, JobStatus.RUNNING),
        "moderation": moderation_selectors.moderation_data(job)
        if job.status == JobStatus.BLOCKED else None,
    }


@require_GET
@tenant_page(Scope.READ, as_json=True)
def job_status(request, tenant, job_id):
    return JsonResponse(_job_status(selectors.job_for(tenant=tenant, job_id=job_id)))


@tenant_page(Scope.READ)
def job_detail(request, tenant, job_id):
    job = selectors.job_for(tenant=tenant, job_id=job_id)
    return render_page(request, "dashboard/job_detail.html", {
        "job": job, "status": _job_status(job),
        "model_name": getattr(catalog.MODELS.get(job.model), "display_name", job.model),
        "breakdown": [{**line, "amount_usd": format_usd(line["amount"], symbol=True)}
                      for line in job.price_breakdown],
        "moderation": moderation_selectors.moderation_data(job),
    })


@require_POST
@tenant_page(Scope.GENERATE)
def job_review(request, tenant, job_id):
    """"Request review" on a blocked job: its moderation case goes back to the staff queue."""
    try:
        case = moderation_selectors.case_for_review(tenant=tenant, job_id=job_id)
        case_request_review(case=case, tenant=tenant, message=request.POST.get("message", ""))
    except NotFound:
        raise
    except DomainError as error:  # not blocked, or already reviewed: say so on the job's page
        messages.error(request, error.message)
    else:
        messages.success(request, "Review requested: our staff will look at this block.")
    return redirect("dashboard:job_detail", job_id=job_id)


@require_GET
@tenant_page(Scope.READ)
def image_thumbnail(request, tenant, image_id):
    image = selectors.image_for(tenant=tenant, image_id=image_id)
    response = HttpResponse(thumbnail_bytes(image), content_type=THUMBNAIL_MIME)
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _date_param(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@tenant_page(Scope.READ)
def gallery(request, tenant):
    jobs = (selectors.jobs_visible_to(tenant).select_related("brand")
            .prefetch_related("images").order_by("-created_at"))
    filters = {"brand": request.GET.get("brand", ""), "status": request.GET.get("status", ""),
               "since": _date_param(request.GET.get("since")),
               "until": _date_param(request.GET.get("until"))}
    if filters["brand"]:
        jobs = jobs.filter(brand_id=filters["brand"]) if is_uuid(filters["brand"]) \
            else jobs.none()
    if filters["status"] in JobStatus.values:
        jobs = jobs.filter(status=filters["status"])
    if filters["since"]:
        jobs = jobs.filter(created_at__date__gte=filters["since"])
    if filters["until"]:
        jobs = jobs.filter(created_at__date__lte=filters["until"])
    page = Paginator(jobs, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(request, "dashboard/gallery.html", {
        "page": page, "filters": filters, "query": query.urlencode(),
        "brands": brands_visible_to(tenant, include_archived=True),
        "statuses": JobStatus.values,
    })




def _usage_period(request) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 30
    return days if days in USAGE_PERIODS else 30


@tenant_page(Scope.READ)
def usage_page(request, tenant):
    days = _usage_period(request)
    since, until = usage.period(days)
    by_day = usage.usage_by_day(tenant, since=since, until=until)
    return render_page(request, "dashboard/usage.html", {
        "days": days, "periods": USAGE_PERIODS, "since": since, "until": until,
        "total_images": sum(row.images for row in by_day),
        "total_spend": format_usd(sum(row.spend for row in by_day), symbol=True),
        "day_chart": charts.column_chart(by_day, title="Spend per day"),
        "charts": [
            (title, charts.bar_chart(usage.usage_by(tenant, dimension, since=since, until=until),
                                     title=title))
            for dimension, title in (("brand", "By brand"), ("model", "By model"),
                                     ("tier", "By tier"))
        ],
    })


@tenant_page(Scope.READ)
def usage_csv(request, tenant):
    days = _usage_period(request)
    since, until = usage.period(days)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="usage-{since}-{until}.csv"'
    writer = csv.writer(response)
    writer.writerow(["created_at", "job_id", "brand", "model", "tier", "aspect_ratio",
                     "charged_micro_usd", "charged_usd"])
    jobs = (usage.charged_jobs(tenant, since=since, until=until)
            .select_related("brand", "reservation").order_by("created_at"))
    for job in jobs.iterator():
        writer.writerow([job.created_at.isoformat(), job.id, job.brand.name if job.brand else "",
                         job.model, job.tier, job.aspect_ratio, job.reservation.amount,
                         format_usd(job.reservation.amount)])
    return response
