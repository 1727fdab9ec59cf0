"""Receipt and auto-recharge emails. Network I/O (Stripe, SMTP): run from tasks, never inside a
transaction. Each email is claimed with a conditional update, so a redelivered task sends none."""

import logging

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership, Role
from billing.money import format_usd
from billing.payments.gateway import plain, stripe_client, stripe_configured
from billing.payments.models import Payment, PaymentAccount, PaymentKind

logger = logging.getLogger(__name__)


def owner_emails(organization_id) -> list[str]:
    return sorted(Membership.objects.filter(organization_id=organization_id, role=Role.OWNER)
                  .values_list("user__email", flat=True))


def payment_details_refresh(*, payment: Payment) -> Payment:
    """Fetch the charge behind a paid payment: receipt link, charge id, and the card saved for
    off-session use by a Checkout purchase."""
    if not (stripe_configured() and payment.stripe_payment_intent_id) or payment.receipt_url:
        return payment
    try:
        intent = plain(stripe_client().v1.payment_intents.retrieve(
            payment.stripe_payment_intent_id, params={"expand": ["latest_charge"]}))
    except stripe.StripeError as error:
        logger.warning("could not fetch payment intent %s: %s", payment.stripe_payment_intent_id,
                       error)
        return payment
    charge = intent.get("latest_charge")
    if isinstance(charge, str):
        charge = {"id": charge}
    charge = charge or {}
    Payment.objects.filter(pk=payment.pk).update(
        receipt_url=charge.get("receipt_url") or "",
        stripe_charge_id=payment.stripe_charge_id or charge.get("id") or "")
    method = intent.get("payment_method")
    method = method.get("id") if isinstance(method, dict) else method
    if method and payment.kind == PaymentKind.CHECKOUT:
        PaymentAccount.objects.filter(organization_id=payment.organization_id).update(
            default_payment_method_id=method)
    payment.refresh_from_db()
    return payment


def receipt_send(*, payment_id) -> None:
    payment = Payment.objects.select_related("organization", "created_by").get(pk=payment_id)
    if payment.paid_at is None:
        return
    payment = payment_details_refresh(payment=payment)
    claimed = Payment.objects.filter(pk=payment.pk, receipt_sent_at__isnull=True).update(
        receipt_sent_at=timezone.now())
    if not claimed:
        return
    recipients = owner_emails(payment.organization_id)
    if payment.created_by and payment.created_by.email not in recipients:
        recipients.append(payment.created_by.email)
    lines = [
        f"Thank you. {payment.organization.name} bought "
        f"{format_usd(payment.amount, symbol=True)} of Atelier credits.",
        f"Bonus: {format_usd(payment.bonus, symbol=True)}" if payment.bonus else "",
        f"Credited in total: {format_usd(payment.credits, symbol=True)}",
        f"Payment: {payment.pk} ({payment.get_kind_display()})",
        f"Stripe receipt: {payment.receipt_url}" if payment.receipt_url else "",
        f"Payments: {settings.PUBLIC_BASE_URL}/api/v1/payments",
    ]
    try:
        send_mail(subject=f"Atelier receipt: {format_usd(payment.credits, symbol=True)} of credits",
                  message="\n".join(line for line in lines if line) + "\n",
                  from_email=None, recipient_list=recipients)
    except Exception:
        # Give the claim back so the task's retry sends it.
        Payment.objects.filter(pk=payment.pk).update(receipt_sent_at=None)
        raise


def auto_recharge_failure_send(*, payment_id) -> None:
    payment = Payment.objects.select_related("organization").get(pk=payment_id)
    account = PaymentAccount.objects.get(organization_id=payment.organization_id)
    claimed = Payment.objects.filter(Q(receipt_sent_at__isnull=True), pk=payment.pk).update(
        receipt_sent_at=timezone.now())
    if not claimed:
        return
    state = ("Auto-recharge is now switched off; turn it on again once the card is fixed."
             if not account.auto_recharge_enabled else
             "We will try again the next time your credit falls below the threshold.")
    send_mail(
        subject=f"Atelier auto-recharge of {format_usd(payment.amount, symbol=True)} failed",
        message=(f"The automatic top-up of {payment.organization.name} failed: "
                 f"{payment.failure_message}\n{state}\n"),
        from_email=None, recipient_list=owner_emails(payment.organization_id))
