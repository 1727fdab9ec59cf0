"""Native async jobs API: thin views that validate, call one service and render."""

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency.decorators import IDEMPOTENCY_HEADER, idempotent
from accounts.models import Scope
from accounts.tenancy import tenant_of
from config.errors import Conflict
from config.pagination import keyset_page
from generation import selectors
from generation.assets.options import explicit_fields, generation_options_resolve
from generation.dedupe.services import job_submit_or_reuse
from generation.limits import concurrency_check
from generation.models import JobStatus
from generation.schema import ERRORS, GenerationOut, GenerationPage
from generation.serializers import GenerationCreateSerializer, job_data
from generation.services import job_cancel
from generation.signing import image_id_from_token
from generation.uploads import decode_upload


class GenerationListQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(required=False)
    brand = serializers.UUIDField(required=False)
    status = serializers.MultipleChoiceField(choices=JobStatus.values, required=False,
                                             help_text="One or more, comma-separated.")
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    def to_internal_value(self, data):
        data = data.copy()
        if "status" in data:
            data.setlist("status", [part for value in data.getlist("status")
                                    for part in value.split(",") if part])
        return super().to_internal_value(data)


class GenerationListCreate(APIView):
    @extend_schema(parameters=[GenerationListQuery], responses={200: GenerationPage, **ERRORS},
                   tags=["generations"], operation_id="generations_list",
                   description="Newest first. Follow `next_cursor` while `has_more`.")
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        query = GenerationListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        jobs, next_cursor = keyset_page(
            selectors.jobs_filtered(tenant=tenant, brand_id=filters.get("brand"),
                                    statuses=filters.get("status"),
                                    created_after=filters.get("created_after"),
                                    created_before=filters.get("created_before")),
            cursor=filters.get("cursor"), limit=filters["limit"])
        return Response({"object": "list", "data": [job_data(job, request) for job in jobs],
                         "has_more": next_cursor is not None, "next_cursor": next_cursor})

    @extend_schema(request=GenerationCreateSerializer, responses={202: GenerationOut, **ERRORS},
                   parameters=[IDEMPOTENCY_HEADER], tags=["generations"])
    @idempotent
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        uploads = request.FILES.getlist("reference_images")
        fields = {key: value for key, value in request.data.items() if key != "reference_images"} \
            if uploads else request.data
        serializer = GenerationCreateSerializer(data=fields)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        concurrency_check(organization=tenant.organization)
        # Style preset, negative prompt, character and reference items (asset ids, URLs fetched
        # here, outside any transaction), after the multipart uploads.
        options = generation_options_resolve(
            tenant=tenant, data=data, explicit=explicit_fields(fields),
            references=[decode_upload(upload, param=f"reference_images[{i}]")
                        for i, upload in enumerate(uploads)])
        job = job_submit_or_reuse(
            tenant=tenant, model=options.fields["model"], prompt=options.prompt,
            image_size=options.fields["image_size"], aspect_ratio=options.fields["aspect_ratio"],
            seed=data.get("seed"), grounding=data["grounding"], brand_id=data.get("brand"),
            reference_images=options.references, parent_id=data.get("parent"),
            output_format=options.fields["output_format"], output_dpi=data.get("output_dpi"))
        location = request.build_absolute_uri(f"/api/v1/generations/{job.id}")
        return Response(job_data(job, request), status=status.HTTP_202_ACCEPTED,
                        headers={"Location": location})


class GenerationDetail(APIView):
    @extend_schema(responses={200: GenerationOut, **ERRORS}, tags=["generations"])
    def get(self, request, job_id):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        return Response(job_data(selectors.job_for(tenant=tenant, job_id=job_id), request))


class GenerationCancel(APIView):
    @extend_schema(request=None, responses={200: GenerationOut, **ERRORS},
                   parameters=[IDEMPOTENCY_HEADER], tags=["generations"])
    @idempotent
    def post(self, request, job_id):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        job = selectors.job_for(tenant=tenant, job_id=job_id)
        if not job_cancel(job=job):
            raise Conflict(f"Only queued generations can be canceled; this one is {job.status}.",
                           code="not_cancelable")
        job.refresh_from_db()
        return Response(job_data(job, request))


def image_download(request, token):
    """Serves an image to whoever holds an unexpired signed link; no other credential needed."""
    image_id = image_id_from_token(token)
    image = selectors.image_by_id(image_id) if image_id else None
    if image is None:
        raise Http404("This link is invalid or has expired.")
    if not image.file:
        return HttpResponse("This image has expired and was deleted.", status=410,
                            content_type="text/plain")
    if not isinstance(image.file.storage, FileSystemStorage):
        # Object storage: hand out the store's own short-lived presigned URL.
        return HttpResponseRedirect(image.file.url)
    response = FileResponse(image.file.open("rb"), content_type=image.mime_type)
    response["Content-Disposition"] = f'inline; filename="{image.job_id}-{image.index}.' \
                                      f'{image.file.name.rsplit(".", 1)[-1]}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response
