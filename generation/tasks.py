"""django-q2 entry points: take ids, call services."""

from generation.services import job_run, job_sweep


def run_job(job_id: str) -> None:
    job_run(job_id=job_id)


def dispatch_jobs() -> None:
    job_run()


def sweep_jobs() -> None:
    job_sweep()
