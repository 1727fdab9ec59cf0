"""OpenAI-compatible Images API: POST /v1/images/generations, POST /v1/images/edits, GET /v1/models.

Each request submits ordinary jobs (`n` of them, reserved all together or not at all), waits for
them without pinning a thread, and answers in OpenAI's shape. Errors: one handler, OpenAI's shape.
"""

import base64
import math

from django.http import JsonResponse

from accounts.models import Scope
from config.compiled import CompiledQuery
from config.errors import DomainError
from generation import catalog
from generation.compat.common import (
    JobDidNotSucceed,
    WaitTimedOut,
    authenticate,
    compat_view,
    describe_any,
    json_body,
)
from generation.compat.sizes import map_openai_size
from generation.limits import concurrency_check
from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.services import jobs_submit
from generation.signing import absolute, signed_image_path
from generation.uploads import decode_upload
from generation.waiting import db_call, jobs_wait

# OpenAI model names existing code sends; each runs on the Gemini model it names here.
MODEL_ALIASES = {
    "gpt-image-1": catalog.PRO,
    "gpt-image-1.5": catalog.PRO,
    "gpt-image-1-mini": catalog.FLASH,
    "dall-e-3": catalog.PRO,
    "dall-e-2": catalog.FLASH,
}
MAX_N = 10
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                402: "insufficient_quota", 403: "permission_error", 404: "not_found_error",
                405: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error",
                429: "rate_limit_error"}
_UPSTREAM_STATUS = {"upstream_invalid_request": 400, "upstream_timeout": 504}
# Estimates when the upstream reported no usage (local renders): Gemini's token prices.
_INPUT_IMAGE_TOKENS = 560


def render_error(exc) -> JsonResponse:
    """The one OpenAI-shaped error handler: {"error": {"message", "type", "param", "code"}}."""
    status, error, headers = describe_any(exc)
    body = {"message": error["message"], "type": _ERROR_TYPES.get(status, "server_error"),
            "param": error["param"], "code": error["code"]}
    if isinstance(exc, JobDidNotSucceed):
        body["generation_id"] = str(exc.job.id)
    response = JsonResponse({"error": body}, status=status)
    for name, value in headers.items():
        response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    # The SDK retries 408/409/429/5xx. Only a rate limit or a failed upstream call is worth
    # retrying; a wait that ran out leaves the job running (and paid), so never retry that.
    retry = status == 429 or (status >= 500 and not isinstance(exc, WaitTimedOut))
    response["x-should-retry"] = "true" if retry else "false"
    return response


def _integer(value, *, param: str, minimum: int, maximum: int, default: int | None = None):
    if value in (None, ""):
        return default
    try:
        number = int(value)  # multipart numbers arrive as strings
    except (TypeError, ValueError):
        raise DomainError(f"{param} must be an integer.", code="invalid_field", param=param) from None
    if not minimum <= number <= maximum:
        raise DomainError(f"{param} must be between {minimum} and {maximum}.",
                          code="invalid_field", param=param)
    return number


def _model(value) -> str:
    value = (value or "").strip() or catalog.PRO
    return MODEL_ALIASES.get(value, value)


def _submit(request, fields, images=(), mask=None) -> tuple[list, str]:
    tenant = authenticate(request)
    tenant.require(Scope.GENERATE)
    if str(fields.get("stream", "")).lower() in ("true", "1"):
        raise DomainError("Streaming (partial images) is not supported; omit 'stream'.",
                          code="unsupported_option", param="stream")
    model = _model(fields.get("model"))
    default_format = "url" if str(fields.get("model") or "").startswith("dall-e") else "b64_json"
    response_format = fields.get("response_format") or default_format
    if response_format not in ("url", "b64_json"):
        raise DomainError("response_format must be 'url' or 'b64_json'.", code="invalid_field",
                          param="response_format")
    tier, ratio = map_openai_size(fields.get("size"), model=model,
                                  aspect_ratio=fields.get("aspect_ratio"),
                                  image_size=fields.get("image_size"),
                                  first_image=images[0] if images else None)
    compression = _integer(fields.get("output_compression"), param="output_compression",
                           minimum=0, maximum=100)
    count = _integer(fields.get("n"), param="n", minimum=1, maximum=MAX_N, default=1)
    concurrency_check(organization=tenant.organization, extra=count)
    jobs = jobs_submit(
        tenant=tenant, model=model, prompt=str(fields.get("prompt") or ""), image_size=tier,
        aspect_ratio=ratio, count=count,
        seed=_integer(fields.get("seed"), param="seed", minimum=0, maximum=2**31 - 1),
        reference_images=images, mask=mask, output_format=fields.get("output_format") or None,
        output_dpi=_integer(fields.get("output_dpi"), param="output_dpi", minimum=1,
                            maximum=100_000),
        output_quality=None if compression is None else max(1, compression))
    return [job.id for job in jobs], response_format


def _usage(jobs: list[GenerationJob]) -> dict:
    text_tokens = image_tokens = output_tokens = 0
    for job in jobs:
        reported = job.usage or {}
        text_tokens += reported.get("promptTokenCount") or math.ceil(len(job.prompt) / 4)
        image_tokens += job.references.count() * _INPUT_IMAGE_TOKENS if not reported else 0
        output_tokens += reported.get("candidatesTokenCount") or \
            catalog.MODELS[job.model].output_tokens[job.tier]
    return {"input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            "output_tokens": output_tokens,
            "total_tokens": text_tokens + image_tokens + output_tokens}


def failure_error(job: GenerationJob) -> JobDidNotSucceed:
    """The error a request gets when none of its jobs succeeded."""
    if job.status == JobStatus.BLOCKED:
        reason = f" ({job.block_reason})" if job.block_reason else ""
        return JobDidNotSucceed(job, f"Your request was rejected by the safety system{reason}. "
                                "No credits were charged for it.", code="content_policy_violation",
                                param="prompt")
    if job.status == JobStatus.CANCELED:
        return JobDidNotSucceed(job, "The generation was canceled.", code="generation_canceled",
                                status_code=409)
    return JobDidNotSucceed(job, f"The generation failed: {job.error_message or job.error_code}. "
                            "No credits were charged for it.", code=job.error_code or "failed",
                            status_code=_UPSTREAM_STATUS.get(job.error_code, 502))


# Every answer runs it: compiled once (see config/compiled.py).
_SUCCEEDED_IMAGES = CompiledQuery(lambda v: GeneratedImage.objects.select_related("job").filter(
    job_id__in=v.job_ids, job__status=JobStatus.SUCCEEDED).order_by("job__created_at", "job_id",
                                                                    "index"))


def _render(request, job_ids: list, response_format: str) -> dict:
    # One query for the usual answer: the succeeded jobs' images, each with its job.
    images = _SUCCEEDED_IMAGES.fetch(job_ids=list(job_ids))
    if not images:
        first = GenerationJob.objects.filter(pk__in=job_ids).order_by("created_at", "id").first()
        raise failure_error(first)
    succeeded = list({image.job_id: image.job for image in images}.values())
    data = []
    for image in images:
        item = {"url": None, "b64_json": None, "revised_prompt": None}
        if response_format == "url":
            path, _ = signed_image_path(image.id)
            item["url"] = absolute(request, path)
        else:
            with image.file.open("rb") as handle:
                item["b64_json"] = base64.b64encode(handle.read()).decode()
        data.append(item)
    first = images[0]
    return {"created": int(min(job.created_at for job in succeeded).timestamp()), "data": data,
            "output_format": first.mime_type.split("/")[-1], "size": f"{first.width}x{first.height}",
            "usage": _usage(succeeded)}


async def _run(request, job_ids: list, response_format: str) -> JsonResponse:
    if not await jobs_wait(job_ids, just_queued=True):
        raise WaitTimedOut("The generation is taking longer than this request waits. It is still "
                           f"running; fetch it later from /api/v1/generations/{job_ids[0]}.")
    return JsonResponse(await db_call(_render, request, job_ids, response_format))


@compat_view(render_error, methods=("POST",))
async def generations(request):
    job_ids, response_format = await db_call(
        lambda: _submit(request, json_body(request)))
    return await _run(request, job_ids, response_format)


def _submit_edit(request):
    authenticate(request)  # an unauthenticated caller learns nothing about its upload
    uploads = [("image", upload) for upload in request.FILES.getlist("image")]
    uploads += [(f"image[{i}]", upload) for i, upload in enumerate(request.FILES.getlist("image[]"))]
    if not uploads:
        raise DomainError("An image to edit is required (multipart part 'image' or 'image[]').",
                          code="missing_field", param="image")
    images = [decode_upload(upload, param=param) for param, upload in uploads]
    mask = None
    if "mask" in request.FILES:
        mask = decode_upload(request.FILES["mask"], param="mask")
        if mask.mime_type != "image/png":
            raise DomainError("mask must be a PNG (its transparent areas mark what to change).",
                              code="invalid_mask", param="mask")
        if (mask.width, mask.height) != (images[0].width, images[0].height):
            raise DomainError("mask must have the same size as the first image.",
                              code="invalid_mask", param="mask")
    return _submit(request, request.POST, images, mask)


@compat_view(render_error, methods=("POST",))
async def edits(request):
    job_ids, response_format = await db_call(_submit_edit, request)
    return await _run(request, job_ids, response_format)


def model_data(spec) -> dict:
    return {"id": spec.id, "object": "model", "created": 0, "owned_by": "google"}


def _models(request, model: str | None) -> dict:
    authenticate(request)
    if model is None:
        return {"object": "list", "data": [model_data(spec) for spec in catalog.MODELS.values()]}
    spec = catalog.MODELS.get(_model(model))
    if spec is None:
        raise DomainError(f"The model '{model}' does not exist.", code="model_not_found",
                          param="model", status_code=404)
    return model_data(spec)


async def models(request, model: str | None = None):
    """GET /v1/models and /v1/models/{id}, reached through the version dispatcher in urls.py."""
    try:
        return JsonResponse(await db_call(_models, request, model))
    except Exception as exc:  # noqa: BLE001 - one error shape
        return render_error(exc)
