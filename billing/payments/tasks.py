"""Thin django-q2 entry points: take ids, call services."""

from billing.payments import notifications, services


def charge_auto_recharge(payment_id: str) -> None:
    services.auto_recharge_charge(payment_id=payment_id)


def send_receipt(payment_id: str) -> None:
    notifications.receipt_send(payment_id=payment_id)


def notify_auto_recharge_failed(payment_id: str) -> None:
    notifications.auto_recharge_failure_send(payment_id=payment_id)
