"""Per-organization concurrency: how many single generations may be queued or running at once.

Counted from the jobs table rather than a cache counter: a counter would drift whenever a worker
dies between claim and settlement, while the table is the truth. Two submissions racing at the
limit may both pass (the limit is a fairness guard, not a money invariant). Batch items are not
counted: a batch is admitted as a whole by its own size cap.
"""

from django.conf import settings

from config.ratelimit import RateLimited
from generation.models import GenerationJob, JobStatus

RETRY_AFTER_SECONDS = 5


def concurrency_check(*, organization, extra: int = 1) -> None:
    """RateLimited (429, `rate_limited`) when `extra` more jobs would exceed the limit."""
    limit = settings.MAX_CONCURRENT_JOBS_PER_ORG
    active = GenerationJob.objects.filter(
        organization=organization, status__in=(JobStatus.QUEUED, JobStatus.RUNNING),
        batch_item__isnull=True).count()
    if active + extra > limit:
        raise RateLimited(f"This organization already has {active} generations in progress "
                          f"(limit {limit}); retry when some finish.",
                          retry_after=RETRY_AFTER_SECONDS, param=None)
