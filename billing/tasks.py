"""django-q2 entry points for billing: take ids, call services."""

from billing.notifications import low_balance_email_send
from billing.sweeps import reservations_sweep


def sweep_reservations() -> int:
    return reservations_sweep()


def send_low_balance_email(wallet_id: int, crossed_at: str) -> bool:
    return low_balance_email_send(wallet_id=wallet_id, crossed_at=crossed_at)
