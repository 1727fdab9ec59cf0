"""Moderation reads: what a customer may know about a block, and what staff see in the queue."""

from datetime import timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate, TruncMinute
from django.utils import timezone
from django_q.brokers import get_broker

from accounts.tenancy import Tenant
from billing.models import EntryKind, LedgerEntry, ReservationStatus
from config.errors import Conflict
from generation import selectors as generation_selectors
from generation.models import GenerationJob, JobStatus
from generation.moderation.models import OPEN_STATUSES, CaseStatus, ModerationCase


def case_of_job(job: GenerationJob) -> ModerationCase | None:
    if job.status != JobStatus.BLOCKED:
        return None
    return ModerationCase.objects.filter(job=job).first()


def moderation_data(job: GenerationJob) -> dict | None:
    """The customer's view of a blocked job: its category and where a review stands. Never the
    rule, the safety scores or the staff's notes."""
    case = case_of_job(job)
    if case is None:
        return None
    return {"category": case.category, "review_status": case.status,
            "review_requested_at": case.review_requested_at.isoformat()
            if case.review_requested_at else None}


def case_for_review(*, tenant: Tenant, job_id) -> ModerationCase:
    """The case of a blocked job the tenant can see; a foreign job is 404, an unblocked one 409."""
    job = generation_selectors.job_for(tenant=tenant, job_id=job_id)
    case = case_of_job(job)
    if case is None:
        raise Conflict(f"Only blocked generations can be reviewed; this one is {job.status}.",
                       code="not_blocked")
    return case


def open_case_count() -> int:
    return ModerationCase.objects.filter(status__in=OPEN_STATUSES).count()


# --- staff console (never customer-facing) ------------------------------------------------------

def _percentile(sorted_values: list[int], fraction: float) -> int | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def dashboard_metrics(*, hours: int, now=None) -> dict:
    """Everything the staff dashboard shows, for the last `hours` (jobs per minute: last hour)."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    entries = LedgerEntry.objects.filter(created_at__gte=since)
    revenue = entries.filter(kind=EntryKind.PURCHASE).aggregate(s=Sum("amount"))["s"] or 0
    spent = -(entries.filter(kind=EntryKind.CAPTURE).aggregate(s=Sum("amount"))["s"] or 0)
    charged = GenerationJob.objects.filter(finished_at__gte=since,
                                           reservation__status=ReservationStatus.CAPTURED)
    money = charged.aggregate(total_price=Sum("price"), total_cost=Sum("google_cost"),
                              total_margin=Sum(F("price") - F("google_cost")))

    minute_ago_60 = now - timedelta(minutes=60)
    per_minute = (GenerationJob.objects.filter(created_at__gte=minute_ago_60)
                  .annotate(minute=TruncMinute("created_at")).values("minute", "status")
                  .annotate(n=Count("id")))
    buckets: dict = {}
    for row in per_minute:
        buckets.setdefault(row["minute"], {})[row["status"]] = row["n"]
    start = minute_ago_60.replace(second=0, microsecond=0)
    minutes = [start + timedelta(minutes=i) for i in range(61)]
    jobs_per_minute = [(m.strftime("%H:%M"), buckets.get(m, {})) for m in minutes]

    window_jobs = GenerationJob.objects.filter(created_at__gte=since)
    by_state = dict(window_jobs.values_list("status").annotate(n=Count("id")).order_by())

    finished = GenerationJob.objects.filter(finished_at__gte=since)
    channels = []
    grouped = (finished.values("provider", "channel")
               .annotate(total=Count("id"), failed=Count("id", filter=Q(status=JobStatus.FAILED)),
                         blocked=Count("id", filter=Q(status=JobStatus.BLOCKED)))
               .order_by("-total"))
    for row in grouped[:20]:
        latencies = sorted(finished.filter(provider=row["provider"], channel=row["channel"],
                                           upstream_latency_ms__isnull=False)
                           .order_by("-finished_at")
                           .values_list("upstream_latency_ms", flat=True)[:2000])
        channels.append({
            "provider": row["provider"] or "(none recorded)", "channel": row["channel"] or "-",
            "total": row["total"], "failed": row["failed"], "blocked": row["blocked"],
            "error_rate_percent": round(100 * row["failed"] / row["total"], 1),
            "p50_ms": _percentile(latencies, 0.5), "p95_ms": _percentile(latencies, 0.95),
        })

    top_orgs = list(entries.filter(kind=EntryKind.CAPTURE)
                    .values("wallet__organization__name", "wallet__organization_id")
                    .annotate(spent=-Sum("amount"), jobs=Count("id")).order_by("-spent")[:10])

    days_since = (now - timedelta(days=13)).replace(hour=0, minute=0, second=0, microsecond=0)
    daily = (LedgerEntry.objects.filter(created_at__gte=days_since,
                                        kind__in=[EntryKind.PURCHASE, EntryKind.CAPTURE])
             .annotate(day=TruncDate("created_at")).values("day", "kind")
             .annotate(total=Sum("amount")))
    per_day: dict = {}
    for row in daily:
        per_day.setdefault(row["day"], {})[row["kind"]] = abs(row["total"])
    days = [(days_since + timedelta(days=i)).date() for i in range(14)]
    money_per_day = [(d.strftime("%m-%d"), per_day.get(d, {})) for d in days]

    return {
        "hours": hours, "since": since, "revenue": revenue, "spent": spent,
        "charged_price": money["total_price"] or 0, "google_cost": money["total_cost"] or 0,
        "margin": money["total_margin"] or 0, "jobs_by_state": by_state,
        "jobs_per_minute": jobs_per_minute, "channels": channels, "top_organizations": top_orgs,
        "money_per_day": money_per_day, "open_cases": open_case_count(),
        "review_requested": ModerationCase.objects.filter(status=CaseStatus.REVIEW_REQUESTED).count(),
        "queue_depth": queue_depth(),
    }


def queue_depth() -> int | None:
    """Tasks waiting on the django-q2 broker; None when the broker cannot say."""
    try:
        return get_broker().queue_size()
    except Exception:  # noqa: BLE001 - a dashboard must render even when the broker is down
        return None
