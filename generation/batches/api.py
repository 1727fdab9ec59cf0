"""`/api/v1/batches`: submit (JSON or a JSONL upload), list, detail with per-item results, cancel."""

import json

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency.decorators import IDEMPOTENCY_HEADER, idempotent
from accounts.models import Scope
from accounts.tenancy import tenant_of
from config.errors import DomainError
from config.pagination import keyset_page
from config.parsers import BodyTooLarge
from generation.batches import selectors
from generation.batches.services import batch_cancel, batch_submit, batch_summary
from generation.schema import ERRORS, BatchOut, BatchPage
from generation.serializers import GenerationCreateSerializer, job_data


class BatchRequestItem(GenerationCreateSerializer):
    custom_id = serializers.CharField(required=False, max_length=100,
                                      help_text="Your own id, echoed in the results.")


class BatchInput(serializers.Serializer):
    requests = BatchRequestItem(many=True, help_text="Up to 1,000 generation requests. Or upload "
                                                     "a JSONL file (one request per line) as "
                                                     "multipart field `file`.")


def _requests_from_jsonl(upload) -> list:
    if upload.size > settings.MAX_JSON_BODY_BYTES:
        raise BodyTooLarge(f"The JSONL file is larger than {settings.MAX_JSON_BODY_BYTES} bytes.",
                           param="file")
    requests = []
    for number, line in enumerate(upload.read().decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            requests.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise DomainError(f"file line {number} is not valid JSON: {error.msg}.",
                              code="invalid_jsonl", param="file") from None
    return requests


def batch_data(batch, request, *, with_items: bool) -> dict:
    data = batch_summary(batch)
    data["cancel_requested_at"] = (batch.cancel_requested_at.isoformat()
                                   if batch.cancel_requested_at else None)
    data["brand"] = str(batch.brand_id) if batch.brand_id else None
    if with_items:
        data["items"] = [{"index": job.batch_item.index, "custom_id": job.batch_item.custom_id or None,
                          "generation": job_data(job, request)}
                         for job in selectors.batch_jobs(batch)]
    return data


class BatchListCreate(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("limit", OpenApiTypes.INT),
                    OpenApiParameter("cursor", OpenApiTypes.STR)],
        responses={200: BatchPage, **ERRORS}, tags=["batches"], operation_id="batches_list")
    def get(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        limit = _limit(request)
        batches, next_cursor = keyset_page(selectors.batches_visible_to(tenant),
                                           cursor=request.query_params.get("cursor"), limit=limit)
        return Response({"object": "list",
                         "data": [batch_data(batch, request, with_items=False) for batch in batches],
                         "has_more": next_cursor is not None, "next_cursor": next_cursor})

    @extend_schema(request={"application/json": BatchInput,
                            "multipart/form-data": {"type": "object", "properties": {
                                "file": {"type": "string", "format": "binary"}}}},
                   responses={202: BatchOut, **ERRORS}, parameters=[IDEMPOTENCY_HEADER],
                   tags=["batches"])
    @idempotent
    def post(self, request):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        upload = request.FILES.get("file")
        requests = _requests_from_jsonl(upload) if upload else request.data.get("requests")
        batch = batch_submit(tenant=tenant, requests=requests)
        return Response(batch_data(batch, request, with_items=False),
                        status=status.HTTP_202_ACCEPTED,
                        headers={"Location": request.build_absolute_uri(f"/api/v1/batches/{batch.pk}")})


def _limit(request) -> int:
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise DomainError("limit must be an integer from 1 to 100.", code="invalid_field",
                          param="limit")
    return int(raw)


class BatchDetail(APIView):
    @extend_schema(responses={200: BatchOut, **ERRORS}, tags=["batches"])
    def get(self, request, batch_id):
        tenant = tenant_of(request)
        tenant.require(Scope.READ)
        batch = selectors.batch_for(tenant=tenant, batch_id=batch_id)
        return Response(batch_data(batch, request, with_items=True))


class BatchCancel(APIView):
    @extend_schema(request=None, responses={200: BatchOut, **ERRORS},
                   parameters=[IDEMPOTENCY_HEADER], tags=["batches"])
    @idempotent
    def post(self, request, batch_id):
        tenant = tenant_of(request)
        tenant.require(Scope.GENERATE)
        batch = selectors.batch_for(tenant=tenant, batch_id=batch_id)
        canceled = batch_cancel(batch=batch)
        batch.refresh_from_db()
        data = batch_data(batch, request, with_items=False)
        data["canceled_items"] = canceled
        return Response(data)
