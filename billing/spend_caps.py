"""Spend caps per brand (monthly) and per API key: what was captured in the period plus what
is held by open reservations may not exceed the limit.

`spend_caps_enforce` must run while the organization's wallet row is locked (reservation_open
does this): submits of one organization are then serialized, so two of them cannot both slip
under one cap.
"""

from datetime import UTC, datetime

from django.db.models import Q, Sum
from django.utils import timezone

from billing.models import (
    CapPeriod,
    EntryKind,
    LedgerEntry,
    Reservation,
    ReservationStatus,
    SpendCap,
)
from billing.money import format_usd
from config.errors import DomainError


def period_start(period: str, now: datetime) -> datetime | None:
    if period == CapPeriod.MONTH:
        return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


def cap_spent(*, cap: SpendCap, now: datetime | None = None) -> int:
    """Captured spend in the cap's period (net of refunds) plus open reservations."""
    target = {"brand_id": cap.brand_id} if cap.brand_id else {"api_key_id": cap.api_key_id}
    since = period_start(cap.period, now or timezone.now())
    charges = LedgerEntry.objects.filter(kind__in=[EntryKind.CAPTURE, EntryKind.REFUND], **target)
    if since is not None:
        charges = charges.filter(created_at__gte=since)
    charged = -(charges.aggregate(total=Sum("amount"))["total"] or 0)
    held = (Reservation.objects.filter(status=ReservationStatus.OPEN, **target)
            .aggregate(total=Sum("amount"))["total"] or 0)
    return charged + held


def _describe(cap: SpendCap) -> tuple[str, str, str]:
    """(who, code, param) for the error naming the cap."""
    period = "monthly " if cap.period == CapPeriod.MONTH else ""
    if cap.brand_id:
        return f"Brand '{cap.brand.name}' has reached its {period}spend cap", \
            "brand_budget_exceeded", "brand"
    return (f"API key '{cap.api_key.name}' ({cap.api_key.prefix}…) has reached its "
            f"{period}spend cap"), "key_budget_exceeded", None


def spend_caps_of(*, brand, api_key) -> list[SpendCap]:
    """The caps that apply to a submit for `brand` through `api_key` (brand caps first)."""
    if brand is None and api_key is None:
        return []
    which = Q()
    if brand is not None:
        which |= Q(brand=brand)
    if api_key is not None:
        which |= Q(api_key=api_key)
    return list(SpendCap.objects.filter(which).select_related("brand", "api_key")
                .order_by("brand_id"))


def spend_caps_enforce(*, caps: list[SpendCap], amount: int, now: datetime | None = None) -> None:
    """Raise a 402 naming the first cap that `amount` more would exceed. Call with the
    organization's wallet row locked."""
    for cap in caps:
        spent = cap_spent(cap=cap, now=now)
        if spent + amount > cap.limit:
            who, code, param = _describe(cap)
            raise DomainError(
                f"{who} of {format_usd(cap.limit, symbol=True)}: "
                f"{format_usd(spent, symbol=True)} spent or held, and this request costs "
                f"{format_usd(amount, symbol=True)}.",
                code=code, param=param, status_code=402)


# --- Customer writes (the brand page's monthly budget) --------------------------------------

def spend_cap_set(*, brand, limit: int) -> SpendCap:
    """Give `brand` a monthly budget of `limit` micro-USD, or change it. Takes effect on the next
    submit; a lower budget refuses new work but never touches jobs already held."""
    if limit < 0:
        raise DomainError("A budget cannot be negative.", code="invalid_amount", param="limit")
    cap, _ = SpendCap.objects.update_or_create(
        brand=brand, defaults={"limit": limit, "period": CapPeriod.MONTH})
    return cap


def spend_cap_remove(*, brand) -> bool:
    """Remove the brand's budget; True when there was one."""
    deleted, _ = SpendCap.objects.filter(brand=brand).delete()
    return bool(deleted)


def brand_budget_of(*, brand, now: datetime | None = None) -> dict | None:
    """The brand's cap with what it spent (or holds) in the cap's period; None without a cap."""
    cap = SpendCap.objects.filter(brand=brand).first()
    if cap is None:
        return None
    spent = cap_spent(cap=cap, now=now)
    return {"cap": cap, "limit": cap.limit, "spent": spent,
            "left": max(cap.limit - spent, 0), "monthly": cap.period == CapPeriod.MONTH}
