"""Every movement of money. Each function is one transaction that locks the wallet row first,
so concurrent callers on one wallet are serialized by the database, not by hope."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models import (
    EntryKind,
    LedgerEntry,
    PriceItem,
    PriceList,
    Reservation,
    ReservationStatus,
    SignupCreditRule,
    Wallet,
)
from billing.money import format_usd
from config.errors import DomainError, InsufficientCredits


def _locked_wallet(wallet_id: int) -> Wallet:
    return Wallet.objects.select_for_update().get(pk=wallet_id)


def ledger_post(*, wallet: Wallet, kind: str, amount: int, idempotency_key: str,
                reference: str = "", memo: str = "", actor=None, brand=None, api_key=None,
                allow_overdraw_reserved: bool = False) -> LedgerEntry:
    """Append one entry and move the cached balance with it. Posting the same idempotency key
    again returns the first entry and moves nothing.

    A debit may not take the balance below what is reserved for running jobs, unless
    `allow_overdraw_reserved` (a capture spends its own reservation).
    """
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError(f"amount must be a non-zero int of micro-USD, got {amount!r}")
    with transaction.atomic():
        locked = _locked_wallet(wallet.pk)
        existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        floor = 0 if allow_overdraw_reserved else locked.reserved
        new_balance = locked.balance + amount
        if amount < 0 and new_balance < floor:
            raise InsufficientCredits(
                f"Insufficient credits: this needs {format_usd(-amount, symbol=True)}, "
                f"available {format_usd(locked.available, symbol=True)}."
            )
        entry = LedgerEntry.objects.create(
            wallet=locked, kind=kind, amount=amount, balance_after=new_balance,
            idempotency_key=idempotency_key, reference=reference, memo=memo, actor=actor,
            brand=brand, api_key=api_key,
        )
        Wallet.objects.filter(pk=locked.pk).update(balance=F("balance") + amount,
                                                   updated_at=timezone.now())
    return entry


def current_signup_credits() -> int:
    rule = SignupCreditRule.objects.filter(active=True).order_by("-created_at", "-id").first()
    return rule.amount if rule else 0


def wallet_open_with_signup_credits(*, organization, amount: int | None = None,
                                    actor=None) -> Wallet:
    wallet, _ = Wallet.objects.get_or_create(organization=organization)
    grant = current_signup_credits() if amount is None else amount
    if grant > 0:
        ledger_post(wallet=wallet, kind=EntryKind.SIGNUP_GRANT, amount=grant,
                    idempotency_key=f"signup:{organization.pk}", memo="Free credits on signup",
                    actor=actor)
    return wallet


def reservation_open(*, organization, amount: int, reference: str,
                     expires_at: datetime) -> Reservation:
    """Hold `amount` for one job. Fails with InsufficientCredits and writes nothing when the
    available credit (balance minus open reservations) cannot cover it."""
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(organization=organization)
        if amount > wallet.available:
            raise InsufficientCredits(
                f"Insufficient credits: this request costs {format_usd(amount, symbol=True)}, "
                f"available {format_usd(wallet.available, symbol=True)}."
            )
        reservation = Reservation.objects.create(wallet=wallet, amount=amount,
                                                 reference=reference, expires_at=expires_at)
        Wallet.objects.filter(pk=wallet.pk).update(reserved=F("reserved") + amount,
                                                   updated_at=timezone.now())
    return reservation


def _end_reservation(reservation: Reservation, status: str) -> bool:
    """Move an open reservation to `status` exactly once; False if it had already ended."""
    changed = Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.OPEN).update(
        status=status, ended_at=timezone.now())
    if changed:
        Wallet.objects.filter(pk=reservation.wallet_id).update(
            reserved=F("reserved") - reservation.amount, updated_at=timezone.now())
    return bool(changed)


def reservation_capture(*, reservation: Reservation, memo: str = "", brand=None,
                        api_key=None) -> LedgerEntry | None:
    """Spend a reservation: one capture entry. A second capture (a redelivered task, a crashed
    worker's retry) finds it ended and charges nothing."""
    with transaction.atomic():
        _locked_wallet(reservation.wallet_id)
        if not _end_reservation(reservation, ReservationStatus.CAPTURED):
            return None
        if reservation.amount == 0:
            return None
        return ledger_post(
            wallet=reservation.wallet, kind=EntryKind.CAPTURE, amount=-reservation.amount,
            idempotency_key=f"{reservation.reference}:capture", reference=reservation.reference,
            memo=memo, brand=brand, api_key=api_key, allow_overdraw_reserved=True,
        )


def reservation_release(*, reservation: Reservation) -> bool:
    """Return a reservation's credits to `available`. No ledger entry: nothing was spent."""
    with transaction.atomic():
        _locked_wallet(reservation.wallet_id)
        return _end_reservation(reservation, ReservationStatus.RELEASED)


@dataclass(frozen=True)
class QuoteLine:
    item: str
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Quote:
    model: str
    tier: str
    price_list_id: int
    lines: tuple[QuoteLine, ...] = field(default_factory=tuple)
    google_cost: int = 0

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def current_price_list(at: datetime | None = None) -> PriceList:
    price_list = (PriceList.objects.filter(effective_at__lte=at or timezone.now())
                  .order_by("-effective_at", "-id").first())
    if price_list is None:
        raise DomainError("No price list is in effect.", code="pricing_unavailable",
                          status_code=503)
    return price_list


def quote_generation(*, model: str, tier: str, reference_images: int = 0,
                     grounding: bool = False, at: datetime | None = None) -> Quote:
    price_list = current_price_list(at)
    item = PriceItem.objects.filter(price_list=price_list, model=model, tier=tier).first()
    if item is None:
        raise DomainError(f"{model} at {tier} has no price.", code="unsupported_image_size",
                          param="image_size")
    lines = [QuoteLine(f"image:{model}:{tier}", 1, item.unit_price)]
    google_cost = item.google_cost
    if reference_images:
        lines.append(QuoteLine("reference_image", reference_images,
                               price_list.reference_image_surcharge))
        google_cost += reference_images * price_list.google_reference_image_cost
    if grounding:
        lines.append(QuoteLine("search_grounding", 1, price_list.grounding_surcharge))
        google_cost += price_list.google_grounding_cost
    # A surcharge priced at zero is not worth a line on the customer's breakdown.
    lines = [lines[0], *(line for line in lines[1:] if line.amount)]
    return Quote(model=model, tier=tier, price_list_id=price_list.pk, lines=tuple(lines),
                 google_cost=google_cost)


# --- Bulk holds for batches (issue 6): one wallet lock for many jobs, one reservation each. ---

def reservation_open_many(*, organization, holds: list[tuple[str, int]],
                          expires_at: datetime) -> list[Reservation]:
    """Open one reservation per (reference, amount), all or none: InsufficientCredits when the
    available credit cannot cover their sum."""
    total = sum(amount for _, amount in holds)
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(organization=organization)
        if total > wallet.available:
            raise InsufficientCredits(
                f"Insufficient credits: these requests cost {format_usd(total, symbol=True)}, "
                f"available {format_usd(wallet.available, symbol=True)}."
            )
        reservations = Reservation.objects.bulk_create([
            Reservation(wallet=wallet, amount=amount, reference=reference, expires_at=expires_at)
            for reference, amount in holds])
        Wallet.objects.filter(pk=wallet.pk).update(reserved=F("reserved") + total,
                                                   updated_at=timezone.now())
    return reservations


def reservation_release_many(*, reservation_ids: list) -> int:
    """Release every still-open reservation among `reservation_ids`; each ends exactly once."""
    with transaction.atomic():
        wallet_ids = sorted(set(Reservation.objects.filter(pk__in=reservation_ids)
                                .values_list("wallet_id", flat=True)))
        for wallet_id in wallet_ids:
            _locked_wallet(wallet_id)
        still_open = list(Reservation.objects.filter(pk__in=reservation_ids,
                                                     status=ReservationStatus.OPEN)
                          .values_list("pk", "wallet_id", "amount"))
        Reservation.objects.filter(pk__in=[pk for pk, _, _ in still_open]).update(
            status=ReservationStatus.RELEASED, ended_at=timezone.now())
        for wallet_id in wallet_ids:
            amount = sum(amount for _, owner, amount in still_open if owner == wallet_id)
            if amount:
                Wallet.objects.filter(pk=wallet_id).update(reserved=F("reserved") - amount,
                                                           updated_at=timezone.now())
    return len(still_open)
