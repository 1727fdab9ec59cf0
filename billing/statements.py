"""Tenant-scoped statements: the ledger page by page (opaque cursor), and usage grouped the way
an agency re-bills its clients (day, brand, key, model, tier).

Callers pass a `Tenant`; a key bound to one brand sees only that brand's entries and usage.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Brand
from accounts.tenancy import Tenant
from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus
from config.errors import DomainError, NotFound
from config.ids import is_uuid

MAX_PAGE = 200


def _invalid(param: str, message: str) -> DomainError:
    return DomainError(message, code="invalid_field", param=param)


def parse_instant(value: str | None, *, param: str) -> datetime | None:
    """An ISO datetime, or a date meaning its midnight UTC. None when absent."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            if day is None:
                raise ValueError
            parsed = datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        raise _invalid(param, f"{param}: expected an ISO date or datetime, got '{value}'.") \
            from None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def brand_filter_of(tenant: Tenant, brand_id: str | None) -> Brand | None:
    """The brand to filter by: the key's own brand when it is bound to one; a foreign or unknown
    brand does not exist (404)."""
    if not brand_id:
        return tenant.brand
    brand = Brand.objects.filter(pk=brand_id, organization=tenant.organization).first() \
        if is_uuid(brand_id) else None
    if brand is None or (tenant.brand is not None and brand.pk != tenant.brand.pk):
        raise NotFound("No such brand.", code="brand_not_found", param="brand")
    return brand




@dataclass(frozen=True)
class LedgerFilter:
    brand: Brand | None = None
    kind: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def ledger_filter_from(tenant: Tenant, params) -> LedgerFilter:
    kind = params.get("kind") or None
    if kind is not None and kind not in EntryKind.values:
        raise _invalid("kind", f"kind: expected one of {', '.join(EntryKind.values)}.")
    return LedgerFilter(brand=brand_filter_of(tenant, params.get("brand")), kind=kind,
                        since=parse_instant(params.get("since"), param="since"),
                        until=parse_instant(params.get("until"), param="until"))


def ledger_entries(*, tenant: Tenant, filters: LedgerFilter):
    """Newest first; (created_at, id) is the total order the cursor walks."""
    entries = LedgerEntry.objects.filter(wallet__organization=tenant.organization)
    if filters.brand is not None:
        entries = entries.filter(brand=filters.brand)
    if filters.kind:
        entries = entries.filter(kind=filters.kind)
    if filters.since:
        entries = entries.filter(created_at__gte=filters.since)
    if filters.until:
        entries = entries.filter(created_at__lt=filters.until)
    return entries.select_related("brand", "api_key", "actor").order_by("-created_at", "-id")


def _encode_cursor(entry: LedgerEntry) -> str:
    raw = json.dumps([entry.created_at.isoformat(), entry.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, pk = json.loads(raw)
        instant = datetime.fromisoformat(created_at)
        if not isinstance(pk, int) or instant.tzinfo is None:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise _invalid("cursor", "cursor: not a cursor this API returned.") from None
    return instant, pk


def page_limit(value, *, default: int = 50) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_PAGE:
        raise _invalid("limit", f"limit: expected an integer from 1 to {MAX_PAGE}.")
    return limit


def ledger_page(*, tenant: Tenant, filters: LedgerFilter, cursor: str | None,
                limit: int) -> tuple[list[LedgerEntry], str | None]:
    """(entries, next cursor or None)."""
    entries = ledger_entries(tenant=tenant, filters=filters)
    if cursor:
        created_at, pk = _decode_cursor(cursor)
        entries = entries.filter(Q(created_at__lt=created_at) | Q(created_at=created_at,
                                                                  id__lt=pk))
    rows = list(entries[:limit + 1])
    if len(rows) > limit:
        return rows[:limit], _encode_cursor(rows[limit - 1])
    return rows, None


USAGE_GROUPS = ("day", "brand", "key", "model", "tier")
_GROUP_FIELDS = {
    "day": ("day",),
    "brand": ("job__brand_id", "job__brand__name"),
    "key": ("job__api_key_id", "job__api_key__name", "job__api_key__prefix"),
    "model": ("job__model",),
    "tier": ("job__tier",),
}


def usage_groups_from(value: str | None) -> tuple[str, ...]:
    if not value:
        return USAGE_GROUPS
    groups = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [group for group in groups if group not in USAGE_GROUPS]
    if unknown or not groups:
        raise _invalid("group_by", f"group_by: expected a comma-separated subset of "
                                   f"{','.join(USAGE_GROUPS)}.")
    return groups


def month_start(today: date) -> datetime:
    return datetime(today.year, today.month, 1, tzinfo=UTC)


def usage_rows(*, tenant: Tenant, brand: Brand | None, since: datetime | None,
               until: datetime | None, groups: tuple[str, ...]) -> list[dict]:
    """Charged generations (captured reservations, dated by their capture) grouped by `groups`:
    each row has the group fields, `images` and `amount` (micro-USD)."""
    since = since or month_start(timezone.now().date())
    until = until or (timezone.now() + timedelta(seconds=1))
    captured = Reservation.objects.filter(
        wallet__organization=tenant.organization, status=ReservationStatus.CAPTURED,
        ended_at__gte=since, ended_at__lt=until, job__isnull=False)
    if brand is not None:
        captured = captured.filter(job__brand=brand)
    fields = [name for group in groups for name in _GROUP_FIELDS[group]]
    return list(captured.annotate(day=TruncDate("ended_at", tzinfo=UTC)).values(*fields)
                .annotate(images=Count("pk"), amount=Sum("amount")).order_by(*fields))
