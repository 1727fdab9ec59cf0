"""The worker settles calls that finish together in one transaction: each job still succeeds
once, is charged exactly once on its own organization's wallet, and a job whose attempt went
stale while its call ran is neither charged nor given images."""

import asyncio
from datetime import timedelta

from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus
from billing.selectors import wallet_discrepancies, wallet_of
from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.providers.local import LocalProvider
from generation.services import (
    Success,
    claim_due_jobs,
    image_request_for,
    job_sweep,
    jobs_settle_success,
)
from tests.upstream.conftest import make_channel


def claimed(*actors_and_prompts, submit):
    ids = [submit(actor, model="gemini-3-pro-image-preview", prompt=prompt).json()["id"]
           for actor, prompt in actors_and_prompts]
    jobs = {str(job.pk): job for job in claim_due_jobs(limit=len(ids))}
    return [jobs[job_id] for job_id in ids]


def success(job):
    result = asyncio.run(LocalProvider().generate(image_request_for(job)))
    return Success(job=job, provider_name="local", result=result, latency_ms=5)


def captures(job):
    return LedgerEntry.objects.filter(reference=f"job:{job.pk}", kind=EntryKind.CAPTURE)


def test_a_group_charges_each_job_once_on_its_own_wallet(owner, outsider, submit, db):
    jobs = claimed((owner, "a harbour"), (outsider, "a lighthouse"), (owner, "a pier"),
                   submit=submit)
    owner_before = wallet_of(organization=owner.organization).balance
    outsider_before = wallet_of(organization=outsider.organization).balance

    assert jobs_settle_success(successes=[success(job) for job in jobs]) == [True, True, True]

    for job in jobs:
        settled = GenerationJob.objects.get(pk=job.pk)
        assert settled.status == JobStatus.SUCCEEDED and settled.images.count() == 1
        [entry] = captures(job)
        assert entry.amount == -job.price
        assert entry.wallet.organization_id == job.organization_id
    assert wallet_of(organization=owner.organization).balance == (
        owner_before - jobs[0].price - jobs[2].price)
    assert wallet_of(organization=outsider.organization).balance == (
        outsider_before - jobs[1].price)
    assert wallet_discrepancies() == []


def test_settling_the_same_group_again_charges_nothing(owner, submit, db):
    jobs = claimed((owner, "a harbour"), (owner, "a pier"), submit=submit)
    jobs_settle_success(successes=[success(job) for job in jobs])
    balance = wallet_of(organization=owner.organization).balance

    assert jobs_settle_success(successes=[success(job) for job in jobs]) == [False, False]
    assert wallet_of(organization=owner.organization).balance == balance
    assert all(captures(job).count() == 1 for job in jobs)
    assert GeneratedImage.objects.filter(job__in=jobs).count() == 2


def test_a_stale_attempt_in_a_group_is_not_charged(owner, submit, db):
    stale, fresh = claimed((owner, "a harbour"), (owner, "a pier"), submit=submit)
    # The sweeper gave up on the first attempt (its worker looked dead) and queued it again.
    GenerationJob.objects.filter(pk=stale.pk).update(
        deadline_at=stale.deadline_at - timedelta(hours=1))
    assert job_sweep(now=fresh.deadline_at - timedelta(seconds=1))["requeued"] == 1

    assert jobs_settle_success(successes=[success(stale), success(fresh)]) == [False, True]

    assert captures(stale).count() == 0 and captures(fresh).count() == 1
    requeued = GenerationJob.objects.get(pk=stale.pk)
    assert requeued.status == JobStatus.QUEUED and requeued.images.count() == 0
    assert Reservation.objects.get(pk=stale.reservation_id).status == ReservationStatus.OPEN
    assert wallet_discrepancies() == []


def test_calls_finishing_together_through_the_worker_each_settle_once(
        owner, fake_gemini, submit, run_queued_jobs, db):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key)
    fake_gemini.app.configure(latency=0.2)  # they all come back at about the same time
    ids = [submit(owner, model="gemini-3-pro-image-preview", prompt=f"p{n}").json()["id"]
           for n in range(8)]
    run_queued_jobs()

    jobs = GenerationJob.objects.filter(pk__in=ids)
    assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}
    assert all(captures(job).count() == 1 for job in jobs)
    assert wallet_discrepancies() == []
