"""Usage reads for the dashboard: what was charged, by day, brand, model and tier.

A job counts once its reservation was captured (the ledger's capture entry exists); its charge
is the captured reservation amount. Everything is scoped through the tenant (bound key or
brand restriction included).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.tenancy import Tenant
from billing.models import ReservationStatus
from generation import catalog
from generation.selectors import jobs_visible_to


@dataclass(frozen=True)
class UsageRow:
    label: str
    images: int
    spend: int  # micro-USD


def charged_jobs(tenant: Tenant, *, since: date, until: date):
    return (jobs_visible_to(tenant)
            .filter(reservation__status=ReservationStatus.CAPTURED,
                    created_at__date__gte=since, created_at__date__lte=until))


def _grouped(jobs, field: str):
    return (jobs.order_by().values(field)
            .annotate(images=Count("id"), spend=Sum("reservation__amount")))


def usage_by_day(tenant: Tenant, *, since: date, until: date) -> list[UsageRow]:
    """One row per day of the period, zero days included, so the chart's axis is honest."""
    found = {row["day"]: row for row in
             _grouped(charged_jobs(tenant, since=since, until=until)
                      .annotate(day=TruncDate("created_at")), "day")}
    rows, day = [], since
    while day <= until:
        row = found.get(day, {"images": 0, "spend": 0})
        rows.append(UsageRow(day.isoformat(), row["images"], row["spend"] or 0))
        day += timedelta(days=1)
    return rows


def usage_by(tenant: Tenant, dimension: str, *, since: date, until: date) -> list[UsageRow]:
    field = {"brand": "brand__name", "model": "model", "tier": "tier"}[dimension]
    rows = []
    for row in _grouped(charged_jobs(tenant, since=since, until=until), field):
        label = row[field]
        if dimension == "brand":
            label = label or "(no brand)"
        elif dimension == "model" and label in catalog.MODELS:
            label = catalog.MODELS[label].display_name
        rows.append(UsageRow(label, row["images"], row["spend"] or 0))
    return sorted(rows, key=lambda r: (-r.spend, r.label))


def period(days: int) -> tuple[date, date]:
    until = timezone.localdate()
    return until - timedelta(days=days - 1), until
