"""Tenant-scoped reads of purchases."""

from billing.payments.models import BonusRule, CreditPack, Payment, PaymentAccount


def payments_of(*, organization, limit: int = 100):
    return Payment.objects.filter(organization=organization).order_by("-created_at")[:limit]


def payment_by_session(*, session_id: str) -> Payment | None:
    """The payment behind a Checkout return URL. Not tenant-scoped: the caller decides what to
    show (the session id is unguessable, and crediting depends only on Stripe's answer)."""
    return Payment.objects.select_related("organization").filter(
        stripe_checkout_session_id=session_id).first()


def credit_packs_active():
    return CreditPack.objects.filter(active=True).order_by("sort_order", "amount")


def bonus_rules_active():
    return BonusRule.objects.filter(active=True).order_by("min_amount")


def payment_account_of(*, organization) -> PaymentAccount | None:
    return PaymentAccount.objects.filter(organization=organization).first()
