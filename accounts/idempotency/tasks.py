"""django-q2 entry points (scheduled hourly by migration 0002)."""

from accounts.idempotency.services import idempotency_purge_expired


def purge_expired_idempotency_keys() -> int:
    return idempotency_purge_expired()
