"""`@idempotent` on a DRF view's POST handler: the one implementation of Idempotency-Key."""

import functools

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from accounts.idempotency.services import (
    idempotency_abandon,
    idempotency_begin,
    idempotency_complete,
    idempotency_key_validate,
    request_fingerprint,
)
from accounts.tenancy import tenant_of

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Retry-safe key (≤255 chars, kept 24 h per organization): the same key and body "
                "replays the first response; another body is refused with 409.")
_REPLAYED_HEADERS = ("Location",)


def idempotent(handler):
    """Runs `handler` at most once per (organization, Idempotency-Key).

    Responses below 500 are stored and replayed with `Idempotent-Replayed: true`; an exception
    or a 5xx frees the key so that a retry runs again."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        raw_key = request.headers.get("Idempotency-Key")
        if raw_key is None:
            return handler(view, request, *args, **kwargs)
        key = idempotency_key_validate(raw_key.strip())
        tenant = tenant_of(request)
        fingerprint = request_fingerprint(method=request.method, path=request.path,
                                          data=request.data, files=request.FILES)
        record, replay = idempotency_begin(organization=tenant.organization, key=key,
                                           fingerprint=fingerprint, method=request.method,
                                           path=request.path)
        if replay is not None:
            return Response(replay.body, status=replay.status,
                            headers={**replay.headers, "Idempotent-Replayed": "true"})
        try:
            response = handler(view, request, *args, **kwargs)
        except BaseException:
            idempotency_abandon(record=record)
            raise
        if response.status_code >= 500:
            idempotency_abandon(record=record)
        else:
            headers = {name: response[name] for name in _REPLAYED_HEADERS if name in response}
            idempotency_complete(record=record, status=response.status_code,
                                 body=response.data, headers=headers)
        return response

    return wrapper
