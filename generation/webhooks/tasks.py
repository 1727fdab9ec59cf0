"""django-q2 entry points: take ids, call services."""

from generation.webhooks.services import webhook_deliveries_due, webhook_delivery_attempt


def deliver_webhook(delivery_id: str) -> None:
    webhook_delivery_attempt(delivery_id=delivery_id)


def deliver_due_webhooks() -> int:
    """Scheduled every minute: retries whose time has come."""
    return webhook_deliveries_due()
