"""A fake Gemini API (`generateContent`) that speaks the real wire format.

It is a raw ASGI app with no framework, so one event loop can hold hundreds of slow requests
open at once; tests and benchmarks run it under uvicorn. Wire facts come from
`/work/shared/reference/gemini-image-api.md`; sizes, tiers and token counts come from
`generation.catalog`.

In tests::

    with running_fake_gemini(latency=(0.1, 0.3), thought_images=1) as fake:
        provider = GeminiProvider(api_key=fake.api_key, base_url=fake.base_url)
        fake.app.configure(script=["429", "ok"])      # change behaviour at runtime
        ...
        assert fake.app.request_count == 2

Standalone, from the repository root::

    python -m tests.fakes.fake_gemini --port 8090 --latency 3-12 --api-key KEY [--fault-rate 0.1]
        [--faults 429,500,503,malformed] [--retry-delay 1.5] [--thought-images 1] [--hang 300]

What it serves: `POST [/prefix]/{v1,v1beta,v1alpha}/models/{model}:generateContent` with the
key in `x-goog-api-key` (or `?key=`), and the Vertex AI path
`POST /v1/projects/{p}/locations/{r}/publishers/google/models/{model}:generateContent` with
`Authorization: Bearer <api_key>` (see `fake_google_token.py`); `GET /healthz` for readiness
checks. It accepts camelCase
and snake_case fields and standard or URL-safe base64, padded or not; rejects unknown fields,
aspect ratios and tiers the way the real API does (lowercase `4k` is a 400; `imageSize` other
than `1K` on the Flash model is a 400); answers in camelCase with a PNG of exactly the real
size. Every non-thought part it issues carries a `thoughtSignature` (an HMAC of the part's
content); a request whose earlier `model` turns come back without them, or changed, is a 400.

Outcomes, by name (for `script`, `fault_mix`, `[fault:NAME]` and the `x-fake-fault` header):

    ok            200, the image (and text) as asked
    429           429 RESOURCE_EXHAUSTED with RetryInfo.retryDelay = `retry_delay` ("1.5s")
    500           500 INTERNAL
    503           503 UNAVAILABLE
    timeout       no answer for `hang_seconds` (the client gives up first), then 504
    safety        200, promptFeedback.blockReason SAFETY, no candidates
    prohibited    200, promptFeedback.blockReason PROHIBITED_CONTENT, no candidates
    image_safety  200, finishReason IMAGE_SAFETY with safetyRatings, no image
    no_image      200, finishReason NO_IMAGE, no content
    text_only     200, finishReason STOP with a text part and no image
    malformed     200 with a truncated JSON body

How a request's outcome is chosen, first match wins (only requests that pass validation):
1. a prompt trigger in the current user turn: `[fault:NAME]`, e.g. `[fault:429]`,
   `[fault:503]`, `[fault:safety]`, `[fault:image_safety]`, `[fault:no_image]`,
   `[fault:malformed]`, `[fault:timeout]` — so end-to-end tests pick outcomes through our API;
2. the `x-fake-fault: NAME` request header;
3. the next entry of the instance's `script` (consumed in order; "ok" is an entry too);
4. with probability `fault_rate`, a weighted draw from `fault_mix`;
5. ok.
Latency: `[latency:2.5]` in the prompt or `x-fake-latency: 2.5` fixes it for that request;
otherwise it is uniform in the instance's `latency` (min, max). It applies to every outcome
except 429, which real quota checks answer at once. A client that hangs up stops the wait.
"""

import argparse
import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import math
import os
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import uvicorn
from PIL import Image

from generation.catalog import ASPECT_RATIOS, FLASH, MODELS, PRO, TIERS, output_dimensions

OUTCOMES = ("ok", "429", "500", "503", "timeout", "safety", "prohibited", "image_safety",
            "no_image", "text_only", "malformed")
# What `fault_rate` draws from unless told otherwise: the transient faults a retrying worker
# must survive. Timeouts are opt-in because each one holds a client for its whole timeout.
DEFAULT_FAULT_MIX = {"429": 4.0, "503": 3.0, "500": 2.0, "malformed": 1.0}

_GENERATE_PATH = re.compile(r"(?:/.*)?/(v1|v1beta|v1alpha)/models/([^/:]+):generateContent")
# Vertex AI publishes the same models at a project path; callers send an OAuth Bearer token.
_VERTEX_PATH = re.compile(r"/(v1)/projects/[^/]+/locations/[^/]+/publishers/google/models/"
                          r"([^/:]+):generateContent")
_FAULT_TRIGGER = re.compile(r"\[fault:([a-z0-9_]+)\]")
_LATENCY_TRIGGER = re.compile(r"\[latency:(\d+(?:\.\d+)?)\]")
_INPUT_MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}

# Field names the real API knows, after snake_case → camelCase. Proto JSON rejects the rest,
# which is what catches a client's invented field (`negative_prompt`, `inlineImage`) here
# rather than in production.
_KNOWN_FIELDS = {
    "request": {"contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
                "generationConfig", "cachedContent"},
    "content": {"role", "parts"},
    "part": {"text", "inlineData", "fileData", "thought", "thoughtSignature", "functionCall",
             "functionResponse", "executableCode", "codeExecutionResult", "videoMetadata"},
    "inlineData": {"mimeType", "data"},
    "generationConfig": {"stopSequences", "responseMimeType", "responseSchema",
                         "responseJsonSchema", "responseModalities", "candidateCount",
                         "maxOutputTokens", "temperature", "topP", "topK", "seed",
                         "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
                         "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig",
                         "imageConfig", "mediaResolution"},
    "imageConfig": {"aspectRatio", "imageSize"},
}

_SAFETY_RATINGS = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "HIGH", "blocked": True},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
]
# Roughly what the real API bills for an input image; only used to make usage look real.
_INPUT_IMAGE_TOKENS = {PRO: 560, FLASH: 258}
_THOUGHT_TOKENS = {PRO: 240, FLASH: 0}


# --- configuration and state ------------------------------------------------------------------

@dataclass(frozen=True)
class FakeGeminiConfig:
    """Change a running app's config with `FakeGemini.configure(**changes)`."""

    api_key: str = "fake-gemini-key"
    latency: tuple[float, float] = (0.0, 0.0)  # seconds, uniform; a single number is fixed
    fault_rate: float = 0.0  # probability that an unscripted request gets a fault
    fault_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAULT_MIX))
    retry_delay: float = 1.5  # seconds, sent as RetryInfo.retryDelay on 429
    thought_images: int = 1  # interim `thought: true` images before the answer (Pro only)
    hang_seconds: float = 300.0  # how long a `timeout` outcome stays silent
    max_recorded: int = 100  # request bodies kept for inspection
    # Signs thoughtSignatures; keep it stable across restarts to keep old conversations valid.
    signature_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    random_seed: int | None = None  # makes fault and latency draws reproducible

    def __post_init__(self):
        if isinstance(self.latency, int | float):
            object.__setattr__(self, "latency", (float(self.latency), float(self.latency)))
        low, high = self.latency
        if not 0 <= low <= high:
            raise ValueError(f"latency must be 0 <= min <= max, got {self.latency}")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError(f"fault_rate must be within [0, 1], got {self.fault_rate}")
        _check_outcomes(self.fault_mix)
        if self.fault_rate and not any(weight > 0 for weight in self.fault_mix.values()):
            raise ValueError("fault_rate needs at least one fault with a positive weight")
        if isinstance(self.signature_secret, str):
            object.__setattr__(self, "signature_secret", self.signature_secret.encode())


_CONFIG_FIELDS = tuple(FakeGeminiConfig.__dataclass_fields__)


@dataclass
class ReceivedRequest:
    path: str
    model: str
    headers: dict[str, str]
    body: object  # the parsed JSON, or the raw text when it was not JSON


@dataclass
class FakeGeminiServer:
    """What `running_fake_gemini` yields."""

    base_url: str
    api_key: str
    app: "FakeGemini"


def _check_outcomes(names) -> None:
    unknown = [name for name in names if name not in OUTCOMES]
    if unknown:
        raise ValueError(f"unknown outcomes {unknown}; known: {', '.join(OUTCOMES)}")


class _Reject(Exception):
    """An error answer in the google.rpc.Status shape."""

    def __init__(self, code: int, status: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details


@dataclass
class _Part:
    text: str | None = None
    image: bytes | None = None
    mime_type: str = ""
    thought: bool = False
    signature: str | None = None


@dataclass
class _Call:
    """A validated generateContent request, reduced to what the fake acts on."""

    model: str
    tier: str
    aspect_ratio: str
    modalities: set[str]
    grounded: bool
    prompt: str  # text of the current (last) user turn, where triggers are read
    prompt_tokens: int


# --- images: generating big PNGs is slow, so each size is encoded once per process ------------

@dataclass(frozen=True)
class _Png:
    data: bytes
    b64: str
    sha256: bytes


_png_cache: dict[tuple[int, int, int], _Png] = {}
_png_lock = threading.Lock()


def _render_png(width: int, height: int, variant: int) -> _Png:
    with _png_lock:  # concurrent first requests for one size encode it once
        cached = _png_cache.get((width, height, variant))
        if cached is None:
            ramp = Image.linear_gradient("L")
            red = ramp.rotate(90).resize((width, height), Image.Resampling.BILINEAR)
            blue = ramp.resize((width, height), Image.Resampling.BILINEAR)
            green = Image.new("L", (width, height), (60 + 70 * variant) % 256)
            buffer = io.BytesIO()
            Image.merge("RGB", (red, green, blue)).save(buffer, format="PNG", compress_level=1)
            data = buffer.getvalue()
            cached = _Png(data, base64.b64encode(data).decode(), hashlib.sha256(data).digest())
            _png_cache[(width, height, variant)] = cached
        return cached


async def _png(width: int, height: int, variant: int = 0) -> _Png:
    cached = _png_cache.get((width, height, variant))
    if cached is not None:
        return cached
    # The first 4K encode takes a moment; keep the event loop serving everyone else meanwhile.
    return await asyncio.to_thread(_render_png, width, height, variant)


# --- wire helpers ------------------------------------------------------------------------------

def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _camelize(value):
    """Proto JSON accepts both casings; normalize once so the rest reads one spelling."""
    if isinstance(value, dict):
        return {_camel(key): _camelize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camelize(item) for item in value]
    return value


def decode_base64(text: str) -> bytes:
    """Standard or URL-safe alphabet, padded or not, as the real API accepts."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def _reject_unknown_fields(obj: dict, kind: str, where: str) -> None:
    unknown = sorted(set(obj) - _KNOWN_FIELDS[kind])
    if unknown:
        raise _Reject(400, "INVALID_ARGUMENT", f'Invalid JSON payload received. Unknown name '
                      f'"{unknown[0]}" at \'{where}\': Cannot find field.')


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _closest_ratio(image_bytes: bytes) -> str:
    """The catalog ratio nearest the input image's shape; 1:1 if Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as image:
            width, height = image.size
    except Exception:  # HEIC and friends: Pillow cannot open them without plugins
        return "1:1"

    def distance(ratio: str) -> float:
        w, h = (int(n) for n in ratio.split(":"))
        return abs(math.log(width / height) - math.log(w / h))

    return min(ASPECT_RATIOS, key=distance)


def _json(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _status_body(code: int, status: str, message: str, details: list | None = None) -> bytes:
    error = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return _json({"error": error})


def _format_duration(seconds: float) -> str:
    """google.protobuf.Duration in JSON: decimal seconds with an `s`, e.g. "1.5s"."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


async def _read_body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send(send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type + b"; charset=UTF-8"),
               (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the app -----------------------------------------------------------------------------------

class FakeGemini:
    """The ASGI app. Counters are plain attributes; read them from any thread."""

    def __init__(self, script: list[str] | None = None, **config):
        self.config = self._initial_config = FakeGeminiConfig(**config)
        self._initial_script = list(script or [])
        self.reset(config=True)

    def configure(self, script: list[str] | None = None, **changes) -> None:
        """Change config at runtime; `script` replaces the queue of scripted outcomes."""
        if changes:
            current = {name: getattr(self.config, name) for name in _CONFIG_FIELDS}
            self.config = FakeGeminiConfig(**(current | changes))
            if "random_seed" in changes:
                self._random = random.Random(self.config.random_seed)
            if "max_recorded" in changes:
                self.received = deque(self.received, maxlen=self.config.max_recorded)
        if script is not None:
            _check_outcomes(script)
            self._script = deque(script)

    def reset(self, config: bool = False) -> None:
        """Zero the counters and forget recorded requests.

        With `config=True` also go back to the config and script the app was built with, so
        one server can be shared by many tests.
        """
        if config:
            self.config = self._initial_config
            self._random = random.Random(self.config.random_seed)
            self.configure(script=self._initial_script)
        self.request_count = 0
        # A gauge, not a counter: requests still running keep their place in it.
        self.in_flight = getattr(self, "in_flight", 0)
        self.max_in_flight = self.in_flight
        self.outcomes: Counter[str] = Counter()
        self.received: deque[ReceivedRequest] = deque(maxlen=self.config.max_recorded)

    @property
    def bodies(self) -> list:
        return [request.body for request in self.received]

    @property
    def scripted_left(self) -> int:
        return len(self._script)

    # ASGI entry point.
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/healthz":
            await _send(send, 200, _json({"status": "ok"}))
            return
        match = _GENERATE_PATH.fullmatch(path) or _VERTEX_PATH.fullmatch(path)
        if match is None:
            await _send(send, 404, _status_body(404, "NOT_FOUND", f"Method not found: {path}"))
            return
        if method != "POST":
            await _send(send, 405, _status_body(405, "METHOD_NOT_ALLOWED", "Use POST."))
            return

        self.request_count += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            raw = await _read_body(receive)
            if raw is None:
                return
            answer = await self._answer(scope, match.group(2), raw, receive)
            if answer is not None:
                await _send(send, *answer)
        finally:
            self.in_flight -= 1

    async def _answer(self, scope, model: str, raw: bytes, receive) -> tuple[int, bytes] | None:
        """The (status, body) to send, or None when the client hung up while we waited."""
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"]}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.received.append(ReceivedRequest(scope["path"], model, headers,
                                             body if body is not None else raw[:2000].decode(
                                                 "utf-8", "replace")))
        try:
            self._authenticate(headers, scope.get("query_string", b""))
            if model not in MODELS:
                raise _Reject(404, "NOT_FOUND", f"models/{model} is not found for API version "
                              f"v1beta, or is not supported for generateContent.")
            if not isinstance(body, dict):
                raise _Reject(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            call = self._parse(model, _camelize(body))
            outcome, latency = self._choose(call.prompt, headers)
        except _Reject as rejected:
            self.outcomes["rejected"] += 1
            return rejected.code, _status_body(rejected.code, rejected.status, rejected.message,
                                               rejected.details)

        self.outcomes[outcome] += 1
        if outcome == "429":
            return 429, self._rate_limited()
        if outcome == "timeout":
            if not await self._wait_unless_gone(receive, self.config.hang_seconds):
                return None
            return 504, _status_body(504, "DEADLINE_EXCEEDED", "Deadline expired before "
                                     "operation could complete.")
        if not await self._wait_unless_gone(receive, latency):
            return None
        return await self._respond(outcome, call)

    def _authenticate(self, headers: dict, query_string: bytes) -> None:
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            # Vertex style: an OAuth access token (the fake token server issues `api_key`).
            if not hmac.compare_digest(bearer[7:].strip().encode(), self.config.api_key.encode()):
                raise _Reject(401, "UNAUTHENTICATED", "Request had invalid authentication "
                              "credentials. Expected OAuth 2 access token.")
            return
        key = headers.get("x-goog-api-key") or next(
            iter(parse_qs(query_string.decode("latin-1")).get("key", [])), "")
        if not key:
            raise _Reject(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers "
                          "(callers without established identity). Please use API Key or other "
                          "form of API consumer identity to call this API.")
        if not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            raise _Reject(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                          [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"}}])

    # --- validation ----------------------------------------------------------------------------

    def _parse(self, model: str, body: dict) -> _Call:
        _reject_unknown_fields(body, "request", "")
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _Reject(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents "
                          "is not specified")
        turns = [self._parse_turn(content, index) for index, content in enumerate(contents)]
        roles = [role for role, _ in turns]
        if roles[-1] != "user":
            raise _Reject(400, "INVALID_ARGUMENT", "Please ensure that the last turn is a user "
                          "turn.")
        self._check_signatures(turns)

        config = body.get("generationConfig") or {}
        _reject_unknown_fields(config, "generationConfig", "generation_config")
        image_config = config.get("imageConfig") or {}
        _reject_unknown_fields(image_config, "imageConfig", "generation_config.image_config")
        images = [part.image for _, parts in turns for part in parts if part.image is not None]
        ratio = image_config.get("aspectRatio") or (_closest_ratio(images[-1]) if images else "1:1")
        if ratio not in ASPECT_RATIOS:
            raise _Reject(400, "INVALID_ARGUMENT", f"Unsupported aspect ratio: {ratio}. "
                          f"Supported values: {', '.join(ASPECT_RATIOS)}.")
        tier = image_config.get("imageSize", "1K")
        if tier not in TIERS:  # the real API is case-sensitive here: "4k" is a 400
            raise _Reject(400, "INVALID_ARGUMENT", f"Invalid value at 'generation_config."
                          f"image_config.image_size': {tier!r}. Supported values: 1K, 2K, 4K.")
        if tier not in MODELS[model].tiers:
            raise _Reject(400, "INVALID_ARGUMENT", f"image_size {tier} is not supported by "
                          f"{model}.")
        seed = config.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise _Reject(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.seed' "
                          "(TYPE_INT32).")
        modalities = {str(m).upper() for m in config.get("responseModalities") or ["TEXT", "IMAGE"]}
        tools = body.get("tools") or []
        grounded = any(isinstance(tool, dict) and "googleSearch" in tool for tool in tools)

        texts = [part.text for _, parts in turns for part in parts if part.text]
        prompt = " ".join(part.text for part in turns[-1][1] if part.text)
        prompt_tokens = (sum(_tokens(text) for text in texts)
                         + len(images) * _INPUT_IMAGE_TOKENS[model])
        return _Call(model, tier, ratio, modalities, grounded, prompt, prompt_tokens)

    def _parse_turn(self, content, index: int) -> tuple[str, list[_Part]]:
        where = f"contents[{index}]"
        if not isinstance(content, dict):
            raise _Reject(400, "INVALID_ARGUMENT", f"Invalid value at '{where}'.")
        _reject_unknown_fields(content, "content", where)
        role = content.get("role") or "user"
        if role not in ("user", "model"):
            raise _Reject(400, "INVALID_ARGUMENT", f"Please use a valid role: user, model. "
                          f"Got {role!r} at {where}.")
        raw_parts = content.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            raise _Reject(400, "INVALID_ARGUMENT", f"* GenerateContentRequest.{where}.parts: "
                          f"contents.parts must not be empty.")
        return role, [self._parse_part(part, f"{where}.parts[{i}]")
                      for i, part in enumerate(raw_parts)]

    def _parse_part(self, part, where: str) -> _Part:
        if not isinstance(part, dict):
            raise _Reject(400, "INVALID_ARGUMENT", f"Invalid value at '{where}'.")
        _reject_unknown_fields(part, "part", where)
        parsed = _Part(thought=part.get("thought") is True, signature=part.get("thoughtSignature"))
        if isinstance(part.get("text"), str):
            parsed.text = part["text"]
        elif isinstance(part.get("inlineData"), dict):
            inline = part["inlineData"]
            _reject_unknown_fields(inline, "inlineData", f"{where}.inline_data")
            parsed.mime_type = inline.get("mimeType") or ""
            if parsed.mime_type not in _INPUT_MIME_TYPES:
                raise _Reject(400, "INVALID_ARGUMENT", f"Unsupported MIME type: "
                              f"{parsed.mime_type or '(missing)'} at {where}.inline_data.")
            try:
                parsed.image = decode_base64(str(inline.get("data") or ""))
            except (binascii.Error, ValueError):
                raise _Reject(400, "INVALID_ARGUMENT", f"Invalid value at '{where}.inline_data."
                              f"data' (TYPE_BYTES), Base64 decoding failed.") from None
            if not parsed.image:
                raise _Reject(400, "INVALID_ARGUMENT", f"{where}.inline_data.data is empty.")
        else:
            raise _Reject(400, "INVALID_ARGUMENT", f"The fake only understands text and "
                          f"inlineData parts ({where}).")
        return parsed

    # --- thought signatures --------------------------------------------------------------------

    def _signature(self, part: _Part) -> bytes:
        if part.image is not None:
            content = b"image\0" + part.mime_type.encode() + b"\0" + hashlib.sha256(
                part.image).digest()
        else:
            content = b"text\0" + (part.text or "").encode()
        return hmac.new(self.config.signature_secret, content, hashlib.sha256).digest()

    def _sign_image(self, png: _Png) -> str:
        content = b"image\0image/png\0" + png.sha256
        digest = hmac.new(self.config.signature_secret, content, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def _sign_text(self, text: str) -> str:
        return base64.b64encode(self._signature(_Part(text=text))).decode()

    def _check_signatures(self, turns: list[tuple[str, list[_Part]]]) -> None:
        """Like the real API: prior model parts must come back with their signatures exactly.

        Signatures are compared as bytes because clients may re-encode them (the SDK sends
        URL-safe base64); the content they sign must be unchanged.
        """
        for index, (role, parts) in enumerate(turns):
            if role != "model":
                continue
            for part_index, part in enumerate(parts):
                if part.thought:  # interim thinking images carry no signature
                    continue
                where = f"contents[{index}].parts[{part_index}]"
                if not part.signature:
                    raise _Reject(400, "INVALID_ARGUMENT", f"Model part {where} is missing a "
                                  f"thought_signature. Send back every model turn exactly as "
                                  f"it was received.")
                try:
                    given = decode_base64(part.signature)
                except (binascii.Error, ValueError):
                    given = b""
                if not hmac.compare_digest(given, self._signature(part)):
                    raise _Reject(400, "INVALID_ARGUMENT", f"Thought signature is not valid "
                                  f"for {where}.")

    # --- outcomes ------------------------------------------------------------------------------

    def _choose(self, prompt: str, headers: dict) -> tuple[str, float]:
        outcome = None
        trigger = _FAULT_TRIGGER.search(prompt)
        if trigger:
            outcome = trigger.group(1)
        elif headers.get("x-fake-fault"):
            outcome = headers["x-fake-fault"].strip()
        elif self._script:
            outcome = self._script.popleft()
        elif self.config.fault_rate and self._random.random() < self.config.fault_rate:
            names = [name for name, weight in self.config.fault_mix.items() if weight > 0]
            weights = [self.config.fault_mix[name] for name in names]
            outcome = self._random.choices(names, weights)[0]
        if outcome is not None and outcome not in OUTCOMES:
            raise _Reject(400, "INVALID_ARGUMENT", f"Unknown fake fault {outcome!r}; known: "
                          f"{', '.join(OUTCOMES)}.")

        latency_trigger = _LATENCY_TRIGGER.search(prompt)
        if latency_trigger:
            latency = float(latency_trigger.group(1))
        elif headers.get("x-fake-latency"):
            try:
                latency = float(headers["x-fake-latency"])
            except ValueError:
                raise _Reject(400, "INVALID_ARGUMENT", "x-fake-latency must be seconds.") from None
        else:
            latency = self._random.uniform(*self.config.latency)
        return outcome or "ok", latency

    async def _wait_unless_gone(self, receive, seconds: float) -> bool:
        """Sleep, but stop when the client hangs up; True if it is still there.

        Without this a timed-out client would leave its request counted in flight (and a
        coroutine sleeping) for the rest of the hang.
        """
        if seconds <= 0:
            return True
        watcher = asyncio.ensure_future(_until_disconnect(receive))
        try:
            done, _ = await asyncio.wait({watcher}, timeout=seconds)
        finally:
            watcher.cancel()
        return not done

    def _rate_limited(self) -> bytes:
        return _status_body(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please "
                            "check your plan and billing details.", [
                                {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                 "violations": [{"quotaMetric": "generativelanguage.googleapis"
                                                 ".com/generate_content_paid_tier_input_token"
                                                 "_count", "quotaId": "PerMinute"}]},
                                {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                 "retryDelay": _format_duration(self.config.retry_delay)}])

    async def _respond(self, outcome: str, call: _Call) -> tuple[int, bytes]:
        if outcome == "500":
            return 500, _status_body(500, "INTERNAL", "An internal error has occurred. Please "
                                     "retry or report in https://developers.generativeai.google"
                                     "/guide/troubleshooting")
        if outcome == "503":
            return 503, _status_body(503, "UNAVAILABLE", "The model is overloaded. Please try "
                                     "again later.")
        if outcome == "malformed":
            return 200, b'{"candidates":[{"content":{"role":"model","parts":[{"inlineData":{"mi'

        envelope = {"modelVersion": call.model, "responseId": secrets.token_urlsafe(16)}
        prompt_usage = {"promptTokenCount": call.prompt_tokens,
                        "totalTokenCount": call.prompt_tokens}
        if outcome in ("safety", "prohibited"):
            reason = "SAFETY" if outcome == "safety" else "PROHIBITED_CONTENT"
            feedback = {"blockReason": reason}
            if outcome == "safety":
                feedback["safetyRatings"] = _SAFETY_RATINGS
            return 200, _json({"promptFeedback": feedback, "usageMetadata": prompt_usage}
                              | envelope)
        if outcome == "image_safety":
            candidate = {"finishReason": "IMAGE_SAFETY", "index": 0,
                         "finishMessage": "Unable to show the generated image. The image was "
                                          "filtered out because it violated Google's Generative "
                                          "AI Prohibited Use policy.",
                         "safetyRatings": _SAFETY_RATINGS}
            return 200, _json({"candidates": [candidate], "usageMetadata": prompt_usage}
                              | envelope)
        if outcome == "no_image":
            return 200, _json({"candidates": [{"finishReason": "NO_IMAGE", "index": 0}],
                               "usageMetadata": prompt_usage} | envelope)

        with_image = outcome == "ok" and "IMAGE" in call.modalities
        with_text = outcome == "text_only" or "TEXT" in call.modalities
        return 200, _json(await self._success(call, with_image, with_text) | envelope)

    async def _success(self, call: _Call, with_image: bool, with_text: bool) -> dict:
        width, height = output_dimensions(call.model, call.tier, call.aspect_ratio)
        parts, text_tokens = [], 0
        if with_image and call.model == PRO:  # only the thinking model shows drafts
            draft_width, draft_height = output_dimensions(PRO, "1K", call.aspect_ratio)
            for variant in range(1, self.config.thought_images + 1):
                draft = await _png(draft_width, draft_height, variant)
                parts.append({"inlineData": {"mimeType": "image/png", "data": draft.b64},
                              "thought": True})
        if with_text:
            text = (f"Here is your {width}x{height} image." if with_image
                    else "I can describe it, but I did not draw an image this time.")
            text_tokens = _tokens(text)
            parts.append({"text": text, "thoughtSignature": self._sign_text(text)})
        image_tokens = 0
        if with_image:
            png = await _png(width, height)
            image_tokens = MODELS[call.model].output_tokens[call.tier]
            parts.append({"inlineData": {"mimeType": "image/png", "data": png.b64},
                          "thoughtSignature": self._sign_image(png)})

        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                     "index": 0}
        if call.grounded:
            candidate["groundingMetadata"] = {"webSearchQueries": [call.prompt[:80]]}
        thoughts = _THOUGHT_TOKENS[call.model]
        details = [{"modality": "IMAGE", "tokenCount": image_tokens}] if image_tokens else []
        if text_tokens:
            details.append({"modality": "TEXT", "tokenCount": text_tokens})
        usage = {"promptTokenCount": call.prompt_tokens,
                 "candidatesTokenCount": image_tokens + text_tokens,
                 "totalTokenCount": call.prompt_tokens + image_tokens + text_tokens + thoughts,
                 "candidatesTokensDetails": details}
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return {"candidates": [candidate], "usageMetadata": usage}


# --- running it --------------------------------------------------------------------------------

@contextlib.contextmanager
def running_fake_gemini(**config) -> Iterator[FakeGeminiServer]:
    """Serve a FakeGemini on 127.0.0.1 (a free port) from a background thread.

    Takes the FakeGemini keyword arguments (FakeGeminiConfig fields and `script`).
    """
    app = FakeGemini(**config)
    # proto must say TCP: asyncio only turns Nagle off (TCP_NODELAY) on sockets that do, and
    # with Nagle on every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        app, lifespan="off", http="h11", loop="asyncio", log_config=None, log_level="warning",
        access_log=False, backlog=2048,
        # Requests still hanging at shutdown are cancelled after this long.
        timeout_graceful_shutdown=1,
    ))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"fake-gemini-{port}")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the fake Gemini server did not start")
        time.sleep(0.01)
    try:
        yield FakeGeminiServer(base_url=f"http://127.0.0.1:{port}", api_key=app.config.api_key,
                               app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _parse_latency(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    return float(low), float(high or low)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.fake_gemini",
                                     description="Serve a fake Gemini image API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api-key", default=os.environ.get("FAKE_GEMINI_API_KEY",
                                                            "fake-gemini-key"))
    parser.add_argument("--latency", type=_parse_latency, default=(0.0, 0.0),
                        help="seconds, MIN-MAX (uniform) or a single value")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default=",".join(DEFAULT_FAULT_MIX),
                        help="outcomes --fault-rate draws from, equally weighted")
    parser.add_argument("--retry-delay", type=float, default=1.5)
    parser.add_argument("--thought-images", type=int, default=1)
    parser.add_argument("--hang", type=float, default=300.0, help="seconds a timeout hangs")
    parser.add_argument("--seed", type=int, default=None, help="for reproducible fault draws")
    args = parser.parse_args(argv)
    app = FakeGemini(
        api_key=args.api_key, latency=args.latency, fault_rate=args.fault_rate,
        fault_mix={name.strip(): 1.0 for name in args.faults.split(",") if name.strip()},
        retry_delay=args.retry_delay, thought_images=args.thought_images,
        hang_seconds=args.hang, random_seed=args.seed,
    )
    uvicorn.run(app, host=args.host, port=args.port, lifespan="on", log_level="info",
                access_log=False, backlog=4096, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
