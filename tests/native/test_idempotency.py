"""Idempotency-Key on native POSTs: replay, refusal of a reused key, in-flight conflicts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.idempotency.models import IdempotencyRecord
from accounts.idempotency.services import idempotency_begin, idempotency_purge_expired
from billing.models import Reservation
from generation.models import GenerationJob
from tests.native.conftest import PRO


def test_same_key_and_body_replays_the_first_response_and_submits_once(owner, post):
    body = {"model": PRO, "prompt": "a quiet harbour"}
    first = post(owner.api, "/api/v1/generations", body, HTTP_IDEMPOTENCY_KEY="order-42")
    # Same content, other key order: still the same request.
    again = post(owner.api, "/api/v1/generations", {"prompt": "a quiet harbour", "model": PRO},
                 HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert GenerationJob.objects.count() == 1
    assert Reservation.objects.count() == 1


def test_same_key_with_another_body_is_refused(owner, post):
    post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"},
         HTTP_IDEMPOTENCY_KEY="k1")
    other = post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "b"},
                 HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert GenerationJob.objects.count() == 1


def test_a_key_still_in_flight_is_a_conflict(owner, post):
    body = {"model": PRO, "prompt": "a"}
    from accounts.idempotency.services import request_fingerprint

    fingerprint = request_fingerprint(method="POST", path="/api/v1/generations", data=body)
    idempotency_begin(organization=owner.organization, key="busy", fingerprint=fingerprint,
                      method="POST", path="/api/v1/generations")
    response = post(owner.api, "/api/v1/generations", body, HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_progress"
    assert not GenerationJob.objects.exists()


def test_an_error_frees_the_key_for_a_corrected_retry(owner, post):
    bad = post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a",
                                                  "aspect_ratio": "7:5"},
               HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    ok = post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"},
              HTTP_IDEMPOTENCY_KEY="retry-me")
    assert ok.status_code == 202


def test_keys_are_scoped_per_organization(owner, outsider, post):
    body = {"model": PRO, "prompt": "a"}
    mine = post(owner.api, "/api/v1/generations", body, HTTP_IDEMPOTENCY_KEY="shared")
    theirs = post(outsider.api, "/api/v1/generations", body, HTTP_IDEMPOTENCY_KEY="shared")
    assert theirs.status_code == 202 and theirs.json()["id"] != mine.json()["id"]


def test_cancel_is_idempotent_too(owner, post):
    job = post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"}).json()
    path = f"/api/v1/generations/{job['id']}/cancel"
    first = post(owner.api, path, HTTP_IDEMPOTENCY_KEY="cancel-1")
    again = post(owner.api, path, HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "canceled"
    # Without the key, a second cancel is refused as usual.
    assert post(owner.api, path).status_code == 409


def test_keys_are_kept_a_day_then_purged(owner, post):
    post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"},
         HTTP_IDEMPOTENCY_KEY="old")
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at >= timedelta(hours=24)
    assert idempotency_purge_expired() == 0
    IdempotencyRecord.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_purge_expired() == 1
    # After expiry the key starts afresh: a new job.
    post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"},
         HTTP_IDEMPOTENCY_KEY="old")
    assert GenerationJob.objects.count() == 2


def test_invalid_key_is_refused(owner, post):
    response = post(owner.api, "/api/v1/generations", {"model": PRO, "prompt": "a"},
                    HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


# Real commits (threads need them); serialized_rollback restores the seeded price list after.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_requests_with_one_key_submit_once(owner):
    """Eight threads race with the same key on PostgreSQL: the unique constraint lets exactly one
    run; the others see it in flight (409) or replay its response (202, same job)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(8)
    results = []

    def attempt():
        try:
            barrier.wait()
            response = owner.api.post("/api/v1/generations", {"model": PRO, "prompt": "race"},
                                      format="json", HTTP_IDEMPOTENCY_KEY="race-1")
            results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert GenerationJob.objects.count() == 1
    job_id = str(GenerationJob.objects.get().pk)
    assert {status for status, _ in results} <= {202, 409}
    assert all(body["id"] == job_id for status, body in results if status == 202)
    assert all(body["error"]["code"] == "idempotency_key_in_progress"
               for status, body in results if status == 409)
    assert Reservation.objects.count() == 1

