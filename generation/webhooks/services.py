"""Customer webhooks: endpoints, events (an outbox in the caller's transaction), deliveries.

An event is written in the same transaction as the state change it announces, so it exists if
and only if that change committed; delivery is enqueued on commit and never runs inside a
transaction (it is network I/O).
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.errors import DomainError
from config.netguard import UnsafeUrl, url_assert_public, url_pin
from generation.webhooks.models import (
    EVENT_TYPES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from generation.webhooks.signing import secret_generate, signed_headers

logger = logging.getLogger(__name__)

# Seconds to wait before attempt n+1 after attempt n failed (the Svix schedule): attempts at
# 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts over about 28 hours.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
SECRET_ROTATION_OVERLAP = timedelta(hours=24)
# An endpoint that has failed every attempt for this long is disabled when a delivery gives up.
DISABLE_AFTER_FAILING = timedelta(days=5)
# A claimed attempt is re-offered after this long if its worker died mid-request.
ATTEMPT_LEASE = timedelta(seconds=120)
SUBSCRIBABLE_EVENTS = tuple(event for event in EVENT_TYPES if event != "webhook.test")
RESPONSE_EXCERPT_CHARS = 500


def _validate_event_types(event_types: list[str] | None) -> list[str]:
    unknown = sorted(set(event_types or ()) - set(SUBSCRIBABLE_EVENTS))
    if unknown:
        raise DomainError(f"Unknown event type(s): {', '.join(unknown)}. "
                          f"Known: {', '.join(SUBSCRIBABLE_EVENTS)}.",
                          code="unknown_event_type", param="event_types")
    return sorted(set(event_types or ()))


def webhook_endpoint_create(*, organization, url: str, event_types: list[str] | None = None,
                            description: str = "", enabled: bool = True) -> WebhookEndpoint:
    url_assert_public(url, param="url")
    return WebhookEndpoint.objects.create(
        organization=organization, url=url, description=description, enabled=enabled,
        event_types=_validate_event_types(event_types), secret=secret_generate())


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    if "url" in changes:
        url_assert_public(changes["url"], param="url")
    if "event_types" in changes:
        changes["event_types"] = _validate_event_types(changes["event_types"])
    if changes.get("enabled"):  # re-enabled by the customer: forget the failure streak
        changes.update(disabled_at=None, failing_since=None)
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.save(update_fields=[*changes, "updated_at"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_secret_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret signs from now on; the old one keeps signing beside it for 24 hours so that
    receivers can switch without missing a message."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + SECRET_ROTATION_OVERLAP
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at",
                                 "updated_at"])
    return endpoint


def secrets_in_use(endpoint: WebhookEndpoint, now=None) -> list[str]:
    now = now or timezone.now()
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at \
            and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def _message_create(*, organization, event_type: str, data: dict) -> WebhookMessage:
    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": data}
    return WebhookMessage.objects.create(
        id=f"msg_{uuid.uuid4().hex}", organization=organization, event_type=event_type,
        payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)))


def _deliveries_create(message: WebhookMessage, endpoints) -> list[WebhookDelivery]:
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(message=message, endpoint=endpoint, next_attempt_at=now)
        for endpoint in endpoints])
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: [webhook_delivery_enqueue(delivery_id=pk) for pk in ids])
    return deliveries


def webhook_event_emit(*, organization, event_type: str,
                       data: dict | Callable[[], dict]) -> WebhookMessage | None:
    """Announce `event_type` to every enabled endpoint of `organization` that subscribes to it.
    `data` may be a function: it is called only when someone listens (payloads can be costly).

    Call it inside the transaction that makes the change: the message and its deliveries commit
    with it (or not at all), and the first attempts are enqueued on commit. Costs one query when
    nobody listens."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    endpoints = [endpoint for endpoint in
                 WebhookEndpoint.objects.filter(organization=organization, enabled=True)
                 if endpoint.wants(event_type)]
    if not endpoints:
        return None
    if callable(data):
        data = data()
    with transaction.atomic():
        message = _message_create(organization=organization, event_type=event_type, data=data)
        _deliveries_create(message, endpoints)
    return message


def webhook_endpoint_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` message to this endpoint only, whatever its filter."""
    with transaction.atomic():
        message = _message_create(organization=endpoint.organization, event_type="webhook.test",
                                  data={"endpoint": str(endpoint.pk),
                                        "message": "Test message from Atelier."})
        [delivery] = _deliveries_create(message, [endpoint])
    return delivery


def webhook_delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a message again as a new delivery (same `webhook-id`, so receivers can dedupe)."""
    with transaction.atomic():
        [fresh] = _deliveries_create(delivery.message, [delivery.endpoint])
    return fresh


def webhook_delivery_enqueue(*, delivery_id) -> None:
    from config.queue import enqueue

    enqueue("generation.webhooks.tasks.deliver_webhook", str(delivery_id),
               task_name=f"webhook:{delivery_id}")


def _claim(delivery_id) -> bool:
    """pending and due → attempt + 1, not due again before the lease ends. One claimant wins."""
    now = timezone.now()
    return WebhookDelivery.objects.filter(
        pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + ATTEMPT_LEASE) == 1


def webhook_delivery_attempt(*, delivery_id) -> None:
    """One attempt of one delivery: sign, POST (no transaction open), log, schedule the next."""
    if not _claim(delivery_id):
        return
    delivery = WebhookDelivery.objects.select_related("message", "endpoint").get(pk=delivery_id)
    endpoint, message = delivery.endpoint, delivery.message
    body = json.dumps(message.payload, separators=(",", ":")).encode()
    started_at = timezone.now()
    headers = signed_headers(secrets_in_use=secrets_in_use(endpoint, started_at),
                             message_id=message.pk, timestamp=int(time.time()), body=body)
    status_code, excerpt, error = None, "", ""
    clock = time.monotonic()
    try:
        if not endpoint.enabled:
            raise UnsafeUrl("The endpoint is disabled.", code="endpoint_disabled")
        # Checked again now (the name may point elsewhere since registration) and the
        # connection pinned to the checked address (it cannot change between check and use).
        target = url_pin(endpoint.url)
        with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                          follow_redirects=False) as client:
            response = client.post(target.url, content=body, headers={**headers, **target.headers},
                                   extensions=target.extensions)
        status_code = response.status_code
        excerpt = response.text[:RESPONSE_EXCERPT_CHARS]
    except DomainError as refused:
        error = refused.message
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"[:300]
    latency_ms = int((time.monotonic() - clock) * 1000)
    _attempt_record(delivery, started_at=started_at, status_code=status_code, excerpt=excerpt,
                    error=error, latency_ms=latency_ms)


def _attempt_record(delivery: WebhookDelivery, *, started_at, status_code, excerpt, error,
                    latency_ms) -> None:
    succeeded = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts,
                                      started_at=started_at, status_code=status_code,
                                      latency_ms=latency_ms, response_excerpt=excerpt,
                                      error=error)
        endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
        now = timezone.now()
        if succeeded:
            endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        else:
            endpoints.filter(failing_since__isnull=True).update(failing_since=now)
        if succeeded:
            changes = {"status": DeliveryStatus.SUCCEEDED, "next_attempt_at": None}
        elif delivery.attempts >= MAX_ATTEMPTS:
            changes = {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
            endpoints.filter(enabled=True, failing_since__lte=now - DISABLE_AFTER_FAILING).update(
                enabled=False, disabled_at=now)
        else:
            changes = {"next_attempt_at": timezone.now()
                       + timedelta(seconds=RETRY_DELAYS[delivery.attempts - 1])}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            last_status_code=status_code, updated_at=timezone.now(), **changes)


def webhook_deliveries_due(*, limit: int = 500) -> int:
    """Enqueue every pending delivery whose next attempt is due (the retry sweeper)."""
    due = list(WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now(),
    ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        webhook_delivery_enqueue(delivery_id=pk)
    return len(due)
