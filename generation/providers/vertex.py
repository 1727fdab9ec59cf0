"""The Gemini image models through Vertex AI: the same generateContent wire format, at

    https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/
        publishers/google/models/{model}:generateContent

authenticated with an OAuth access token minted from a service-account JSON by google-auth
(it signs the JWT assertion and posts it to the key's `token_uri`, which tests point at a
local fake). The token is cached on the provider and refreshed shortly before it expires.
"""

import asyncio
import hashlib
import json

import anyio
import httpx
from google.auth import exceptions as google_exceptions
from google.auth import transport
from google.oauth2 import service_account

from generation.providers.base import AuthenticationFailed, Unavailable
from generation.providers.gemini import GeminiProvider

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class _HttpxTransport(transport.Request):
    """google-auth's transport interface over httpx (sync; run in a thread), so we need neither
    `requests` nor a second HTTP stack."""

    def __init__(self, timeout: float):
        self.timeout = timeout

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            response = httpx.request(method, url, content=body, headers=headers,
                                     timeout=timeout or self.timeout)
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(str(exc)) from exc
        return _Response(response)


class _Response(transport.Response):
    def __init__(self, response: httpx.Response):
        self._response = response

    @property
    def status(self):
        return self._response.status_code

    @property
    def headers(self):
        return dict(self._response.headers)

    @property
    def data(self):
        return self._response.content


# Credentials (and so their access tokens) live as long as the process, one per service account,
# so every dispatch run and every job reuses a token until it nears expiry.
_credentials_cache: dict[str, service_account.Credentials] = {}
_locks: dict[tuple[int, int], asyncio.Lock] = {}


def _credentials(text: str, info: dict) -> service_account.Credentials:
    key = hashlib.sha256(text.encode()).hexdigest()
    if key not in _credentials_cache:
        _credentials_cache[key] = service_account.Credentials.from_service_account_info(
            info, scopes=SCOPES)
    return _credentials_cache[key]


def _refresh_lock(credentials) -> asyncio.Lock:
    """One lock per credentials object and event loop (asyncio locks belong to one loop)."""
    key = (id(credentials), id(asyncio.get_running_loop()))
    if key not in _locks:
        if len(_locks) > 256:  # old loops' locks
            _locks.clear()
        _locks[key] = asyncio.Lock()
    return _locks[key]


class VertexProvider(GeminiProvider):
    name = "vertex"

    def __init__(self, service_account_json: str, project: str = "", region: str = "us-central1",
                 base_url: str | None = None, timeout: float = 120.0,
                 client: httpx.AsyncClient | None = None):
        try:
            info = json.loads(service_account_json)
            self.credentials = _credentials(service_account_json, info)
        except (ValueError, KeyError) as exc:
            raise AuthenticationFailed(f"the channel's service-account JSON is unusable: {exc}") \
                from exc
        self.project = project or info.get("project_id", "")
        self.region = region
        super().__init__(api_key="", base_url=base_url or f"https://{region}-aiplatform.googleapis.com",
                         timeout=timeout, client=client)

    def _url(self, model: str) -> str:
        return (f"{self.base_url}/v1/projects/{self.project}/locations/{self.region}"
                f"/publishers/google/models/{model}:generateContent")

    async def _auth_headers(self) -> dict:
        if not self.credentials.valid:  # unset, or within google-auth's expiry margin
            async with _refresh_lock(self.credentials):
                if not self.credentials.valid:  # concurrent callers: one refresh
                    await self._refresh()
        return {"Authorization": f"Bearer {self.credentials.token}"}

    async def _refresh(self) -> None:
        try:
            await anyio.to_thread.run_sync(self.credentials.refresh,
                                           _HttpxTransport(min(self.timeout, 30)))
        except google_exceptions.TransportError as exc:
            raise Unavailable(f"could not reach the Google token endpoint: {exc}") from exc
        except google_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):  # the token endpoint's own 5xx
                raise Unavailable(f"the Google token endpoint failed: {exc}") from exc
            raise AuthenticationFailed(f"Google refused the service account: {exc}") from exc
