"""Any OpenAI-compatible images upstream: `POST {base}/images/generations` (JSON) and, with
reference images, `POST {base}/images/edits` (multipart). Answers carry `b64_json` or a `url`
(fetched with the same client). Wire facts: /work/shared/reference/openai-images-api.md.

One call per `generate`, no retries: like every provider it maps each outcome to a typed error
and leaves retries and failover to the dispatcher.
"""

import base64
import binascii
import io

import anyio
import httpx
from PIL import Image, UnidentifiedImageError

from generation.providers.base import (
    AuthenticationFailed,
    ImageRequest,
    InvalidRequest,
    NoImage,
    Provider,
    ProviderError,
    ProviderImage,
    ProviderResult,
    RateLimited,
    SafetyBlocked,
    Unavailable,
    UpstreamTimeout,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
SIZES = {"square": "1024x1024", "landscape": "1536x1024", "portrait": "1024x1536"}
# Error codes OpenAI-compatible servers use for a policy refusal (blocked, not failed).
SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter"})


def size_for(request: ImageRequest) -> str:
    """The nearest size the Images API offers for the requested shape."""
    ratio = request.width / request.height
    if ratio > 1.2:
        return SIZES["landscape"]
    if ratio < 1 / 1.2:
        return SIZES["portrait"]
    return SIZES["square"]


class OpenAIProvider(Provider):
    name = "openai"

    def __init__(self, api_key: str, base_url: str | None = None, model_map: dict | None = None,
                 timeout: float = 120.0, client: httpx.AsyncClient | None = None):
        self.api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.model_map = model_map or {}
        self.timeout = timeout
        self._client = client

    async def generate(self, request: ImageRequest) -> ProviderResult:
        fields = {"model": self.model_map.get(request.model, request.model),
                  "prompt": request.prompt, "n": 1, "size": size_for(request)}
        async with self._session() as client:
            try:
                with anyio.fail_after(self.timeout):
                    if request.reference_images:
                        files = [("image[]", (f"reference-{i}.png", ref.data, ref.mime_type))
                                 for i, ref in enumerate(request.reference_images)]
                        response = await client.post(
                            f"{self.base_url}/images/edits", headers=self._headers(),
                            data={key: str(value) for key, value in fields.items()}, files=files)
                    else:
                        response = await client.post(f"{self.base_url}/images/generations",
                                                     headers=self._headers(), json=fields)
                    if response.status_code >= 400:
                        raise error_from_response(response)
                    try:
                        payload = response.json()
                    except ValueError as exc:
                        raise Unavailable("the images upstream answered with a body that is not "
                                          "JSON") from exc
                    return await self._result(payload, client)
            except (httpx.TimeoutException, TimeoutError) as exc:
                raise UpstreamTimeout(f"the images upstream did not answer within "
                                      f"{self.timeout:g}s") from exc
            except httpx.RequestError as exc:
                raise Unavailable(f"could not reach the images upstream ({type(exc).__name__})") \
                    from exc

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _session(self):
        if self._client is not None:
            return _Borrowed(self._client)
        return httpx.AsyncClient(timeout=self.timeout)

    async def _result(self, payload, client: httpx.AsyncClient) -> ProviderResult:
        try:
            items = payload.get("data") or []
            if not items:
                raise NoImage("the images upstream returned no image")
            item = items[0]
            if item.get("b64_json"):
                data = base64.b64decode(item["b64_json"], validate=True)
            elif item.get("url"):
                fetched = await client.get(item["url"])
                if fetched.status_code >= 400:
                    raise Unavailable(f"could not fetch the image URL (HTTP {fetched.status_code})")
                data = fetched.content
            else:
                raise NoImage("the images upstream returned neither b64_json nor url")
            usage = payload.get("usage") or {}
        except (AttributeError, TypeError, binascii.Error) as exc:
            raise Unavailable("the images upstream answered with an unexpected shape") from exc
        try:
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                mime_type = Image.MIME.get(image.format or "") or "image/png"
        except (UnidentifiedImageError, OSError) as exc:
            raise Unavailable("the images upstream returned an image that cannot be read") from exc
        return ProviderResult(
            images=[ProviderImage(data=data, mime_type=mime_type, width=width, height=height)],
            text=item.get("revised_prompt") or "",
            model_version=str(payload.get("model") or ""),
            usage={"input_tokens": usage.get("input_tokens", 0),
                   "output_tokens": usage.get("output_tokens", 0),
                   "total_tokens": usage.get("total_tokens", 0)})


class _Borrowed:
    """`async with` over a shared client without closing it."""

    def __init__(self, client):
        self.client = client

    async def __aenter__(self):
        return self.client

    async def __aexit__(self, *exc):
        return False


def error_from_response(response: httpx.Response) -> ProviderError:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    status = response.status_code
    message = str(error.get("message") or f"HTTP {status} from the images upstream")
    code = str(error.get("code") or "")
    if status in (401, 403):
        return AuthenticationFailed(message)
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(response))
    if status in (408, 504):
        return UpstreamTimeout(message)
    if status >= 500:
        return Unavailable(message)
    if code in SAFETY_CODES or error.get("type") == "image_generation_user_error" and (
            "safety" in message.lower()):
        return SafetyBlocked(message, reason=code or "content_policy")
    return InvalidRequest(message)


def _retry_after(response: httpx.Response) -> float | None:
    """`retry-after-ms`, else `retry-after` in seconds (what OpenAI's own SDK honours)."""
    for header, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value:
            try:
                return float(value) / scale
            except ValueError:
                continue
    return None
