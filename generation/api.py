"""Native async jobs API: thin views that validate, call one service and render."""

from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponseRedirect
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Scope
from accounts.tenancy import tenant_of
from config.errors import Conflict
from generation import selectors
from generation.serializers import GenerationCreateSerializer, job_data
from generation.services import job_cancel, job_submit
from generation.signing import image_id_from_token
from generation.uploads import decode_base64_image, decode_upload


class GenerationListCreate(APIView):
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        uploads = request.FILES.getlist("reference_images")
        fields = {key: value for key, value in request.data.items() if key != "reference_images"} \
            if uploads else request.data
        serializer = GenerationCreateSerializer(data=fields)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        references = [decode_upload(upload, param=f"reference_images[{i}]")
                      for i, upload in enumerate(uploads)]
        references += [decode_base64_image(text, param=f"reference_images[{i}]")
                       for i, text in enumerate(data["reference_images"])]
        job = job_submit(tenant=tenant, model=data["model"], prompt=data["prompt"],
                         image_size=data.get("image_size"), aspect_ratio=data.get("aspect_ratio"),
                         seed=data.get("seed"), grounding=data["grounding"],
                         brand_id=data.get("brand"), reference_images=references,
                         parent_id=data.get("parent"), output_format=data.get("output_format"),
                         output_dpi=data.get("output_dpi"))
        location = request.build_absolute_uri(f"/api/v1/generations/{job.id}")
        return Response(job_data(job, request), status=status.HTTP_202_ACCEPTED,
                        headers={"Location": location})


class GenerationDetail(APIView):
    def get(self, request, job_id):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        return Response(job_data(selectors.job_for(tenant=tenant, job_id=job_id), request))


class GenerationCancel(APIView):
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
    if not isinstance(image.file.storage, FileSystemStorage):
        # Object storage: hand out the store's own short-lived presigned URL.
        return HttpResponseRedirect(image.file.url)
    response = FileResponse(image.file.open("rb"), content_type=image.mime_type)
    response["Content-Disposition"] = f'inline; filename="{image.job_id}-{image.index}.' \
                                      f'{image.file.name.rsplit(".", 1)[-1]}"'
    response["Cache-Control"] = "private, max-age=3600"
    return response
