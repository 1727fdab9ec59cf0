"""Promo codes: a fixed amount of credit, once per organization, within expiry and a limit.

The promo row is locked (`select_for_update`) for the whole redemption, so concurrent
redemptions of one code queue up and the counter can never pass `max_redemptions`; a unique
(promo, organization) constraint and the entry's idempotency key back "once per organization"
in the database as well.
"""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import EntryKind, PromoCode, PromoRedemption, Wallet
from billing.money import format_usd
from billing.services import ledger_post
from config.errors import Conflict, DomainError, NotFound


def promo_redeem(*, organization, code: str, actor=None) -> PromoRedemption:
    """Credit the promo's amount to the organization's wallet, or raise a DomainError saying why
    not (`promo_not_found` 404, `promo_expired` 410, `promo_exhausted` 410,
    `promo_already_redeemed` 409)."""
    normalized = (code or "").strip().upper()
    try:
        with transaction.atomic():
            promo = PromoCode.objects.select_for_update().filter(code=normalized,
                                                                 active=True).first()
            if promo is None:
                raise NotFound("No such promo code.", code="promo_not_found", param="code")
            if promo.expires_at is not None and promo.expires_at <= timezone.now():
                raise DomainError(f"Promo code {promo.code} expired.", code="promo_expired",
                                  param="code", status_code=410)
            if PromoRedemption.objects.filter(promo=promo, organization=organization).exists():
                raise Conflict(f"Promo code {promo.code} was already redeemed by this "
                               "organization.", code="promo_already_redeemed", param="code")
            if promo.max_redemptions is not None and promo.redemptions >= promo.max_redemptions:
                raise DomainError(f"Promo code {promo.code} has been fully redeemed.",
                                  code="promo_exhausted", param="code", status_code=410)
            PromoCode.objects.filter(pk=promo.pk).update(redemptions=F("redemptions") + 1)
            entry = ledger_post(
                wallet=Wallet.objects.get(organization=organization), kind=EntryKind.PROMO,
                amount=promo.amount, idempotency_key=f"promo:{promo.pk}:{organization.pk}",
                reference=f"promo:{promo.code}", actor=actor,
                memo=f"Promo code {promo.code}: {format_usd(promo.amount, symbol=True)}")
            return PromoRedemption.objects.create(promo=promo, organization=organization,
                                                  entry=entry, redeemed_by=actor)
    except IntegrityError as error:
        # Only reachable if the row lock were bypassed; the database still says no.
        raise Conflict("This promo code was already redeemed by this organization.",
                       code="promo_already_redeemed", param="code") from error
