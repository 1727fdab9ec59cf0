"""Low-balance alerts: one notice per crossing below an organization's threshold.

The wallet row carries the state (`low_balance_since`), and only the code that already holds
the wallet lock moves it, so a crossing is recorded exactly once however many jobs race past
it. The alert re-arms when `available` is back at or above the threshold.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from billing.models import Wallet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LowBalanceCrossing:
    """`available` dropped below `threshold` at `crossed_at`: what an alert says."""

    wallet_id: int
    organization_id: object
    available: int
    threshold: int
    crossed_at: datetime


def low_balance_transition(*, wallet: Wallet, new_available: int,
                           now: datetime) -> tuple[dict, LowBalanceCrossing | None]:
    """(field changes for the wallet row, the crossing if this movement is one). Pure: the
    caller holds the wallet lock and writes the changes with its own UPDATE."""
    threshold = wallet.low_balance_threshold
    below = threshold > 0 and new_available < threshold
    if below and wallet.low_balance_since is None:
        crossing = LowBalanceCrossing(wallet_id=wallet.pk, organization_id=wallet.organization_id,
                                      available=new_available, threshold=threshold,
                                      crossed_at=now)
        return {"low_balance_since": now}, crossing
    if not below and wallet.low_balance_since is not None:
        return {"low_balance_since": None}, None  # re-armed
    return {}, None


def low_balance_notify(*, crossing: LowBalanceCrossing) -> None:
    """Runs on commit of the movement that crossed the threshold: enqueues the email (SMTP is
    network I/O and may be slow) and records the customer webhook `wallet.low_balance`, whose
    deliveries are sent by the webhook workers."""
    from accounts.models import Organization
    from billing.money import money
    from config.queue import enqueue
    from generation.webhooks.services import webhook_event_emit

    enqueue("billing.tasks.send_low_balance_email", crossing.wallet_id,
               crossing.crossed_at.isoformat(), task_name=f"low-balance:{crossing.wallet_id}")
    webhook_event_emit(
        organization=Organization.objects.get(pk=crossing.organization_id),
        event_type="wallet.low_balance",
        data={"organization": str(crossing.organization_id),
              "available": money(crossing.available), "threshold": money(crossing.threshold),
              "crossed_at": crossing.crossed_at.isoformat()})


def low_balance_threshold_set(*, organization, threshold: int) -> Wallet:
    """Set the organization's low-balance threshold (micro-USD, 0 = off). Under the wallet lock,
    like every movement: a threshold at or below `available` re-arms the alert at once, and one
    above it alerts on the next movement that keeps `available` below it."""
    from django.db import transaction

    from config.errors import DomainError

    if threshold < 0:
        raise DomainError("The threshold cannot be negative.", code="invalid_amount",
                          param="threshold")
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(organization=organization)
        changes = {"low_balance_threshold": threshold}
        if wallet.low_balance_since is not None and (threshold == 0
                                                     or wallet.available >= threshold):
            changes["low_balance_since"] = None
        Wallet.objects.filter(pk=wallet.pk).update(**changes)
        wallet.refresh_from_db()
    return wallet
