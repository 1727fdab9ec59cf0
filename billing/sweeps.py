"""Return credits held by reservations that outlived their job.

A reservation is released here only when it is past `expires_at` AND its job is finished (or
was never created). Jobs stuck in `running` belong to the job sweeper, which fails or requeues
them and settles their reservation through the normal path.
"""

import logging
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from billing.models import Reservation, ReservationStatus
from billing.services import reservation_release
from generation.models import TERMINAL_STATUSES

logger = logging.getLogger(__name__)


def reservations_expired_and_orphaned(*, now: datetime | None = None):
    return (Reservation.objects
            .filter(status=ReservationStatus.OPEN, expires_at__lt=now or timezone.now())
            .filter(Q(job__isnull=True) | Q(job__status__in=TERMINAL_STATUSES)))


def reservations_sweep(*, now: datetime | None = None, limit: int = 500) -> int:
    """Release up to `limit` orphaned reservations; returns how many were released. Each
    release is its own transaction and ends the reservation at most once, so a sweep racing a
    worker's capture leaves exactly one of them effective."""
    released = 0
    for reservation in reservations_expired_and_orphaned(now=now).order_by("expires_at")[:limit]:
        if reservation_release(reservation=reservation):
            logger.warning("released orphaned reservation %s (%s micro-USD)",
                           reservation.reference, reservation.amount)
            released += 1
    return released
