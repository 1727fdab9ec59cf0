"""Every movement of money. Each function is one transaction that locks the wallet row first,
so concurrent callers on one wallet are serialized by the database, not by hope."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.alerts import low_balance_notify, low_balance_transition
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
from billing.pricing import PricingTerms, pricing_terms_of
from billing.spend_caps import spend_caps_enforce
from config.errors import DomainError, InsufficientCredits


def _locked_wallet(wallet_id: int) -> Wallet:
    return Wallet.objects.select_for_update().get(pk=wallet_id)


def _wallet_move(locked: Wallet, *, balance: int = 0, reserved: int = 0) -> None:
    """Apply a change to a locked wallet's cached totals in one UPDATE, and track the
    low-balance alert: a crossing below the threshold is recorded here and notified on commit."""
    new_available = (locked.balance + balance) - (locked.reserved + reserved)
    now = timezone.now()
    changes, crossing = low_balance_transition(wallet=locked, new_available=new_available, now=now)
    Wallet.objects.filter(pk=locked.pk).update(balance=F("balance") + balance,
                                               reserved=F("reserved") + reserved,
                                               updated_at=now, **changes)
    locked.balance += balance
    locked.reserved += reserved
    for name, value in changes.items():
        setattr(locked, name, value)
    if crossing is not None:
        transaction.on_commit(lambda: low_balance_notify(crossing=crossing))


def _post_locked(locked: Wallet, *, kind: str, amount: int, idempotency_key: str,
                 reference: str = "", memo: str = "", actor=None, brand=None, api_key=None,
                 reserved: int = 0) -> LedgerEntry:
    entry = LedgerEntry.objects.create(
        wallet=locked, kind=kind, amount=amount, balance_after=locked.balance + amount,
        idempotency_key=idempotency_key, reference=reference, memo=memo, actor=actor,
        brand=brand, api_key=api_key,
    )
    _wallet_move(locked, balance=amount, reserved=reserved)
    return entry


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
        if amount < 0 and locked.balance + amount < floor:
            raise InsufficientCredits(
                f"Insufficient credits: this needs {format_usd(-amount, symbol=True)}, "
                f"available {format_usd(locked.available, symbol=True)}."
            )
        return _post_locked(locked, kind=kind, amount=amount, idempotency_key=idempotency_key,
                            reference=reference, memo=memo, actor=actor, brand=brand,
                            api_key=api_key)


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


def reservation_open(*, organization, amount: int, reference: str, expires_at: datetime,
                     brand=None, api_key=None) -> Reservation:
    """Hold `amount` for one job. Fails with InsufficientCredits, or with the spend cap of
    `brand` or `api_key` that it would exceed, and then writes nothing.

    Caps are checked while the wallet row is locked: every submit of the organization waits
    here, so two submits can never both fit under the same cap."""
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(organization=organization)
        if amount > wallet.available:
            raise InsufficientCredits(
                f"Insufficient credits: this request costs {format_usd(amount, symbol=True)}, "
                f"available {format_usd(wallet.available, symbol=True)}."
            )
        if brand is not None or api_key is not None:
            spend_caps_enforce(brand=brand, api_key=api_key, amount=amount)
        reservation = Reservation.objects.create(wallet=wallet, amount=amount,
                                                 reference=reference, expires_at=expires_at,
                                                 brand=brand, api_key=api_key)
        _wallet_move(wallet, reserved=amount)
    return reservation


def _end_reservation(reservation: Reservation, status: str) -> bool:
    """Move an open reservation to `status` exactly once; False if it had already ended.
    The caller holds the wallet lock and moves the wallet's totals."""
    return Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.OPEN).update(
        status=status, ended_at=timezone.now()) == 1


def reservation_capture(*, reservation: Reservation, memo: str = "", brand=None,
                        api_key=None) -> LedgerEntry | None:
    """Spend a reservation: one capture entry. A second capture (a redelivered task, a crashed
    worker's retry) finds it ended and charges nothing."""
    with transaction.atomic():
        locked = _locked_wallet(reservation.wallet_id)
        if not _end_reservation(reservation, ReservationStatus.CAPTURED):
            return None
        if reservation.amount == 0:
            return None
        # The conditional update above is the once-only guard; the unique idempotency key
        # backs it in the database.
        return _post_locked(
            locked, kind=EntryKind.CAPTURE, amount=-reservation.amount,
            idempotency_key=f"{reservation.reference}:capture", reference=reservation.reference,
            memo=memo, brand=brand, api_key=api_key, reserved=-reservation.amount,
        )


def reservation_release(*, reservation: Reservation) -> bool:
    """Return a reservation's credits to `available`. No ledger entry: nothing was spent."""
    with transaction.atomic():
        locked = _locked_wallet(reservation.wallet_id)
        if not _end_reservation(reservation, ReservationStatus.RELEASED):
            return False
        _wallet_move(locked, reserved=-reservation.amount)
        return True


@dataclass(frozen=True)
class QuoteLine:
    item: str
    quantity: int
    unit_price: int
    list_unit_price: int | None = None  # the price list's unit price, when an override applies

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
    discount_bps: int = 0

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def list_total(self) -> int:
        return sum(line.quantity * (line.list_unit_price if line.list_unit_price is not None
                                    else line.unit_price) for line in self.lines)


def _line(terms: PricingTerms, item: str, quantity: int, list_price: int, *,
          explicit: int | None = None) -> QuoteLine:
    price = terms.unit_price(list_price, explicit=explicit)
    return QuoteLine(item, quantity, price,
                     list_unit_price=list_price if price != list_price else None)


def current_price_list(at: datetime | None = None) -> PriceList:
    price_list = (PriceList.objects.filter(effective_at__lte=at or timezone.now())
                  .order_by("-effective_at", "-id").first())
    if price_list is None:
        raise DomainError("No price list is in effect.", code="pricing_unavailable",
                          status_code=503)
    return price_list


def quote_generation(*, model: str, tier: str, reference_images: int = 0,
                     grounding: bool = False, at: datetime | None = None,
                     organization=None) -> Quote:
    """The exact price of one image: the price list in effect, then the organization's explicit
    price for (model, tier) or its discount. Google's cost rides along for the margin."""
    price_list = current_price_list(at)
    item = PriceItem.objects.filter(price_list=price_list, model=model, tier=tier).first()
    if item is None:
        raise DomainError(f"{model} at {tier} has no price.", code="unsupported_image_size",
                          param="image_size")
    terms = pricing_terms_of(organization=organization)
    lines = [_line(terms, f"image:{model}:{tier}", 1, item.unit_price,
                   explicit=terms.explicit_price(model, tier))]
    google_cost = item.google_cost
    if reference_images:
        lines.append(_line(terms, "reference_image", reference_images,
                           price_list.reference_image_surcharge))
        google_cost += reference_images * price_list.google_reference_image_cost
    if grounding:
        lines.append(_line(terms, "search_grounding", 1, price_list.grounding_surcharge))
        google_cost += price_list.google_grounding_cost
    # A surcharge priced at zero is not worth a line on the customer's breakdown.
    lines = [lines[0], *(line for line in lines[1:] if line.amount)]
    return Quote(model=model, tier=tier, price_list_id=price_list.pk, lines=tuple(lines),
                 google_cost=google_cost, discount_bps=terms.discount_bps)
