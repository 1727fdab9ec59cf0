"""Gemini-compatible generateContent: POST /{v1,v1beta,v1alpha}/models/{model}:generateContent.

Accepts what Google accepts (camelCase or snake_case, standard or URL-safe base64), answers in
camelCase as the SDKs read it, and carries a conversation's earlier turns (with their thought
signatures) through to the upstream unchanged, so multi-turn editing works. Errors: Google's shape.
"""

import base64
import json
import math
import re

from django.http import HttpResponse, JsonResponse

from accounts.models import Scope
from config.errors import DomainError, NotFound
from generation import catalog
from generation.compat.common import (
    JobDidNotSucceed,
    WaitTimedOut,
    authenticate,
    compat_view,
    describe_any,
    json_body,
)
from generation.limits import concurrency_check
from generation.models import GenerationJob, JobStatus
from generation.providers.base import Turn
from generation.services import jobs_submit
from generation.uploads import decode_base64_image
from generation.waiting import db_call, jobs_wait

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 402: "FAILED_PRECONDITION",
                 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 405: "UNIMPLEMENTED",
                 409: "ABORTED", 413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}
_UPSTREAM_STATUS = {"upstream_invalid_request": 400, "upstream_timeout": 504,
                    "upstream_rate_limited": 503, "upstream_unavailable": 503}
# Block reasons Gemini reports on the candidate (finishReason) rather than on the prompt.
_CANDIDATE_BLOCKS = {"SPII", "RECITATION", "NO_IMAGE", "MAX_TOKENS"}
_INPUT_IMAGE_TOKENS = 560
_SNAKE = re.compile(r"_([a-z0-9])")


def render_error(exc) -> JsonResponse:
    """The one Google-shaped error handler: {"error": {"code", "message", "status", "details"}}."""
    status, error, headers = describe_any(exc)
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": error["code"],
                "domain": "atelier", "metadata": {"param": error["param"]} if error["param"] else {}}]
    if "Retry-After" in headers:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{headers['Retry-After']}s"})
    response = JsonResponse({"error": {"code": status, "message": error["message"],
                                       "status": _STATUS_NAMES.get(status, "UNKNOWN"),
                                       "details": details}}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def camel_keys(value):
    """proto3 JSON accepts both casings; we read (and pass on) camelCase only."""
    if isinstance(value, dict):
        return {_SNAKE.sub(lambda m: m[1].upper(), key): camel_keys(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    return value


def _contents(body: dict) -> list[dict]:
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if isinstance(contents, str):
        contents = [{"role": "user", "parts": [{"text": contents}]}]
    if not isinstance(contents, list) or not contents or not all(
            isinstance(c, dict) and isinstance(c.get("parts"), list) for c in contents):
        raise DomainError("contents must be a non-empty list of {role, parts}.",
                          code="invalid_contents", param="contents")
    return contents


def _last_user_turn(content: dict, index: int) -> tuple[str, list]:
    if content.get("role", "user") != "user":
        raise DomainError("The last content must be the user's turn.", code="invalid_contents",
                          param=f"contents[{index}].role")
    texts, images = [], []
    for number, part in enumerate(content["parts"]):
        param = f"contents[{index}].parts[{number}]"
        if part.get("thought"):
            continue
        if "text" in part:
            texts.append(str(part["text"]))
        elif "inlineData" in part:
            images.append(decode_base64_image((part["inlineData"] or {}).get("data"),
                                              param=f"{param}.inlineData.data"))
        elif "fileData" in part:
            raise DomainError("fileData (the Files API) is not supported here; send images as "
                              "inlineData.", code="unsupported_part", param=param)
        else:
            raise DomainError(f"{param} has no text or inlineData.", code="unsupported_part",
                              param=param)
    return "\n".join(texts), images


def _grounding(tools) -> bool:
    grounding = False
    for tool in tools or []:
        for name in tool:
            if name in ("googleSearch", "googleSearchRetrieval"):
                grounding = True
            else:
                raise DomainError(f"The tool '{name}' is not supported by image generation.",
                                  code="unsupported_tool", param="tools")
    return grounding


def _output_format(image_config: dict) -> str | None:
    """Vertex's imageConfig.outputMimeType (image/png, image/jpeg, image/webp), if given."""
    mime_type = image_config.get("outputMimeType")
    if mime_type in (None, ""):
        return None
    if not isinstance(mime_type, str) or not mime_type.startswith("image/"):
        raise DomainError("imageConfig.outputMimeType must be an image/* type.",
                          code="unsupported_output_format",
                          param="generationConfig.imageConfig.outputMimeType")
    return mime_type.removeprefix("image/")


def _submit(request, model: str) -> str:
    tenant = authenticate(request, query_key=True)
    tenant.require(Scope.GENERATE)
    if model not in catalog.MODELS:
        raise NotFound(f"models/{model} is not found, or is not supported for generateContent.",
                       code="model_not_found", param="model")
    body = camel_keys(json_body(request))
    contents = _contents(body)
    prompt, images = _last_user_turn(contents[-1], len(contents) - 1)
    history = []
    for index, content in enumerate(contents[:-1]):
        role = content.get("role") or "user"
        if role not in ("user", "model") or not all(isinstance(p, dict) for p in content["parts"]):
            raise DomainError("Earlier contents must be user or model turns made of parts.",
                              code="invalid_contents", param=f"contents[{index}]")
        history.append(Turn(role=role, parts=content["parts"]))
    config = body.get("generationConfig") or {}
    modalities = [str(m).upper() for m in config.get("responseModalities") or ["IMAGE"]]
    if "IMAGE" not in modalities:
        raise DomainError("This service generates images: responseModalities must include IMAGE.",
                          code="unsupported_modality", param="generationConfig.responseModalities")
    if (config.get("candidateCount") or 1) != 1:
        raise DomainError("Image models return one candidate; candidateCount must be 1.",
                          code="invalid_field", param="generationConfig.candidateCount")
    image_config = config.get("imageConfig") or {}
    seed = config.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise DomainError("generationConfig.seed must be an integer.", code="invalid_field",
                          param="generationConfig.seed")
    concurrency_check(organization=tenant.organization)
    [job] = jobs_submit(tenant=tenant, model=model, prompt=prompt,
                        image_size=image_config.get("imageSize"),
                        aspect_ratio=image_config.get("aspectRatio"), seed=seed,
                        grounding=_grounding(body.get("tools")), reference_images=images,
                        history=history, output_format=_output_format(image_config),
                        output_quality=image_config.get("outputCompressionQuality"))
    return str(job.id)


def _usage(job: GenerationJob) -> dict:
    reported = job.usage or {}
    if "promptTokenCount" in reported:
        return reported
    prompt_tokens = math.ceil(len(job.prompt) / 4) + job.references.count() * _INPUT_IMAGE_TOKENS
    output_tokens = catalog.MODELS[job.model].output_tokens[job.tier]
    return {"promptTokenCount": prompt_tokens, "candidatesTokenCount": output_tokens,
            "totalTokenCount": prompt_tokens + output_tokens,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": output_tokens}]}


def _inline(image) -> dict:
    with image.file.open("rb") as handle:
        return {"mimeType": image.mime_type, "data": base64.b64encode(handle.read()).decode()}


def _parts(job: GenerationJob) -> list[dict]:
    """The upstream's own parts (thought signatures included) when it gave them; else ours.

    When the image was converted on storage (imageConfig.outputMimeType), the final images carry
    the converted bytes beside their original signatures, as Vertex answers that option."""
    images = list(job.images.all())
    if not job.model_turn:
        parts = [{"text": job.text}] if job.text else []
        return parts + [{"inlineData": _inline(image)} for image in images]
    parts = job.model_turn["parts"]
    if not job.params.get("output_format"):
        return parts
    converted, finals = [], iter(images)
    for part in parts:
        if "inlineData" in part and not part.get("thought"):
            image = next(finals, None)
            if image is not None:
                part = {**part, "inlineData": _inline(image)}
        converted.append(part)
    return converted


def response_for(job: GenerationJob) -> dict:
    """generateContent's answer for a finished job (raises for failures that are HTTP errors)."""
    common = {"usageMetadata": _usage(job), "modelVersion": job.model_version or job.model,
              "responseId": str(job.id)}
    if job.status == JobStatus.SUCCEEDED:
        candidate = {"content": {"role": "model", "parts": _parts(job)}, "finishReason": "STOP",
                     "index": 0}
        return {"candidates": [candidate], **common}
    common["usageMetadata"] = {**common["usageMetadata"], "candidatesTokenCount": 0,
                               "totalTokenCount": common["usageMetadata"]["promptTokenCount"]}
    common["usageMetadata"].pop("candidatesTokensDetails", None)
    if job.status == JobStatus.BLOCKED:
        # As Gemini answers a block: HTTP 200, the reason on the prompt or on the candidate.
        reason = (job.block_reason or "SAFETY").upper()
        if reason.startswith("IMAGE_") or reason in _CANDIDATE_BLOCKS:
            return {"candidates": [{"content": {"role": "model", "parts": []},
                                    "finishReason": reason, "index": 0}], **common}
        return {"promptFeedback": {"blockReason": reason, "safetyRatings": []}, **common}
    if job.status == JobStatus.CANCELED:
        raise JobDidNotSucceed(job, "The generation was canceled.", code="generation_canceled",
                               status_code=409)
    raise JobDidNotSucceed(job, f"The generation failed: {job.error_message or job.error_code}. "
                           "No credits were charged for it.", code=job.error_code or "failed",
                           status_code=_UPSTREAM_STATUS.get(job.error_code, 500))


def _render(job_id: str) -> dict:
    return response_for(GenerationJob.objects.prefetch_related("images").get(pk=job_id))


async def _generate(request, model: str) -> dict:
    job_id = await db_call(_submit, request, model)
    if not await jobs_wait([job_id], just_queued=True):
        raise WaitTimedOut("The generation is taking longer than this request waits. It is still "
                           f"running; fetch it later from /api/v1/generations/{job_id}.")
    return await db_call(_render, job_id)


@compat_view(render_error, methods=("POST",))
async def generate_content(request, version: str, model: str):
    return JsonResponse(await _generate(request, model))


@compat_view(render_error, methods=("POST",))
async def stream_generate_content(request, version: str, model: str):
    """`:streamGenerateContent?alt=sse`: an image arrives whole, so the stream is one event."""
    answer = await _generate(request, model)
    return HttpResponse(f"data: {json.dumps(answer, separators=(',', ':'))}\r\n\r\n",
                        content_type="text/event-stream")


@compat_view(render_error, methods=("POST", "GET"))
async def unsupported_method(request, version: str, model: str, method: str):
    raise DomainError(f"models.{method} is not supported by this service; use generateContent.",
                      code="unsupported_method", status_code=404)


def model_data(spec) -> dict:
    return {"name": f"models/{spec.id}", "baseModelId": spec.id, "version": spec.id,
            "displayName": spec.display_name,
            "description": f"{spec.display_name} image generation ({', '.join(spec.tiers)}).",
            "inputTokenLimit": 65536, "outputTokenLimit": 32768,
            "supportedGenerationMethods": ["generateContent"]}


def _models(request, model: str | None) -> dict:
    authenticate(request, query_key=True)
    if model is None:
        return {"models": [model_data(spec) for spec in catalog.MODELS.values()]}
    spec = catalog.MODELS.get(model.removeprefix("models/"))
    if spec is None:
        raise NotFound(f"models/{model} is not found.", code="model_not_found", param="model")
    return model_data(spec)


async def models(request, model: str | None = None):
    try:
        return JsonResponse(await db_call(_models, request, model))
    except Exception as exc:  # noqa: BLE001 - one error shape
        return render_error(exc)
