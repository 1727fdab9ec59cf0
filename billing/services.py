"""Every movement of money. Each function is one transaction that locks the wallet row first,
so concurrent callers on one wallet are serialized by the database, not by hope."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.alerts import LowBalanceCrossing, low_balance_notify, low_balance_transition
from billing.models import (
    EntryKind,
    LedgerEntry,
    PriceList,
    Reservation,
    ReservationStatus,
    SignupCreditRule,
    Wallet,
)
from billing.money import format_usd
from billing.pricing import PricingTerms, pricing_terms_of
from billing.reference import PricedList, organization_terms, priced_list_in_effect
from billing.spend_caps import spend_caps_enforce, spend_caps_of
from config import refcache
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


# The hot path (every job opens and ends one reservation) is one SQL statement per movement:
# a data-modifying CTE whose UPDATE of the wallet row is both the lock and the funds check.
# It holds the row lock for one round trip instead of five, which is what lets one busy wallet
# take well over a thousand jobs a second. Capture and release update the reservation row
# first and the wallet second, always in that order, so the two can never deadlock; the
# conditional `status = 'open'` is still what makes a reservation end exactly once.
# A movement that takes `available` below a positive threshold records the crossing time
# (COALESCE keeps the first one); being at or above it re-arms the alert (NULL).
# Opening takes a request's holds (one, or `n` identical ones) together: the wallet moves by
# their total and one reservation row is inserted per hold.
_OPEN_SQL = """
WITH w AS (
    UPDATE billing_wallet
       SET reserved = reserved + %(total)s, updated_at = %(now)s,
           low_balance_since = CASE
               WHEN low_balance_threshold > 0
                    AND balance - reserved - %(total)s < low_balance_threshold
               THEN COALESCE(low_balance_since, %(now)s) ELSE NULL END
     WHERE organization_id = %(organization)s AND balance - reserved >= %(total)s
 RETURNING id, organization_id, balance, reserved, low_balance_threshold, low_balance_since
), r AS (
    INSERT INTO billing_reservation
           (id, wallet_id, amount, status, reference, brand_id, api_key_id, created_at,
            expires_at)
    SELECT hold.id, w.id, %(amount)s, 'open', hold.reference, %(brand)s, %(api_key)s, %(now)s,
           %(expires_at)s
      FROM w CROSS JOIN unnest(%(ids)s::uuid[], %(references)s::text[]) AS hold(id, reference)
)
SELECT id, organization_id, balance, reserved, low_balance_threshold, low_balance_since FROM w
"""

_CAPTURE_SQL = """
WITH r AS (
    UPDATE billing_reservation SET status = 'captured', ended_at = %(now)s
     WHERE id = %(id)s AND status = 'open'
 RETURNING wallet_id, amount, reference
), w AS (
    UPDATE billing_wallet
       SET balance = billing_wallet.balance - r.amount,
           reserved = billing_wallet.reserved - r.amount, updated_at = %(now)s
      FROM r
     WHERE billing_wallet.id = r.wallet_id
 RETURNING billing_wallet.id, billing_wallet.balance
), e AS (
    INSERT INTO billing_ledgerentry
           (wallet_id, kind, amount, balance_after, idempotency_key, reference, brand_id,
            api_key_id, memo, created_at)
    SELECT w.id, 'capture', -r.amount, w.balance, r.reference || ':capture', r.reference,
           %(brand)s, %(api_key)s, %(memo)s, clock_timestamp()
      FROM w, r
     WHERE r.amount > 0
 RETURNING id, wallet_id, amount, balance_after, idempotency_key, reference, created_at
)
SELECT e.id, e.wallet_id, e.amount, e.balance_after, e.idempotency_key, e.reference,
       e.created_at
  FROM r LEFT JOIN e ON true
"""

_RELEASE_SQL = """
WITH r AS (
    UPDATE billing_reservation SET status = 'released', ended_at = %(now)s
     WHERE id = %(id)s AND status = 'open'
 RETURNING wallet_id, amount
)
UPDATE billing_wallet
   SET reserved = billing_wallet.reserved - r.amount, updated_at = %(now)s,
       low_balance_since = CASE
           WHEN low_balance_threshold > 0
                AND billing_wallet.balance - billing_wallet.reserved + r.amount
                    < low_balance_threshold
           THEN COALESCE(low_balance_since, %(now)s) ELSE NULL END
  FROM r
 WHERE billing_wallet.id = r.wallet_id
RETURNING billing_wallet.id
"""


def _loaded(instance):
    """Mark an instance built from a RETURNING row as saved."""
    instance._state.adding = False
    instance._state.db = "default"
    return instance


def reservation_open(*, organization, amount: int, reference: str, expires_at: datetime,
                     brand=None, api_key=None, reservation_id=None) -> Reservation:
    """Hold `amount` for one job. Fails with InsufficientCredits, or with the spend cap of
    `brand` or `api_key` that it would exceed, and then writes nothing. `reservation_id` lets a
    caller insert rows pointing at the reservation first (foreign keys are checked at commit).

    Caps are checked while the wallet row is locked: every submit of the organization waits
    for that lock, so two submits can never both fit under the same cap."""
    caps = spend_caps_of(brand=brand, api_key=api_key) \
        if spend_caps_may_apply(organization, brand=brand, api_key=api_key) else []
    if not caps:
        return _reservation_insert(organization, amount, reference, expires_at, brand, api_key,
                                   reservation_id)
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(organization=organization)
        if amount > wallet.available:
            raise _insufficient(amount, wallet.available)
        spend_caps_enforce(caps=caps, amount=amount)
        return _reservation_insert(organization, amount, reference, expires_at, brand, api_key,
                                   reservation_id)


def spend_caps_may_apply(organization, *, brand, api_key) -> bool:
    """False only when it is known (from the organization's memoized terms) that neither
    `brand` nor `api_key` has a spend cap, so `spend_caps_of` need not be asked."""
    if not refcache.enabled() or (brand is None and api_key is None):
        return brand is not None or api_key is not None
    terms = organization_terms(organization.pk)
    return (brand is not None and brand.pk in terms.capped_brand_ids) or \
        (api_key is not None and api_key.pk in terms.capped_api_key_ids)


def _insufficient(amount: int, available: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"Insufficient credits: this request costs {format_usd(amount, symbol=True)}, "
        f"available {format_usd(available, symbol=True)}."
    )


def _single_statement_sql() -> bool:
    """The one-statement paths need PostgreSQL (data-modifying CTEs); the embedded default
    (SQLite, whose IMMEDIATE transactions serialize every writer) takes the ORM paths."""
    return connection.vendor == "postgresql"


def _reservation_insert(organization, amount, reference, expires_at, brand,
                        api_key, reservation_id=None) -> Reservation:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"amount must be a non-negative int of micro-USD, got {amount!r}")
    if not _single_statement_sql():
        return _reservation_insert_orm(organization, amount, reference, expires_at, brand,
                                       api_key, reservation_id)
    return _holds_insert(organization, amount, [(reservation_id or uuid.uuid4(), reference)],
                         expires_at, brand, api_key)[0]


def _holds_insert(organization, amount: int, holds: list[tuple[uuid.UUID, str]], expires_at,
                  brand, api_key) -> list[Reservation]:
    """`_OPEN_SQL` for one request's holds of `amount` each (PostgreSQL): all or none."""
    total = amount * len(holds)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_SQL, {
            "total": total, "amount": amount, "now": now, "organization": organization.pk,
            "ids": [reservation_id for reservation_id, _ in holds],
            "references": [reference for _, reference in holds],
            "brand": brand.pk if brand else None, "api_key": api_key.pk if api_key else None,
            "expires_at": expires_at})
        row = cursor.fetchone()
    if row is None:
        raise _insufficient(total, Wallet.objects.get(organization=organization).available)
    wallet_id, organization_id, balance, reserved, threshold, low_since = row
    if low_since == now:
        crossing = LowBalanceCrossing(wallet_id=wallet_id, organization_id=organization_id,
                                      available=balance - reserved, threshold=threshold,
                                      crossed_at=now)
        transaction.on_commit(lambda: low_balance_notify(crossing=crossing))
    return [_loaded(Reservation(
        id=reservation_id, wallet_id=wallet_id, amount=amount, status=ReservationStatus.OPEN,
        reference=reference, brand=brand, api_key=api_key, created_at=now,
        expires_at=expires_at)) for reservation_id, reference in holds]


def reservation_capture(*, reservation: Reservation, memo: str = "", brand=None,
                        api_key=None) -> LedgerEntry | None:
    """Spend a reservation: one capture entry. A second capture (a redelivered task, a crashed
    worker's retry) finds it ended and charges nothing; a zero hold ends without an entry.
    Capturing does not change `available`, so it never crosses the low-balance threshold.
    The entry is stamped after the wallet lock is taken (clock_timestamp), so a wallet's
    entries are in time order exactly as their balances follow each other."""
    if not _single_statement_sql():
        return _reservation_capture_orm(reservation, memo=memo, brand=brand, api_key=api_key)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_CAPTURE_SQL, {"now": now, "id": reservation.pk,
                                      "brand": brand.pk if brand else None,
                                      "api_key": api_key.pk if api_key else None, "memo": memo})
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    entry_id, wallet_id, amount, balance_after, idempotency_key, reference, created_at = row
    return _loaded(LedgerEntry(
        id=entry_id, wallet_id=wallet_id, kind=EntryKind.CAPTURE, amount=amount,
        balance_after=balance_after, idempotency_key=idempotency_key, reference=reference,
        brand=brand, api_key=api_key, memo=memo, created_at=created_at))


def reservation_release(*, reservation: Reservation) -> bool:
    """Return a reservation's credits to `available`. No ledger entry: nothing was spent."""
    if not _single_statement_sql():
        return _reservation_release_orm(reservation)
    with connection.cursor() as cursor:
        cursor.execute(_RELEASE_SQL, {"now": timezone.now(), "id": reservation.pk})
        return cursor.fetchone() is not None


# The same three movements through the ORM, for databases without data-modifying CTEs.
# Same order (reservation row, then wallet row) and the same conditional `status = 'open'`.

def _reservation_insert_orm(organization, amount, reference, expires_at, brand,
                            api_key, reservation_id=None) -> Reservation:
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(organization=organization)
        if amount > locked.available:
            raise _insufficient(amount, locked.available)
        reservation = Reservation.objects.create(
            id=reservation_id or uuid.uuid4(), wallet=locked, amount=amount, reference=reference,
            brand=brand, api_key=api_key, expires_at=expires_at)
        _wallet_move(locked, reserved=amount)
    return reservation


def _end_reservation_orm(reservation: Reservation, status: str) -> Wallet | None:
    """Move an open reservation to `status` exactly once; the locked wallet, or None if it had
    already ended. Runs inside the caller's transaction."""
    changed = Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.OPEN).update(
        status=status, ended_at=timezone.now())
    return _locked_wallet(reservation.wallet_id) if changed else None


def _reservation_capture_orm(reservation: Reservation, *, memo: str, brand,
                             api_key) -> LedgerEntry | None:
    with transaction.atomic():
        locked = _end_reservation_orm(reservation, ReservationStatus.CAPTURED)
        if locked is None or reservation.amount == 0:
            return None
        return _post_locked(
            locked, kind=EntryKind.CAPTURE, amount=-reservation.amount,
            idempotency_key=f"{reservation.reference}:capture", reference=reservation.reference,
            memo=memo, brand=brand, api_key=api_key, reserved=-reservation.amount)


def _reservation_release_orm(reservation: Reservation) -> bool:
    with transaction.atomic():
        locked = _end_reservation_orm(reservation, ReservationStatus.RELEASED)
        if locked is None:
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
    return _priced_list(at).price_list


def _priced_list(at: datetime | None) -> PricedList:
    priced = priced_list_in_effect(at)
    if priced is None:
        raise DomainError("No price list is in effect.", code="pricing_unavailable",
                          status_code=503)
    return priced


def quote_generation(*, model: str, tier: str, reference_images: int = 0,
                     grounding: bool = False, at: datetime | None = None,
                     organization=None) -> Quote:
    """The exact price of one image: the price list in effect, then the organization's explicit
    price for (model, tier) or its discount. Google's cost rides along for the margin."""
    priced = _priced_list(at)
    price_list = priced.price_list
    item = priced.items.get((model, tier))
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


# --- Bulk holds for batches (issue 6): one wallet lock for many jobs, one reservation each. ---

def _spend_caps_enforce_many(*, holds: list[tuple[str, int, object]], api_key) -> None:
    """The caps `reservation_open` applies to one hold, applied to many at once: each brand's
    caps against that brand's sum, the key's caps against the whole sum. Wallet row locked."""
    per_brand: dict = {}
    for _, amount, brand in holds:
        if brand is not None:
            per_brand.setdefault(brand.pk, [brand, 0])[1] += amount
    for brand, amount in per_brand.values():
        spend_caps_enforce(caps=spend_caps_of(brand=brand, api_key=None), amount=amount)
    if api_key is not None:
        spend_caps_enforce(caps=spend_caps_of(brand=None, api_key=api_key),
                           amount=sum(amount for _, amount, _ in holds))


def reservation_open_many(*, organization, holds: list[tuple[str, int, object]],
                          expires_at: datetime, api_key=None) -> list[Reservation]:
    """Open one reservation per (reference, amount, brand), all or none: InsufficientCredits
    when the available credit cannot cover their sum, or the spend cap (of a brand, or of
    `api_key`) that the sum would exceed — checked under the wallet lock, as
    `reservation_open` does for one hold. The low-balance alert moves with the wallet."""
    total = sum(amount for _, amount, _ in holds)
    with transaction.atomic():
        locked = Wallet.objects.select_for_update().get(organization=organization)
        if total > locked.available:
            raise InsufficientCredits(
                f"Insufficient credits: these requests cost {format_usd(total, symbol=True)}, "
                f"available {format_usd(locked.available, symbol=True)}."
            )
        _spend_caps_enforce_many(holds=holds, api_key=api_key)
        reservations = Reservation.objects.bulk_create([
            Reservation(wallet=locked, amount=amount, reference=reference, brand=brand,
                        api_key=api_key, expires_at=expires_at)
            for reference, amount, brand in holds])
        _wallet_move(locked, reserved=total)
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
                _wallet_move(_locked_wallet(wallet_id), reserved=-amount)
    return len(still_open)


# --- Identical holds for one request's `n` jobs: `_OPEN_SQL` too, on the hot path. ---

def reservations_open_alike(*, organization, amount: int, holds: list[tuple[uuid.UUID, str]],
                            expires_at: datetime, brand=None, api_key=None) -> list[Reservation]:
    """Hold `amount` for each (reservation id, reference) of one request, all or none.
    Refuses with InsufficientCredits naming the request's total, or with the spend cap the holds
    would exceed (each hold checked in turn, as `reservation_open` does), and writes nothing.

    Without a spend cap on PostgreSQL this is one statement, and outside a transaction
    (autocommit) it is its own: the wallet row is locked only while PostgreSQL runs it. Inside a
    caller's transaction the row stays locked until that COMMIT."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError(f"amount must be a non-negative int of micro-USD, got {amount!r}")
    total = amount * len(holds)
    capped = spend_caps_may_apply(organization, brand=brand, api_key=api_key)
    if not capped and _single_statement_sql():
        return _holds_insert(organization, amount, holds, expires_at, brand, api_key)
    with transaction.atomic():  # the wallet lock, the caps and every hold: all or none
        if len(holds) > 1:
            locked = Wallet.objects.select_for_update().get(organization=organization)
            if total > locked.available:
                raise _insufficient(total, locked.available)
        return [reservation_open(organization=organization, amount=amount,
                                 reference=reference, expires_at=expires_at, brand=brand,
                                 api_key=api_key, reservation_id=reservation_id)
                for reservation_id, reference in holds]
