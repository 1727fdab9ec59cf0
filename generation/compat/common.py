"""What both compatible surfaces share: key authentication on plain (async) Django views, JSON
bodies, and the wrapper that sends every exception through the surface's one error handler."""

import json
import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import NotAuthenticated

from accounts.authentication import ApiKeyAuthentication, raw_key_from
from accounts.tenancy import Tenant, tenant_of
from config.errors import DomainError, describe
from config.ratelimit import identity_of, rate_check

logger = logging.getLogger(__name__)


class WaitTimedOut(DomainError):
    """The job is still running when the sync surface stops waiting. Retrying would pay twice."""

    status_code = 504
    code = "generation_timeout"


class JobDidNotSucceed(DomainError):
    """A job ended failed, blocked or canceled; `job` is kept for the surface to render."""

    def __init__(self, job, message: str, **kwargs):
        super().__init__(message, **kwargs)
        self.job = job


def authenticate(request, *, query_key: bool = False) -> Tenant:
    """The API key (`Authorization: Bearer`, `x-goog-api-key`, or `?key=` where allowed) → tenant."""
    if getattr(request, "_atelier_tenant", None) is not None:
        return request._atelier_tenant
    if query_key and not raw_key_from(request) and request.GET.get("key"):
        request.META["HTTP_X_GOOG_API_KEY"] = request.GET["key"]
    found = ApiKeyAuthentication().authenticate(request)
    if found is None:
        raise NotAuthenticated("No API key: send it as a Bearer token or an x-goog-api-key header.")
    request.user, request.auth = found
    # The per-key requests-per-minute limit the native API gets from its DRF throttle; counted
    # once per request (the tenant is cached on the request from here on).
    identity = identity_of(request)
    if identity is not None:
        rate_check(identity=identity, limit=settings.RATE_LIMIT_PER_KEY_RPM)
    return tenant_of(request)


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise DomainError("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise DomainError("The request body must be a JSON object.", code="invalid_json")
    return body


def describe_any(exc) -> tuple[int, dict, dict]:
    """(status, {code, message, param}, headers) for anything a compatible surface may raise."""
    if isinstance(exc, RequestDataTooBig):
        return 413, {"code": "request_too_large", "param": None,
                     "message": "The request body is larger than this service accepts."}, {}
    try:
        status, error, headers = describe(exc)
    except Exception:  # noqa: BLE001 - not a known API error: a 500 in the surface's own shape
        logger.exception("unhandled error on a compatible surface")
        return 500, {"code": "internal_error", "param": None,
                     "message": "Internal error; it has been logged."}, {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None and "Retry-After" not in headers:
        headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return status, error, headers


def compat_view(render_error, methods: tuple[str, ...]):
    """Wrap an async view: method check, CSRF exemption (keys, not cookies) and one error handler."""

    def decorator(view):
        @wraps(view)
        async def wrapper(request, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise DomainError(f"{request.method} is not allowed here.",
                                      code="method_not_allowed", status_code=405)
                return await view(request, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every error leaves in the surface's shape
                return render_error(exc)

        return csrf_exempt(wrapper)

    return decorator
