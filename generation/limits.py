"""Per-organization concurrency: how many single generations may be queued or running at once.

Counted from the jobs table rather than a cache counter: a counter would drift whenever a worker
dies between claim and settlement, while the table is the truth. Two submissions racing at the
limit may both pass (the limit is a fairness guard, not a money invariant). Batch items are not
counted: a batch is admitted as a whole by its own size cap.
"""

from django.conf import settings
from django.db import connection

from config.ratelimit import RateLimited
from generation.models import GenerationJob, JobStatus

RETRY_AFTER_SECONDS = 5


def concurrency_check(*, organization, extra: int = 1) -> None:
    """RateLimited (429, `rate_limited`) when `extra` more jobs would exceed the limit."""
    limit = settings.MAX_CONCURRENT_JOBS_PER_ORG
    active = active_single_jobs(organization_id=organization.pk)
    if active + extra > limit:
        raise RateLimited(f"This organization already has {active} generations in progress "
                          f"(limit {limit}); retry when some finish.",
                          retry_after=RETRY_AFTER_SECONDS, param=None)


# Every submit asks this, so it is written out once instead of compiled by the ORM each time
# (the same query as GenerationJob.objects.filter(organization=..., status__in=(queued,
# running), batch_item__isnull=True).count(); the partial index job_active_per_org serves it).
_ACTIVE_SQL = """
SELECT COUNT(*) FROM generation_generationjob job
 WHERE job.organization_id = %s AND job.status IN (%s, %s)
   AND NOT EXISTS (SELECT 1 FROM batches_batchitem item WHERE item.job_id = job.id)
"""


def active_single_jobs(*, organization_id) -> int:
    """How many of the organization's jobs outside batches are queued or running."""
    with connection.cursor() as cursor:
        # As the ORM sends it: a uuid on PostgreSQL, its hex on SQLite.
        value = GenerationJob._meta.get_field("organization").target_field.get_db_prep_value(
            organization_id, connection)
        cursor.execute(_ACTIVE_SQL, [value, JobStatus.QUEUED, JobStatus.RUNNING])
        return cursor.fetchone()[0]
