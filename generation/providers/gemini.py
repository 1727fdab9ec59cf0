"""Google Gemini image generation over httpx, in the real `generateContent` wire format.

Wire facts: /work/shared/reference/gemini-image-api.md. This client makes exactly one call per
`generate`; it never retries — the worker and the channel router own retries, back-off and
failover, and they need each outcome as a typed error to do that.
"""

import base64
import binascii
import io
import re

import anyio
import httpx
from PIL import Image, UnidentifiedImageError

from generation.catalog import MODELS, normalize_tier
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
    Turn,
    Unavailable,
    UpstreamTimeout,
)

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"

# Finish reasons that mean a policy filter stopped the answer: retrying the same prompt is
# pointless, and the job must be marked blocked rather than failed.
SAFETY_FINISH_REASONS = frozenset({
    "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER",
})

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)s\s*")


class GeminiProvider(Provider):
    name = "gemini"

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 120.0,
                 client: httpx.AsyncClient | None = None):
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = client

    def _url(self, model: str) -> str:
        return f"{self.base_url}/{API_VERSION}/models/{model}:generateContent"

    async def _auth_headers(self) -> dict:
        return {"x-goog-api-key": self.api_key}

    async def generate(self, request: ImageRequest) -> ProviderResult:
        response = await self._post(self._url(request.model), build_request_body(request))
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            payload = response.json()
        except ValueError as exc:
            raise Unavailable("Gemini answered with a body that is not JSON") from exc
        return parse_response(payload)

    async def _post(self, url: str, body: dict) -> httpx.Response:
        headers = await self._auth_headers()
        try:
            # httpx's timeout bounds each read; this bounds the whole call, so an upstream
            # that drips bytes cannot hold a worker past its deadline.
            with anyio.fail_after(self.timeout):
                if self._client is not None:
                    return await self._client.post(url, json=body, headers=headers,
                                                   timeout=self.timeout)
                # Without a shared client, one per call: a client belongs to the event loop
                # it first ran on, and sync callers (async_to_sync) get a new loop each time.
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    return await client.post(url, json=body, headers=headers)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise UpstreamTimeout(f"Gemini did not answer within {self.timeout:g}s") from exc
        except httpx.RequestError as exc:
            raise Unavailable(f"could not reach Gemini ({type(exc).__name__})") from exc


def build_request_body(request: ImageRequest) -> dict:
    """The generateContent body: earlier turns exactly as received, then the new user turn."""
    contents = [{"role": turn.role, "parts": turn.parts} for turn in request.history]
    user_parts: list[dict] = [{"text": request.prompt}]
    for reference in request.reference_images:
        user_parts.append({"inlineData": {"mimeType": reference.mime_type,
                                          "data": base64.b64encode(reference.data).decode()}})
    contents.append({"role": "user", "parts": user_parts})

    image_config = {"aspectRatio": request.aspect_ratio}
    spec = MODELS.get(request.model)
    if spec is not None and spec.tiers != ("1K",):
        # Only models with a size choice take imageSize (Flash answers 400), and upstream
        # rejects lowercase "4k".
        image_config["imageSize"] = normalize_tier(request.tier)
    generation_config: dict = {"responseModalities": ["TEXT", "IMAGE"],
                               "imageConfig": image_config}
    if request.seed is not None:
        generation_config["seed"] = request.seed

    body: dict = {"contents": contents, "generationConfig": generation_config}
    if request.grounding:
        body["tools"] = [{"googleSearch": {}}]
    return body


def parse_response(payload) -> ProviderResult:
    """A 200 generateContent answer → images, or the typed error it amounts to."""
    try:
        return _parse_response(payload)
    except (AttributeError, TypeError, KeyError) as exc:
        # JSON, but not the shape Google documents: treat like a garbled body (retryable).
        raise Unavailable("Gemini answered with an unexpected response shape") from exc


def _parse_response(payload: dict) -> ProviderResult:
    feedback = payload.get("promptFeedback") or {}
    if feedback.get("blockReason"):
        raise SafetyBlocked(reason=feedback["blockReason"],
                            safety_ratings=feedback.get("safetyRatings"))
    candidates = payload.get("candidates") or []
    if not candidates:
        raise NoImage("Gemini returned no candidates")
    candidate = candidates[0]
    finish_reason = candidate.get("finishReason") or ""
    if finish_reason in SAFETY_FINISH_REASONS:
        raise SafetyBlocked(reason=finish_reason, safety_ratings=candidate.get("safetyRatings"))

    content = candidate.get("content") or {}
    parts = content.get("parts") or []
    images, texts = [], []
    for part in parts:
        if part.get("thought"):
            continue  # interim drafts while thinking: not billed and not the answer
        inline = part.get("inlineData") or part.get("inline_data")
        if inline:
            images.append(_read_image(inline))
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    text = "".join(texts)
    if not images:
        detail = f": {text[:200]}" if text else ""
        raise NoImage(f"Gemini returned no image (finishReason {finish_reason or 'none'}){detail}")

    return ProviderResult(
        images=images,
        text=text,
        model_version=payload.get("modelVersion") or "",
        usage=_usage(payload.get("usageMetadata") or {}),
        # Kept whole, signatures and image data included: a later edit must send it back
        # exactly, or the upstream rejects the request.
        model_turn=Turn(role=content.get("role") or "model", parts=list(parts)),
    )


def _read_image(inline: dict) -> ProviderImage:
    try:
        data = _decode_base64(inline["data"])
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            mime_type = Image.MIME.get(image.format or "") or inline.get("mimeType") or ""
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError) as exc:
        raise Unavailable("Gemini returned an image that cannot be read") from exc
    return ProviderImage(data=data, mime_type=mime_type, width=width, height=height)


def _decode_base64(text: str) -> bytes:
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def _usage(meta: dict) -> dict:
    """usageMetadata in our own snake_case keys, shared with the other providers."""
    image_tokens = sum(detail.get("tokenCount", 0)
                       for detail in meta.get("candidatesTokensDetails") or []
                       if detail.get("modality") == "IMAGE")
    return {
        "input_tokens": meta.get("promptTokenCount", 0),
        "output_tokens": meta.get("candidatesTokenCount", 0),
        "output_image_tokens": image_tokens,
        "thoughts_tokens": meta.get("thoughtsTokenCount", 0),
        "total_tokens": meta.get("totalTokenCount", 0),
    }


def error_from_response(response: httpx.Response) -> ProviderError:
    """A google.rpc.Status error answer → the typed error the worker acts on."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}  # proxies and load balancers answer in HTML
    if not isinstance(error, dict):
        error = {}
    status = response.status_code
    message = str(error.get("message") or f"HTTP {status} from Gemini")
    details = error.get("details") if isinstance(error.get("details"), list) else []

    if status == 429:
        return RateLimited(message, retry_after=_retry_delay(details, response))
    if status in (401, 403) or _is_bad_api_key(details, message):
        return AuthenticationFailed(message)
    if status == 504:
        return UpstreamTimeout(message)  # DEADLINE_EXCEEDED: the upstream's own time ran out
    if status >= 500:
        return Unavailable(message)
    return InvalidRequest(message)


def _is_bad_api_key(details: list, message: str) -> bool:
    # Google sends 400 INVALID_ARGUMENT for a wrong key; the ErrorInfo reason says so.
    reasons = {detail.get("reason") for detail in details if isinstance(detail, dict)}
    return "API_KEY_INVALID" in reasons or "API key not valid" in message


def _retry_delay(details: list, response: httpx.Response) -> float | None:
    """Seconds from RetryInfo.retryDelay ("34.4s"); Gemini sends no Retry-After header."""
    for detail in details:
        if not isinstance(detail, dict):
            continue
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    # A proxy in front of Gemini may speak plain HTTP instead.
    header = response.headers.get("retry-after", "")
    try:
        return float(header) if header else None
    except ValueError:
        return None
