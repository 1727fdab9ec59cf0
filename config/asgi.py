"""The ASGI application (uvicorn): Django, with the compatible surfaces on a lean handler.

The OpenAI- and Gemini-compatible surfaces (/v1, /v1beta, /v1alpha) are called with API keys,
never with a browser session, so sessions, CSRF, authentication-from-cookie, messages and the
other browser middleware have nothing to do there; under ASGI each of those (sync) middlewares
also costs two thread hops per request. Those paths get a handler without them. Everything else
goes through the full MIDDLEWARE stack.
"""

import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The web server pools its database connections (see DATABASE_POOL_MAX in config/settings.py)
# unless the environment says otherwise: set while the settings load, not left behind for the
# processes this one starts (a worker cluster would inherit it).
WEB_POOL_MAX = "20"

API_KEY_ONLY_PREFIXES = ("/v1/", "/v1beta/", "/v1alpha/")


class ApiKeyOnlyHandler(ASGIHandler):
    """Django's ASGI handler with no middleware but the response headers SecurityMiddleware
    would add to an API answer."""

    def load_middleware(self, is_async=False):
        # What BaseHandler.load_middleware builds from an empty MIDDLEWARE list.
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(
            _with_security_headers(self._get_response_async))


def _with_security_headers(get_response):
    async def handler(request):
        response = await get_response(request)
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if settings.SECURE_REFERRER_POLICY:
            response.headers.setdefault("Referrer-Policy", settings.SECURE_REFERRER_POLICY)
        return response

    return handler


_pool_from_us = "DATABASE_POOL_MAX" not in os.environ
if _pool_from_us:
    os.environ["DATABASE_POOL_MAX"] = WEB_POOL_MAX
try:
    _django = get_asgi_application()  # sets Django up, reading the settings
finally:
    if _pool_from_us:
        del os.environ["DATABASE_POOL_MAX"]
_api = ApiKeyOnlyHandler()
# What is loaded by now lives as long as the process: out of the garbage collector's full passes,
# which under load paused the process for up to ~200 ms (see config/forking.py).
gc.freeze()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith(API_KEY_ONLY_PREFIXES):
        return await _api(scope, receive, send)
    return await _django(scope, receive, send)
