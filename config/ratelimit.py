"""Per-credential requests-per-minute, counted in the Django cache (Redis in production).

`RateLimited` is a DomainError (429, code `rate_limited`, a `Retry-After` header), so every
surface renders it in its own error shape: the OpenAI- and Gemini-compatible handlers only need
to translate it and copy `exc.headers`.
"""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from config.errors import DomainError


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
        self.headers = {"Retry-After": str(self.retry_after)}


def rate_check(*, identity: str, limit: int, window_seconds: int = 60,
               now: float | None = None) -> None:
    """Count one request for `identity` in the current fixed window; RateLimited past `limit`.

    A fixed window (one cache counter per identity and minute) costs one atomic increment per
    request; `incr`, else `add` for the window's first request, is atomic on Redis and locmem.
    Incrementing first saves the window's other requests a round trip."""
    now = time.time() if now is None else now
    window = int(now // window_seconds)
    counter = f"ratelimit:{identity}:{window}"
    try:
        count = cache.incr(counter)
    except ValueError:  # the window's first request (or the counter was evicted)
        if cache.add(counter, 1, timeout=window_seconds * 2):
            count = 1
        else:  # another request created it meanwhile
            try:
                count = cache.incr(counter)
            except ValueError:  # evicted again at once: count this one alone
                cache.set(counter, 1, timeout=window_seconds * 2)
                count = 1
    if count > limit:
        retry_after = window_seconds - int(now % window_seconds)
        raise RateLimited(f"Rate limit of {limit} requests per minute exceeded; "
                          f"retry in {retry_after} s.", retry_after=retry_after)


def identity_of(request) -> str | None:
    api_key = getattr(request, "auth", None)
    if getattr(api_key, "pk", None) is not None and hasattr(api_key, "secret_hash"):
        return f"key:{api_key.pk}"
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and user.pk is not None:
        return f"user:{user.pk}"
    return None


class PerKeyRateThrottle(BaseThrottle):
    """`RATE_LIMIT_PER_KEY_RPM` requests per minute per API key (or per signed-in user)."""

    def allow_request(self, request, view):
        identity = identity_of(request)
        if identity is not None:
            rate_check(identity=identity, limit=settings.RATE_LIMIT_PER_KEY_RPM)
        return True
