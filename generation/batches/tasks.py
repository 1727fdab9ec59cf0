"""django-q2 entry points: take ids, call services."""

from generation.batches.services import batch_jobs_enqueue


def enqueue_batch_jobs(batch_id: str) -> int:
    return batch_jobs_enqueue(batch_id=batch_id)
