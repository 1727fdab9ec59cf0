"""Emails about money. Sent from tasks, never inside a transaction."""

from django.conf import settings
from django.core.mail import send_mail
from django.utils.dateparse import parse_datetime

from accounts.models import Membership, Role
from billing.models import Wallet
from billing.money import format_usd


def low_balance_email_send(*, wallet_id: int, crossed_at: str) -> bool:
    """Email the owners and admins about one crossing. Skipped (False) when the wallet has been
    topped up or crossed again since: the alert describes only the crossing it was queued for."""
    wallet = Wallet.objects.select_related("organization").get(pk=wallet_id)
    if wallet.low_balance_since != parse_datetime(crossed_at):
        return False
    recipients = list(Membership.objects.filter(
        organization=wallet.organization, role__in=[Role.OWNER, Role.ADMIN],
        user__is_active=True).values_list("user__email", flat=True))
    if not recipients:
        return False
    organization = wallet.organization
    available = format_usd(wallet.available, symbol=True)
    threshold = format_usd(wallet.low_balance_threshold, symbol=True)
    send_mail(
        subject=f"[Atelier] {organization.name}: credit balance below {threshold}",
        message=(f"The available credit of {organization.name} is {available}, below your "
                 f"alert threshold of {threshold}.\n\nNew generations are refused once it "
                 f"cannot cover their price. Top up in the dashboard to keep them running.\n\n"
                 f"You will not be alerted again until the balance is back above "
                 f"{threshold}.\n"),
        from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=recipients)
    return True
