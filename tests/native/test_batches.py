"""Batches: all-or-nothing submission, one reservation per job, status, results, cancel."""

import io
import json

from billing.models import Reservation, ReservationStatus, Wallet
from generation.batches.models import Batch
from generation.models import GenerationJob
from tests.native.conftest import FLASH, PRO


def reserved(actor) -> int:
    return Wallet.objects.get(organization=actor.organization).reserved


def test_batch_runs_every_item_and_completes_with_a_webhook(owner, post, work, receiver):
    post(owner.api, "/api/v1/webhooks", {"url": receiver.url, "event_types": ["batch.completed"]})
    response = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": "one", "custom_id": "a"},
        {"model": FLASH, "prompt": "two", "aspect_ratio": "16:9", "custom_id": "b"},
    ]})
    assert response.status_code == 202, response.json()
    batch = response.json()
    assert (batch["status"], batch["total"], batch["counts"]["queued"]) == ("processing", 2, 2)
    assert batch["price"]["micros"] == 134_000 + 39_000
    assert reserved(owner) == 173_000
    assert Reservation.objects.count() == 2  # one per job

    work()

    detail = owner.api.get(f"/api/v1/batches/{batch['id']}").json()
    assert detail["status"] == "completed"
    assert detail["counts"]["succeeded"] == 2
    assert [(item["custom_id"], item["generation"]["status"]) for item in detail["items"]] == [
        ("a", "succeeded"), ("b", "succeeded")]
    assert detail["items"][1]["generation"]["images"][0]["url"]
    assert reserved(owner) == 0
    [hit] = receiver.received
    event = json.loads(hit.body)
    assert event["type"] == "batch.completed"
    assert event["data"]["counts"]["succeeded"] == 2


def test_one_invalid_item_refuses_the_whole_batch(owner, post):
    response = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": PRO, "prompt": "fine"},
        {"model": PRO, "prompt": "bad", "aspect_ratio": "7:5"},
    ]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_aspect_ratio", "requests[1].aspect_ratio")
    assert not GenerationJob.objects.exists() and not Batch.objects.exists()
    assert reserved(owner) == 0


def test_malformed_items_are_named(owner, post):
    missing = post(owner.api, "/api/v1/batches", {"requests": [{"model": PRO, "prompt": "ok"},
                                                               {"model": PRO}]})
    assert missing.json()["error"]["param"] == "requests[1].prompt"
    assert missing.json()["error"]["code"] == "missing_field"
    scalar = post(owner.api, "/api/v1/batches", {"requests": ["just a prompt"]})
    assert scalar.json()["error"]["param"] == "requests[0]"
    assert not GenerationJob.objects.exists()


def test_a_batch_beyond_the_credit_is_refused_whole(owner, post):
    # 10 USD of credit: 80 × 0.134 = 10.72 USD.
    response = post(owner.api, "/api/v1/batches",
                    {"requests": [{"model": PRO, "prompt": f"p{i}"} for i in range(80)]})
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert not GenerationJob.objects.exists() and not Reservation.objects.exists()


def test_size_limits(owner, post, settings):
    assert post(owner.api, "/api/v1/batches", {"requests": []}).status_code == 400
    settings.MAX_BATCH_REQUESTS = 3
    too_many = post(owner.api, "/api/v1/batches",
                    {"requests": [{"model": FLASH, "prompt": "x"}] * 4})
    assert too_many.status_code == 413
    assert too_many.json()["error"]["code"] == "batch_too_large"


def test_jsonl_upload(owner, django_capture_on_commit_callbacks):
    lines = "\n".join(json.dumps({"model": FLASH, "prompt": f"line {i}"}) for i in range(3))
    upload = io.BytesIO(lines.encode())
    upload.name = "batch.jsonl"
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.api.post("/api/v1/batches", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.json()
    assert response.json()["total"] == 3

    broken = io.BytesIO(b'{"model": "x"\n')
    broken.name = "broken.jsonl"
    refused = owner.api.post("/api/v1/batches", {"file": broken}, format="multipart")
    assert refused.json()["error"]["code"] == "invalid_jsonl"


def test_cancel_releases_queued_items_and_completes_as_canceled(owner, post, work):
    batch = post(owner.api, "/api/v1/batches", {"requests": [
        {"model": FLASH, "prompt": f"p{i}"} for i in range(3)]}).json()
    canceled = post(owner.api, f"/api/v1/batches/{batch['id']}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["canceled_items"] == 3
    assert canceled.json()["status"] == "canceled"
    assert reserved(owner) == 0
    assert set(Reservation.objects.values_list("status", flat=True)) == {ReservationStatus.RELEASED}
    work()  # the fan-out finds nothing queued any more: no job runs
    assert not GenerationJob.objects.exclude(status="canceled").exists()
    detail = owner.api.get(f"/api/v1/batches/{batch['id']}").json()
    assert detail["counts"]["canceled"] == 3 and detail["counts"]["succeeded"] == 0


def test_thousand_requests_are_accepted(owner, post):
    Wallet.objects.filter(organization=owner.organization).update(balance=10**9)
    response = post(owner.api, "/api/v1/batches",
                    {"requests": [{"model": FLASH, "prompt": f"p{i}"} for i in range(1000)]})
    assert response.status_code == 202
    assert GenerationJob.objects.count() == 1000 == Reservation.objects.count()
    assert reserved(owner) == 1000 * 39_000


def test_tenancy(owner, outsider, post, brands):
    acme, acme_api = brands["Acme"]
    _, globex_api = brands["Globex"]
    batch = post(acme_api, "/api/v1/batches", {"requests": [{"model": FLASH, "prompt": "x"}]}).json()
    assert owner.api.get(f"/api/v1/batches/{batch['id']}").status_code == 200
    assert globex_api.get(f"/api/v1/batches/{batch['id']}").status_code == 404
    assert outsider.api.get(f"/api/v1/batches/{batch['id']}").status_code == 404
    assert outsider.api.post(f"/api/v1/batches/{batch['id']}/cancel").status_code == 404
    assert outsider.api.get("/api/v1/batches").json()["data"] == []
    assert [b["id"] for b in owner.api.get("/api/v1/batches").json()["data"]] == [batch["id"]]
