"""One domain error type, and the one handler that turns errors into the native API's shape.

Native error shape: {"error": {"code": "<stable_code>", "message": "<human text>", "param": ...}}.
The compatible surfaces (OpenAI, Gemini) translate the same DomainError into their own shapes.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response


class DomainError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None,
                 status_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.param = param
        if status_code is not None:
            self.status_code = status_code


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class InsufficientCredits(DomainError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "insufficient_credits"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def _first_validation_error(detail) -> tuple[str | None, str, str]:
    """(param, message, code) of the first problem in a DRF ValidationError detail tree."""
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        param = key if key != "non_field_errors" else None
        inner_param, message, code = _first_validation_error(value)
        return (f"{param}.{inner_param}" if param and inner_param else param or inner_param,
                message, code)
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0])
    code = getattr(detail, "code", None) or "invalid"
    return None, str(detail), code


def describe(exc) -> tuple[int, dict, dict]:
    """(status, error body fields, headers) for any exception the API surfaces can raise."""
    headers = {}
    if isinstance(exc, DomainError):
        return (exc.status_code, {"code": exc.code, "message": exc.message, "param": exc.param},
                dict(getattr(exc, "headers", None) or {}))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        param, message, code = _first_validation_error(exc.detail)
        if code in ("invalid", "required", "null", "blank"):
            code = "missing_field" if code in ("required", "null", "blank") else "invalid_field"
        if param:
            message = f"{param}: {message}"
        return 400, {"code": code, "message": message, "param": param}, headers
    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        return exc.status_code, {"code": code, "message": str(exc.detail), "param": None}, headers
    raise exc


def native_exception_handler(exc, context):
    try:
        status_code, error, headers = describe(exc)
    except Exception:  # noqa: BLE001 - anything unknown is a 500 left to Django's logging
        return None
    if status_code == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response({"error": error}, status=status_code, headers=headers)
