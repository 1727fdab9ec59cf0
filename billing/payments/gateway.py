"""The one place that builds a Stripe client. Every call made through it is network I/O: never
call it inside a database transaction."""

import stripe
from django.conf import settings

from config.errors import DomainError


class PaymentsUnavailable(DomainError):
    status_code = 503
    code = "payments_unavailable"


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    if not stripe_configured():
        raise PaymentsUnavailable(
            "Card payments are not configured on this installation (STRIPE_SECRET_KEY is unset). "
            "Ask staff to add credits to your organization.")
    base_addresses = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base_addresses,
        max_network_retries=2,
    )


def plain(obj) -> dict:
    """A Stripe object as plain dicts and lists, the shape webhook payloads have."""
    return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)
