"""API keys as DRF authentication: `Authorization: Bearer <key>` or `x-goog-api-key: <key>`."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiKey
from accounts.services import api_key_touch, hash_api_key
from config.compiled import CompiledQuery

# Every key-authenticated request runs it: compiled once (see config/compiled.py).
_KEY_BY_HASH = CompiledQuery(lambda v: ApiKey.objects.select_related("organization", "brand")
                             .filter(secret_hash=v.secret_hash))


class KeyPrincipal:
    """The `request.user` of a key-authenticated call: authenticated, never staff."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True
    pk = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self):
        return f"key:{self.api_key.prefix}"


class KeyRejected(exceptions.AuthenticationFailed):
    pass


class OrganizationSuspended(exceptions.PermissionDenied):
    default_code = "organization_suspended"


class ApiKeySuspended(exceptions.PermissionDenied):
    default_code = "api_key_suspended"


def raw_key_from(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.META.get("HTTP_X_GOOG_API_KEY") or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw = raw_key_from(request)
        if raw is None:
            return None
        found = _KEY_BY_HASH.fetch(secret_hash=hash_api_key(raw))  # unique: one or none
        if not found:
            raise KeyRejected("Invalid API key.", code="invalid_api_key")
        key = found[0]
        if key.revoked_at is not None:
            raise KeyRejected("This API key has been revoked.", code="api_key_revoked")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise KeyRejected("This API key has expired.", code="api_key_expired")
        if key.organization.suspended_at is not None:
            raise OrganizationSuspended("This organization is suspended; contact support.")
        if key.suspended_at is not None:
            raise ApiKeySuspended("This API key is suspended; contact support.")
        api_key_touch(api_key=key)
        return KeyPrincipal(key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
