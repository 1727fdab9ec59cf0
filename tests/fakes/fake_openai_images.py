"""A tiny fake OpenAI-compatible images API: `POST /v1/images/generations` (JSON),
`POST /v1/images/edits` (multipart, `image` / `image[]` parts), Bearer auth, answers with
`b64_json` (or a `url` served at `/v1/files/...` when the prompt says `[format:url]`).

Faults by prompt trigger, as in the fake Gemini: `[fault:429]` (with `retry-after-ms`),
`[fault:500]`, `[fault:503]`, `[fault:moderation]` (400 moderation_blocked), `[fault:400]`,
`[fault:empty]` (200 with no data).
"""

import base64
import contextlib
import email.parser
import email.policy
import io
import json
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from tests.fakes.asgi_server import read_body, send_response, serving

_FAULT = re.compile(r"\[fault:([a-z0-9_]+)\]")


def _png(size: str) -> bytes:
    width, height = (int(n) for n in size.split("x"))
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 150)).save(buffer, format="PNG")
    return buffer.getvalue()


def _error(status: int, message: str, type_: str, code: str | None = None) -> tuple[int, bytes]:
    return status, json.dumps({"error": {"message": message, "type": type_, "param": None,
                                         "code": code}}).encode()


class FakeOpenAIImages:
    def __init__(self, api_key: str = "sk-fake-openai"):
        self.api_key = api_key
        self.requests: list[dict] = []
        self.outcomes: Counter[str] = Counter()
        self.files: dict[str, bytes] = {}
        self.base_url = ""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path, headers = scope["path"], {k.decode(): v.decode() for k, v in scope["headers"]}
        body = await read_body(receive)
        if scope["method"] == "GET" and path.startswith("/v1/files/"):
            data = self.files.get(path.rsplit("/", 1)[-1])
            await send_response(send, 200 if data else 404, data or b"", "image/png")
            return
        extra = []
        if headers.get("authorization") != f"Bearer {self.api_key}":
            status, answer = _error(401, "Incorrect API key provided.", "invalid_request_error",
                                    "invalid_api_key")
        elif path == "/v1/images/generations":
            status, answer, extra = self._generate(json.loads(body or b"{}"), path)
        elif path == "/v1/images/edits":
            status, answer, extra = self._generate(self._multipart(headers, body), path)
        else:
            status, answer = _error(404, f"Unknown path {path}", "invalid_request_error")
        await send_response(send, status, answer, headers=extra)

    def _multipart(self, headers: dict, body: bytes) -> dict:
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            b"content-type: " + headers["content-type"].encode() + b"\r\n\r\n" + body)
        fields: dict = {"images": []}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name in ("image", "image[]"):
                fields["images"].append(part.get_content())
            else:
                fields[name] = part.get_content().strip()
        return fields

    def _generate(self, fields: dict, path: str):
        self.requests.append({"path": path, **{k: v for k, v in fields.items() if k != "images"},
                              "image_count": len(fields.get("images", []))})
        prompt = str(fields.get("prompt", ""))
        trigger = _FAULT.search(prompt)
        outcome = trigger.group(1) if trigger else "ok"
        self.outcomes[outcome] += 1
        if outcome == "429":
            return (*_error(429, "Rate limit reached for images.", "requests",
                            "rate_limit_exceeded"), [(b"retry-after-ms", b"250")])
        if outcome in ("500", "503"):
            return (*_error(int(outcome), "The server had an error.", "server_error"), [])
        if outcome == "moderation":
            return (*_error(400, "Your request was rejected by the safety system.",
                            "image_generation_user_error", "moderation_blocked"), [])
        if outcome == "400":
            return (*_error(400, "Invalid size.", "invalid_request_error", "invalid_value"), [])
        if outcome == "empty":
            return 200, json.dumps({"created": 0, "data": []}).encode(), []
        size = str(fields.get("size") or "1024x1024")
        png = _png(size)
        item = {"b64_json": base64.b64encode(png).decode(), "url": None, "revised_prompt": None}
        if "[format:url]" in prompt:
            name = secrets.token_hex(8) + ".png"
            self.files[name] = png
            item = {"b64_json": None, "url": f"{self.base_url}/v1/files/{name}"}
        return 200, json.dumps({"created": 1732406400, "data": [item], "size": size,
                                "output_format": "png", "usage": {
                                    "input_tokens": 12, "output_tokens": 1056,
                                    "total_tokens": 1068}}).encode(), []


@dataclass
class RunningFakeOpenAI:
    app: FakeOpenAIImages
    base_url: str  # already ends in /v1, like OPENAI_BASE_URL
    api_key: str


@contextlib.contextmanager
def running_fake_openai_images(api_key: str = "sk-fake-openai") -> Iterator[RunningFakeOpenAI]:
    app = FakeOpenAIImages(api_key)
    with serving(app) as base:
        app.base_url = base
        yield RunningFakeOpenAI(app, f"{base}/v1", api_key)
