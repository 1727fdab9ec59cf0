"""Idempotency-Key: begin (claim the key), complete (store the response), abandon (free it)."""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.idempotency.models import IdempotencyRecord
from config.errors import Conflict, DomainError

# A request still "in flight" after this long died with its process: its key may be reused.
IN_FLIGHT_TIMEOUT = timedelta(minutes=10)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: object
    headers: dict


def idempotency_key_validate(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise DomainError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII "
                          "characters.", code="invalid_idempotency_key", param="Idempotency-Key")
    return key


def request_fingerprint(*, method: str, path: str, data, files=None) -> str:
    """A stable hash of what the request asks for: key order and JSON spacing do not matter,
    uploaded files count by content."""
    if hasattr(data, "lists"):  # QueryDict (form / multipart)
        data = {key: values for key, values in sorted(data.lists())}
    digest = hashlib.sha256()
    digest.update(f"{method.upper()} {path}\n".encode())
    digest.update(json.dumps(data, sort_keys=True, cls=DjangoJSONEncoder, default=str).encode())
    for name, upload in sorted((files or {}).items()):
        file_hash = hashlib.sha256()
        for chunk in upload.chunks():
            file_hash.update(chunk)
        upload.seek(0)
        digest.update(f"\n{name}:{file_hash.hexdigest()}".encode())
    return digest.hexdigest()


def idempotency_begin(*, organization, key: str, fingerprint: str, method: str,
                      path: str) -> tuple[IdempotencyRecord | None, Replay | None]:
    """Claim `key` for this request: (record, None) when it is ours to run, (None, replay) when
    the same request already completed. 409 when the key is in flight or was used for another
    request."""
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    organization=organization, key=key, fingerprint=fingerprint, method=method,
                    path=path[:300], created_at=now,
                    expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS))
            return record, None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(organization=organization, key=key).first()
        if existing is None:
            continue  # freed between our insert and our read: try once more
        stale = existing.expires_at <= now or (
            existing.response_status is None and existing.created_at <= now - IN_FLIGHT_TIMEOUT)
        if stale:
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise Conflict("This Idempotency-Key was already used for a different request.",
                           code="idempotency_key_reused", param="Idempotency-Key")
        if existing.response_status is None:
            raise Conflict("A request with this Idempotency-Key is still being processed; "
                           "retry later.", code="idempotency_key_in_progress",
                           param="Idempotency-Key")
        return None, Replay(existing.response_status, existing.response_body,
                            existing.response_headers)
    raise Conflict("A request with this Idempotency-Key is still being processed; retry later.",
                   code="idempotency_key_in_progress", param="Idempotency-Key")


def idempotency_complete(*, record: IdempotencyRecord, status: int, body, headers: dict) -> None:
    body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        response_status=status, response_body=body, response_headers=headers,
        completed_at=timezone.now())


def idempotency_abandon(*, record: IdempotencyRecord) -> None:
    """The request failed before producing a result worth replaying: free the key so the
    client can retry with it."""
    IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotency_purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
