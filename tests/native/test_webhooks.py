"""Customer webhooks: endpoints, Standard Webhooks signatures checked by the reference library,
events from job settlement, retries over the Svix schedule, rotation, test ping, resend."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from generation.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from generation.webhooks.services import RETRY_DELAYS, webhook_deliveries_due, webhook_event_emit
from tests.native.conftest import PRO


def create_endpoint(post, actor, url, **extra):
    response = post(actor.api, "/api/v1/webhooks", {"url": url, **extra})
    assert response.status_code == 201, response.json()
    return response.json()


def make_due(delivery_id):
    WebhookDelivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())


def verify(secret, received):
    return Webhook(secret).verify(received.body, received.headers)


def test_succeeded_generation_is_delivered_signed_and_verifiable(
        owner, post, submit, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url, event_types=["generation.succeeded"])
    assert endpoint["secret"].startswith("whsec_")

    job = submit(owner, model=PRO, prompt="a red kite").json()
    work()

    [hit] = receiver.received
    payload = verify(endpoint["secret"], hit)
    assert payload["type"] == "generation.succeeded"
    assert payload["data"]["id"] == job["id"]
    assert payload["data"]["status"] == "succeeded"
    assert hit.headers["webhook-id"].startswith("msg_")
    assert hit.headers["webhook-signature"].startswith("v1,")
    # A tampered body fails the reference verifier.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(hit.body + b" ", hit.headers)

    log = owner.api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()["data"]
    assert log[0]["status"] == "succeeded"
    [attempt] = log[0]["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["response_excerpt"] == "ok"
    assert attempt["latency_ms"] is not None


def test_event_filter_and_canceled_event(owner, post, submit, work, receiver):
    create_endpoint(post, owner, receiver.url, event_types=["generation.canceled"])
    job = submit(owner, model=PRO, prompt="a").json()
    post(owner.api, f"/api/v1/generations/{job['id']}/cancel")
    work()
    assert [json.loads(hit.body)["type"] for hit in receiver.received] == ["generation.canceled"]


def test_failed_attempts_follow_the_retry_schedule_then_give_up(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    receiver.statuses = [500] * 8
    before = timezone.now()
    webhook_event_emit_committed(owner, post)
    work()
    delivery = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
    assert delivery.attempts == 1 and delivery.status == DeliveryStatus.PENDING
    # The second attempt waits 5 s (not due yet: the sweeper leaves it alone).
    assert delivery.next_attempt_at >= before + timedelta(seconds=RETRY_DELAYS[0])
    assert webhook_deliveries_due() == 0

    gaps = []
    for _ in range(7):
        delivery.refresh_from_db()
        gaps.append(round((delivery.next_attempt_at - delivery.updated_at).total_seconds()))
        make_due(delivery.pk)
        assert webhook_deliveries_due() == 1
        work()
    delivery.refresh_from_db()
    assert gaps == list(RETRY_DELAYS)  # 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    assert sum(RETRY_DELAYS) >= 24 * 3600
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 8, 500)
    assert len(receiver.received) == 8
    # Every retry carries the same webhook-id.
    assert len({hit.headers["webhook-id"] for hit in receiver.received}) == 1


def webhook_event_emit_committed(actor, post):
    """A test ping is the simplest event to emit through the API."""
    endpoint = WebhookEndpoint.objects.get(organization=actor.organization)
    return post(actor.api, f"/api/v1/webhooks/{endpoint.pk}/test")


def test_a_retry_after_failure_succeeds(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    receiver.statuses = [503]
    webhook_event_emit_committed(owner, post)
    work()
    delivery = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
    make_due(delivery.pk)
    webhook_deliveries_due()
    work()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    codes = [a["status_code"] for a in owner.api.get(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()["data"][0]["attempt_log"]]
    assert codes == [503, 200]


def test_test_ping_and_resend(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url, event_types=["batch.completed"])
    ping = post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/test")
    assert ping.status_code == 202
    work()
    assert json.loads(receiver.received[0].body)["type"] == "webhook.test"

    resent = post(owner.api, f"/api/v1/webhooks/deliveries/{ping.json()['id']}/resend")
    assert resent.status_code == 202 and resent.json()["id"] != ping.json()["id"]
    work()
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["webhook-id"] == receiver.received[1].headers["webhook-id"]


def test_rotated_secret_signs_beside_the_old_one_for_a_day(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    rotated = post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/rotate-secret").json()
    assert rotated["secret"] != endpoint["secret"]
    post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/test")
    work()
    hit = receiver.received[-1]
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    verify(endpoint["secret"], hit)
    verify(rotated["secret"], hit)

    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/test")
    work()
    hit = receiver.received[-1]
    verify(rotated["secret"], hit)
    with pytest.raises(WebhookVerificationError):
        verify(endpoint["secret"], hit)


def test_crud_and_validation(owner, post, receiver):
    endpoint = create_endpoint(post, owner, receiver.url, description="prod")
    listed = owner.api.get("/api/v1/webhooks").json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]

    patched = owner.api.patch(f"/api/v1/webhooks/{endpoint['id']}",
                              {"enabled": False, "event_types": ["batch.completed"]}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["enabled"], patched.json()["event_types"]) == (False, ["batch.completed"])

    bad = owner.api.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["nope"]},
                         format="json")
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "event_types")

    assert owner.api.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    assert owner.api.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.0.0.8/",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]/",
                                 "http://192.168.1.10/", "ftp://example.com/"])
def test_private_urls_are_refused_at_registration(owner, url):
    response = owner.api.post("/api/v1/webhooks", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsafe_url"
    assert not WebhookEndpoint.objects.exists()


def test_private_urls_are_refused_again_at_delivery(owner, post, work, receiver, settings):
    endpoint = create_endpoint(post, owner, receiver.url)
    settings.ALLOW_PRIVATE_WEBHOOK_URLS = False  # the name now resolves somewhere private
    webhook_event_emit_committed(owner, post)
    work()
    assert receiver.received == []
    [attempt] = owner.api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()[
        "data"][0]["attempt_log"]
    assert attempt["status_code"] is None and "non-public" in attempt["error"]


def test_emit_without_listeners_writes_nothing(owner):
    assert webhook_event_emit(organization=owner.organization, event_type="wallet.low_balance",
                              data={}) is None


def test_outsider_cannot_see_or_touch_endpoints_or_deliveries(owner, outsider, post, work,
                                                              receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    ping = post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/test").json()
    assert outsider.api.get("/api/v1/webhooks").json()["data"] == []
    for method, path in [("get", f"/api/v1/webhooks/{endpoint['id']}"),
                         ("delete", f"/api/v1/webhooks/{endpoint['id']}"),
                         ("post", f"/api/v1/webhooks/{endpoint['id']}/test"),
                         ("post", f"/api/v1/webhooks/{endpoint['id']}/rotate-secret"),
                         ("get", f"/api/v1/webhooks/{endpoint['id']}/deliveries"),
                         ("post", f"/api/v1/webhooks/deliveries/{ping['id']}/resend")]:
        assert getattr(outsider.api, method)(path).status_code == 404, path


def test_member_without_admin_scope_is_refused(member, receiver):
    response = member.api.post("/api/v1/webhooks", {"url": receiver.url}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


def test_the_hand_written_verifier_in_the_docs_accepts_our_signatures(owner, post, work,
                                                                      receiver):
    import base64
    import hashlib
    import hmac
    import time

    def verify_by_hand(secret: str, headers: dict, body: bytes) -> bool:  # as in docs/api.md
        msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
        if abs(time.time() - int(ts)) > 300:
            return False
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                             hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(sig.split(",", 1)[1], expected)
                   for sig in headers["webhook-signature"].split())

    endpoint = create_endpoint(post, owner, receiver.url)
    post(owner.api, f"/api/v1/webhooks/{endpoint['id']}/test")
    work()
    [hit] = receiver.received
    assert verify_by_hand(endpoint["secret"], hit.headers, hit.body)
    assert not verify_by_hand(endpoint["secret"], hit.headers, hit.body + b"x")


def test_an_endpoint_failing_for_days_is_disabled_until_re_enabled(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    receiver.statuses = [500] * 8
    webhook_event_emit_committed(owner, post)
    work()
    delivery = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
    WebhookEndpoint.objects.filter(pk=endpoint["id"]).update(
        failing_since=timezone.now() - timedelta(days=6))
    for _ in range(7):
        make_due(delivery.pk)
        webhook_deliveries_due()
        work()
    detail = owner.api.get(f"/api/v1/webhooks/{endpoint['id']}").json()
    assert detail["enabled"] is False and detail["disabled_at"]
    # Disabled endpoints receive nothing new.
    assert webhook_event_emit(organization=owner.organization, event_type="wallet.low_balance",
                              data={}) is None
    resumed = owner.api.patch(f"/api/v1/webhooks/{endpoint['id']}", {"enabled": True},
                              format="json").json()
    assert (resumed["enabled"], resumed["disabled_at"], resumed["failing_since"]) == (
        True, None, None)


def test_a_success_resets_the_failure_streak(owner, post, work, receiver):
    endpoint = create_endpoint(post, owner, receiver.url)
    receiver.statuses = [500]
    webhook_event_emit_committed(owner, post)
    work()
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failing_since is not None
    delivery = WebhookDelivery.objects.get(endpoint_id=endpoint["id"])
    make_due(delivery.pk)
    webhook_deliveries_due()
    work()
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).failing_since is None
