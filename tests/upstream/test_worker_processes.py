"""Real worker processes on the Redis broker: two clusters share the work and every job runs
exactly once; a worker SIGKILLed mid-call still leaves each job ended exactly once with its
reservation captured at most once; a few hundred jobs through random faults all end."""

from io import StringIO

import pytest
import redis
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus
from generation.models import GenerationJob, JobStatus
from tests.conftest import make_tenant
from tests.fakes.fake_gemini import running_fake_gemini
from tests.upstream.conftest import make_channel
from tests.upstream.processes import (
    RedisBroker,
    enqueue,
    kill_cluster,
    redis_url,
    start_cluster,
    stop_cluster,
    wait_until,
)

TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.BLOCKED, JobStatus.CANCELED)


@pytest.fixture
def broker(committed_db):
    url = redis_url()
    redis.from_url(url).flushdb()
    yield RedisBroker(url)
    connection.close()


def submit_jobs(actor, count: int, broker=None, prompt: str = "a quiet harbour") -> list[str]:
    ids = []
    for n in range(count):
        response = actor.api.post("/api/v1/generations", {
            "model": "gemini-2.5-flash-image", "prompt": f"{prompt} #{n}"}, format="json")
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])
    if broker is not None:
        enqueue_runs(broker, ids)
    return ids


def enqueue_runs(broker, ids) -> None:
    for job_id in ids:  # what the submit's on-commit hook does when the web runs on Redis
        enqueue(broker, "generation.tasks.run_job", job_id)


def all_ended(ids):
    return not GenerationJob.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).exists()


def captures(job_id) -> int:
    return LedgerEntry.objects.filter(reference=f"job:{job_id}", kind=EntryKind.CAPTURE).count()


def assert_books_balance():
    assert not Reservation.objects.filter(status=ReservationStatus.OPEN).exists()
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "every wallet matches" in out.getvalue()


def test_two_clusters_on_redis_process_every_job_exactly_once(broker):
    tenant = make_tenant("Twin Agency", "twin@agency.test", credits="100")
    with running_fake_gemini(latency=(0.05, 0.3)) as fake:
        make_channel("primary", fake.base_url, fake.api_key)
        clusters = [start_cluster(broker._url), start_cluster(broker._url)]
        try:
            ids = submit_jobs(tenant, 60, broker)
            wait_until(lambda: all_ended(ids), what="60 jobs to end")
        finally:
            for cluster in clusters:
                stop_cluster(cluster)
        assert fake.app.request_count == 60  # one upstream call per job, none twice

    jobs = GenerationJob.objects.filter(pk__in=ids)
    assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}
    assert {job.attempts for job in jobs} == {1}
    assert all(captures(job_id) == 1 for job_id in ids)
    assert_books_balance()


def test_a_worker_killed_mid_call_leaves_every_job_ended_once(broker):
    tenant = make_tenant("Crash Agency", "crash@agency.test", credits="100")
    with running_fake_gemini(latency=2.0) as fake:
        make_channel("primary", fake.base_url, fake.api_key)
        doomed = start_cluster(broker._url, JOB_DEADLINE_SECONDS=5)
        try:
            ids = submit_jobs(tenant, 4, broker)
            wait_until(lambda: fake.app.in_flight >= 1, what="a call in flight")
        finally:
            kill_cluster(doomed)  # SIGKILL to every process of the cluster, mid-call
        stranded = list(GenerationJob.objects.filter(pk__in=ids, status=JobStatus.RUNNING))
        assert stranded, "the kill should have caught at least one job mid-call"

        survivor = start_cluster(broker._url, JOB_DEADLINE_SECONDS=5)
        try:
            latest = max(job.deadline_at for job in stranded)
            wait_until(lambda: timezone.now() > latest, what="the deadline to pass")
            enqueue(broker, "generation.tasks.sweep_jobs")  # the minutely schedule, now
            wait_until(lambda: all_ended(ids), what="the stranded jobs to end")
        finally:
            stop_cluster(survivor)

    jobs = GenerationJob.objects.filter(pk__in=ids)
    assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}
    assert all(captures(job_id) == 1 for job_id in ids)  # captured once, never twice
    assert {job.attempts for job in jobs if job.pk in {s.pk for s in stranded}} == {2}
    assert_books_balance()


def test_chaos_hundreds_of_jobs_through_random_faults_all_end_and_the_books_balance(broker):
    tenant = make_tenant("Chaos Agency", "chaos@agency.test", credits="1000")
    mix = {"429": 3, "503": 3, "500": 2, "malformed": 1, "timeout": 1, "safety": 1,
           "image_safety": 1, "no_image": 1}
    with running_fake_gemini(latency=(0.0, 0.05), fault_rate=0.35, fault_mix=mix,
                             retry_delay=0.05, hang_seconds=5, random_seed=7) as fake:
        make_channel("primary", fake.base_url, fake.api_key, timeout_seconds=1)
        ids = submit_jobs(tenant, 200, prompt="chaos")  # before the workers start: the
        # submits are not what this test is about, and they go faster without competition
        # Faults this dense trip the breaker now and then; a short cooldown keeps the run brief.
        clusters = [start_cluster(broker._url, RETRY_BACKOFF_BASE_MS=20, JOB_MAX_ATTEMPTS=4,
                                  BREAKER_COOLDOWN_SECONDS=1) for _ in range(2)]
        try:
            enqueue_runs(broker, ids)
            wait_until(lambda: all_ended(ids), limit=120, what="200 jobs to end")
        finally:
            for cluster in clusters:
                stop_cluster(cluster)
        assert fake.app.request_count >= 200

    jobs = GenerationJob.objects.filter(pk__in=ids)
    statuses = {status for status in jobs.values_list("status", flat=True)}
    assert statuses <= {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.BLOCKED}
    assert JobStatus.SUCCEEDED in statuses and JobStatus.BLOCKED in statuses
    for job in jobs:
        expected = 1 if job.status == JobStatus.SUCCEEDED else 0
        assert captures(job.pk) == expected
    assert_books_balance()


def test_a_worker_started_with_gemini_api_key_serves_through_the_default_channel(broker):
    tenant = make_tenant("Keyed Agency", "keyed@agency.test", credits="10")
    with running_fake_gemini() as fake:
        cluster = start_cluster(broker._url, GEMINI_API_KEY=fake.api_key,
                                GEMINI_BASE_URL=fake.base_url)
        try:
            ids = submit_jobs(tenant, 2, broker)
            wait_until(lambda: all_ended(ids), what="2 jobs to end")
        finally:
            stop_cluster(cluster)
        assert fake.app.request_count == 2
    jobs = GenerationJob.objects.filter(pk__in=ids)
    assert {(job.status, job.provider, job.channel, job.is_local_render) for job in jobs} == {
        (JobStatus.SUCCEEDED, "gemini", "default-gemini", False)}
