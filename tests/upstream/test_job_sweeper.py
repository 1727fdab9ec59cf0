"""Jobs stuck in `running` past their deadline (a worker died mid-call) are requeued while
attempts remain, else failed with their credits released; a late result from the dead
attempt never lands twice."""

import asyncio
from datetime import timedelta

from django_q.models import Schedule

from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus
from generation.models import GenerationJob, JobStatus
from generation.providers.local import LocalProvider
from generation.services import _settle_success, claim_due_jobs, image_request_for, job_sweep


def stranded_job(owner, submit):
    """A job whose worker claimed it and then vanished."""
    response = submit(owner, model="gemini-3-pro-image-preview", prompt="a harbour")
    job_id = response.json()["id"]
    [job] = claim_due_jobs(limit=1)
    assert str(job.pk) == job_id
    return job


def test_a_stuck_job_is_requeued_and_then_completes_once(owner, submit, run_queued_jobs, db):
    job = stranded_job(owner, submit)

    assert job_sweep() == {"requeued": 0, "failed": 0}  # before its deadline: left alone
    report = job_sweep(now=job.deadline_at + timedelta(seconds=1))
    assert report == {"requeued": 1, "failed": 0}
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.QUEUED

    run_queued_jobs()
    finished = GenerationJob.objects.get(pk=job.pk)
    assert finished.status == JobStatus.SUCCEEDED and finished.attempts == 2
    assert LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).count() == 1


def test_a_stuck_job_out_of_attempts_fails_and_releases(owner, submit, settings, db):
    settings.JOB_MAX_ATTEMPTS = 1
    job = stranded_job(owner, submit)
    assert job_sweep(now=job.deadline_at + timedelta(seconds=1)) == {"requeued": 0, "failed": 1}
    ended = GenerationJob.objects.get(pk=job.pk)
    assert (ended.status, ended.error_code) == (JobStatus.FAILED, "deadline_exceeded")
    assert Reservation.objects.get(pk=job.reservation_id).status == ReservationStatus.RELEASED


def test_the_dead_attempts_late_result_is_discarded(owner, submit, run_queued_jobs, db):
    job = stranded_job(owner, submit)
    job_sweep(now=job.deadline_at + timedelta(seconds=1))
    run_queued_jobs()  # attempt 2 succeeds and captures

    late = asyncio.run(LocalProvider().generate(image_request_for(job)))
    assert _settle_success(job, "local", late, 10) is False  # attempt 1 is fenced out
    assert LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE).count() == 1
    assert GenerationJob.objects.get(pk=job.pk).images.count() == 1


def test_the_sweeper_is_scheduled_every_minute(db):
    schedule = Schedule.objects.get(name="generation.sweep_jobs")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "generation.tasks.sweep_jobs", Schedule.MINUTES, 1)
