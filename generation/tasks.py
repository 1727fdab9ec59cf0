"""django-q2 entry points: take ids, call services."""

from generation.services import job_run


def run_job(job_id: str) -> None:
    job_run(job_id=job_id)
