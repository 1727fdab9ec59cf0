"""Each compatible surface answers every refusal in its own shape, and writes nothing."""

import io
import json

import pytest
from django.test import Client
from PIL import Image
from rest_framework.exceptions import Throttled

from accounts.models import Scope
from accounts.services import api_key_create
from billing.models import Reservation
from generation.compat import gemini, openai
from generation.models import GenerationJob, JobStatus

PRO = "gemini-3-pro-image-preview"
GENERATE = f"/v1beta/models/{PRO}:generateContent"


def png(size=(64, 64), mode="RGB") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "image.png"
    return buffer


def openai_post(path, key=None, **kwargs):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return Client().post(path, **kwargs, **headers)


def gemini_post(body, key=None, raw=None):
    headers = {"HTTP_X_GOOG_API_KEY": key} if key else {}
    return Client().post(GENERATE, data=raw if raw is not None else json.dumps(body),
                         content_type="application/json", **headers)


def assert_openai_error(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]
    return error


def assert_google_error(response, status, google_status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, google_status)
    assert error["message"]
    return error


def test_openai_without_a_key(db):
    response = openai_post("/v1/images/generations", data={"prompt": "x"},
                           content_type="application/json")
    error = assert_openai_error(response, 401, "not_authenticated")
    assert error["type"] == "authentication_error"
    assert response["x-should-retry"] == "false"


def test_openai_key_without_generate_scope_is_403(owner):
    _, read_only = api_key_create(organization=owner.organization, name="reader",
                                  scopes=[Scope.READ])
    response = openai_post("/v1/images/generations", read_only, data={"prompt": "x"},
                           content_type="application/json")
    assert assert_openai_error(response, 403, "insufficient_scope")["type"] == "permission_error"


def test_openai_edit_refusals(owner, settings):
    def edit(**files):
        return openai_post("/v1/images/edits", owner.api_key, data={"prompt": "x", **files})

    assert_openai_error(edit(), 400, "missing_field")
    assert_openai_error(edit(image=png(), mask=png((32, 32), "RGBA")), 400, "invalid_mask")
    assert_openai_error(edit(image=png(), n="eleven"), 400, "invalid_field")
    settings.MAX_IMAGE_UPLOAD_BYTES = 1024
    big = png((400, 400))
    big.write(b"\x00" * 4096)
    big.seek(0)
    error = assert_openai_error(edit(image=big), 413, "image_too_large")
    assert error["param"] == "image"
    assert GenerationJob.objects.count() == Reservation.objects.count() == 0


def test_openai_unknown_model_and_bad_json(owner):
    response = openai_post("/v1/images/generations", owner.api_key,
                           data={"prompt": "x", "model": "imagen-9"},
                           content_type="application/json")
    assert assert_openai_error(response, 400, "unknown_model")["param"] == "model"
    response = openai_post("/v1/images/generations", owner.api_key, data="{not json",
                           content_type="application/json")
    assert_openai_error(response, 400, "invalid_json")
    response = openai_post("/v1/images/generations", owner.api_key,
                           data={"prompt": "x", "stream": True}, content_type="application/json")
    assert assert_openai_error(response, 400, "unsupported_option")["param"] == "stream"


def test_v1_models_answers_each_sdk_in_its_own_shape(owner):
    as_openai = Client().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {owner.api_key}")
    assert as_openai.json()["object"] == "list"
    assert as_openai.json()["data"][0] == {"id": PRO, "object": "model", "created": 0,
                                           "owned_by": "google"}
    as_google = Client().get("/v1/models", HTTP_X_GOOG_API_KEY=owner.api_key)
    assert as_google.json()["models"][0]["name"] == f"models/{PRO}"
    missing = Client().get("/v1beta/models/imagen-9", HTTP_X_GOOG_API_KEY=owner.api_key)
    assert_google_error(missing, 404, "NOT_FOUND")


@pytest.mark.parametrize(("body", "code"), [
    ({"contents": []}, "invalid_contents"),
    ({"contents": [{"parts": [{"text": "x"}]}],
      "generationConfig": {"responseModalities": ["TEXT"]}}, "unsupported_modality"),
    ({"contents": [{"parts": [{"file_data": {"file_uri": "gs://x"}}]}]}, "unsupported_part"),
    ({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"code_execution": {}}]},
     "unsupported_tool"),
    ({"contents": [{"parts": [{"text": "x"}, {"inlineData": {"data": "%%%"}}]}]},
     "invalid_base64"),
    ({"contents": [{"parts": [{"text": "x"}]}],
      "generationConfig": {"imageConfig": {"aspectRatio": "7:5"}}}, "unsupported_aspect_ratio"),
    ({"contents": [{"role": "model", "parts": [{"text": "x"}]}]}, "invalid_contents"),
    ({"contents": [{"role": "system", "parts": [{"text": "x"}]},
                   {"role": "user", "parts": [{"text": "x"}]}]}, "invalid_contents"),
])
def test_gemini_bad_requests(owner, body, code):
    error = assert_google_error(gemini_post(body, owner.api_key), 400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == code
    assert GenerationJob.objects.count() == Reservation.objects.count() == 0


def test_gemini_without_a_key_and_oversize_bodies(owner, settings):
    assert_google_error(gemini_post({"contents": "x"}), 401, "UNAUTHENTICATED")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = gemini_post({"contents": "x" * 5000}, owner.api_key)
    assert_google_error(response, 413, "INVALID_ARGUMENT")
    assert_google_error(Client().get(GENERATE, HTTP_X_GOOG_API_KEY=owner.api_key), 405,
                        "UNIMPLEMENTED")
    count = Client().post(f"/v1beta/models/{PRO}:countTokens", HTTP_X_GOOG_API_KEY=owner.api_key)
    assert_google_error(count, 404, "NOT_FOUND")


def test_our_rate_limit_renders_as_429_with_retry_after_on_both_surfaces():
    response = openai.render_error(Throttled(wait=12))
    assert (response.status_code, response["Retry-After"], response["x-should-retry"]) == (
        429, "13", "true")
    assert json.loads(response.content)["error"]["type"] == "rate_limit_error"
    response = gemini.render_error(Throttled(wait=12))
    assert (response.status_code, response["Retry-After"]) == (429, "13")
    error = json.loads(response.content)["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    assert error["details"][1] == {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "13s"}


def _ended(owner, submit, run_queued_jobs, **fields) -> GenerationJob:
    job = submit(owner, model=PRO, prompt="x").json()
    run_queued_jobs()
    GenerationJob.objects.filter(pk=job["id"]).update(**fields)
    return GenerationJob.objects.get(pk=job["id"])


@pytest.mark.parametrize(("reason", "where"), [("SAFETY", "prompt"),
                                               ("PROHIBITED_CONTENT", "prompt"),
                                               ("IMAGE_SAFETY", "candidate")])
def test_gemini_answers_a_block_the_way_gemini_does(owner, submit, run_queued_jobs, reason,
                                                   where):
    job = _ended(owner, submit, run_queued_jobs, status=JobStatus.BLOCKED, block_reason=reason,
                 error_code="safety_blocked")

    answer = gemini.response_for(job)

    if where == "prompt":
        assert answer["promptFeedback"]["blockReason"] == reason
        assert "candidates" not in answer
    else:
        assert answer["candidates"][0]["finishReason"] == reason
        assert answer["candidates"][0]["content"]["parts"] == []
    assert answer["usageMetadata"]["candidatesTokenCount"] == 0


def test_openai_explains_a_blocked_or_failed_job_and_never_asks_for_a_blind_retry(
        owner, submit, run_queued_jobs):
    blocked = _ended(owner, submit, run_queued_jobs, status=JobStatus.BLOCKED,
                     block_reason="IMAGE_SAFETY", error_code="safety_blocked")
    response = openai.render_error(openai.failure_error(blocked))
    error = json.loads(response.content)["error"]
    assert (response.status_code, error["code"], error["type"]) == (
        400, "content_policy_violation", "invalid_request_error")
    assert "IMAGE_SAFETY" in error["message"] and "No credits" in error["message"]
    assert error["generation_id"] == str(blocked.id)
    assert response["x-should-retry"] == "false"

    failed = _ended(owner, submit, run_queued_jobs, status=JobStatus.FAILED,
                    error_code="upstream_unavailable", error_message="Gemini is unavailable")
    response = openai.render_error(openai.failure_error(failed))
    error = json.loads(response.content)["error"]
    assert (response.status_code, error["code"], error["type"]) == (
        502, "upstream_unavailable", "server_error")
    assert "Gemini is unavailable" in error["message"]


def test_a_wait_that_runs_out_is_504_never_retried_and_the_job_carries_on(owner, settings):
    from accounts.services import brand_create

    settings.SYNC_WAIT_SECONDS = 0
    brand = brand_create(organization=owner.organization, name="Acme Shoes")
    _, bound = api_key_create(organization=owner.organization, name="acme", brand=brand,
                              scopes=[Scope.GENERATE, Scope.READ])

    response = openai_post("/v1/images/generations", bound, data={"prompt": "x", "n": 2},
                           content_type="application/json")

    error = assert_openai_error(response, 504, "generation_timeout")
    assert response["x-should-retry"] == "false"
    jobs = GenerationJob.objects.all()
    assert len(jobs) == 2 and all(job.brand == brand for job in jobs)
    assert all(job.status == JobStatus.QUEUED for job in jobs)
    assert "/api/v1/generations/" in error["message"]

    response = gemini_post({"contents": "x"}, bound)
    assert_google_error(response, 504, "DEADLINE_EXCEEDED")
    assert GenerationJob.objects.filter(brand=brand).count() == 3


def test_gemini_answer_keeps_upstream_signatures_and_carries_the_converted_image(
        owner, submit, run_queued_jobs):
    job = submit(owner, model=PRO, prompt="x", output_format="webp").json()
    run_queued_jobs()
    upstream_parts = [
        {"inlineData": {"mimeType": "image/png", "data": "dGhvdWdodA=="}, "thought": True},
        {"text": "Done.", "thoughtSignature": "c2ln"},
        {"inlineData": {"mimeType": "image/png", "data": "b3JpZ2luYWw="},
         "thoughtSignature": "c2lnMg=="}]
    GenerationJob.objects.filter(pk=job["id"]).update(
        model_turn={"role": "model", "parts": upstream_parts})

    parts = gemini.response_for(GenerationJob.objects.get(pk=job["id"]))["candidates"][0][
        "content"]["parts"]

    assert parts[:2] == upstream_parts[:2]  # the interim thought image and the text, untouched
    assert parts[2]["thoughtSignature"] == "c2lnMg=="
    assert parts[2]["inlineData"]["mimeType"] == "image/webp"
