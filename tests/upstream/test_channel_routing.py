"""Routing across channels: priority, failover on 429/5xx/timeouts, a rejected key disables the
channel and alerts staff, the circuit breaker, limits, and disabled channels never picked."""

from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from generation.channels import channel_release, channel_route
from generation.models import BreakerState, Channel, JobStatus
from tests.fakes.fake_gemini import running_fake_gemini
from tests.upstream.conftest import make_channel
from tests.upstream.processes import redis_url


@pytest.fixture
def backup_fake():
    with running_fake_gemini(retry_delay=0.05) as fake:
        yield fake


def test_the_highest_priority_channel_serves(owner, fake_gemini, backup_fake, generate):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, priority=10)
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)
    jobs = [generate(owner, prompt=f"picture {n}") for n in range(3)]
    assert {job.channel for job in jobs} == {"primary"}
    assert backup_fake.app.request_count == 0


@pytest.mark.parametrize("fault", ["429", "503", "500"])
def test_a_failing_channel_fails_over_to_the_next_within_the_same_attempt(
        owner, fake_gemini, backup_fake, generate, fault):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, priority=10)
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)
    fake_gemini.app.configure(script=[fault])

    job = generate(owner)
    assert job.status == JobStatus.SUCCEEDED
    assert (job.channel, job.attempts) == ("backup", 1)


def test_a_rejected_key_disables_the_channel_alerts_staff_and_fails_over(
        owner, fake_gemini, backup_fake, generate, mailoutbox):
    make_channel("primary", fake_gemini.base_url, "a-revoked-key", priority=10)
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)

    first = generate(owner, prompt="one")
    second = generate(owner, prompt="two")

    assert (first.status, first.channel) == (JobStatus.SUCCEEDED, "backup")
    assert second.channel == "backup"
    primary = Channel.objects.get(name="primary")
    assert not primary.enabled and "authentication" in primary.disabled_reason
    assert fake_gemini.app.request_count == 1  # never picked again once disabled
    assert len(mailoutbox) == 1
    assert "primary" in mailoutbox[0].subject and "ops@atelier.test" in mailoutbox[0].to


def test_a_rejected_key_with_no_other_channel_fails_the_job_and_returns_credits(
        owner, fake_gemini, generate, mailoutbox):
    make_channel("primary", fake_gemini.base_url, "a-revoked-key")
    job = generate(owner)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "upstream_authentication_failed"
    assert len(mailoutbox) == 1


def test_disabled_channels_are_never_picked_not_even_for_retries(owner, fake_gemini, backup_fake,
                                                                 generate):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, priority=10, enabled=False)
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)
    backup_fake.app.configure(script=["503", "503", "ok"])

    job = generate(owner)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 3
    assert fake_gemini.app.request_count == 0


def test_the_breaker_opens_after_repeated_failures_and_a_real_request_probes_it(
        owner, fake_gemini, backup_fake, generate):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, priority=10)
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)
    fake_gemini.app.configure(fault_rate=1.0, fault_mix={"503": 1.0})

    jobs = [generate(owner, prompt=f"picture {n}") for n in range(8)]
    assert all(job.status == JobStatus.SUCCEEDED for job in jobs)
    primary = Channel.objects.get(name="primary")
    assert primary.breaker_state == BreakerState.OPEN
    assert fake_gemini.app.request_count == 5  # open: no more traffic to the failing upstream

    # The cooldown passes (moved back in time rather than waited for); the upstream recovers.
    Channel.objects.filter(pk=primary.pk).update(opened_at=timezone.now() - timedelta(minutes=5))
    fake_gemini.app.configure(fault_rate=0.0)
    probe = generate(owner, prompt="probe")
    assert probe.channel == "primary"  # a customer's real request was the probe: nothing extra
    assert fake_gemini.app.request_count == 6
    assert Channel.objects.get(pk=primary.pk).breaker_state == BreakerState.CLOSED


def test_a_failed_probe_opens_the_breaker_again(owner, fake_gemini, backup_fake, generate):
    primary = make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, priority=10,
                           breaker_state=BreakerState.OPEN,
                           opened_at=timezone.now() - timedelta(minutes=5))
    make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0)
    fake_gemini.app.configure(script=["503"])

    job = generate(owner)
    assert job.channel == "backup"
    primary.refresh_from_db()
    assert primary.breaker_state == BreakerState.OPEN and primary.opened_at > timezone.now() - (
        timedelta(minutes=1))


@pytest.fixture(params=["database", "redis"])
def limits_in(request, settings):
    """Limits are kept in the database, or in Redis when REDIS_URL is set."""
    if request.param == "redis":
        settings.REDIS_URL = redis_url()
        redis.from_url(settings.REDIS_URL).flushdb()
    return request.param


def test_the_concurrency_limit_caps_calls_in_flight(owner, fake_gemini, submit, run_queued_jobs,
                                                    limits_in):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, concurrency_limit=2)
    fake_gemini.app.configure(latency=0.2)
    for n in range(6):
        assert submit(owner, model="gemini-3-pro-image-preview", prompt=f"p{n}").status_code == 202
    run_queued_jobs()
    assert fake_gemini.app.max_in_flight == 2
    assert fake_gemini.app.request_count == 6


def test_the_rpm_limit_holds_the_rest_in_the_queue(owner, fake_gemini, submit, run_queued_jobs,
                                                   limits_in):
    make_channel("primary", fake_gemini.base_url, fake_gemini.api_key, rpm_limit=3)
    for n in range(5):
        submit(owner, model="gemini-3-pro-image-preview", prompt=f"p{n}")
    run_queued_jobs()
    jobs = owner.organization.jobs.all()
    assert jobs.filter(status=JobStatus.SUCCEEDED).count() == 3
    waiting = jobs.filter(status=JobStatus.QUEUED)
    assert waiting.count() == 2
    assert {job.error_code for job in waiting} == {"waiting_for_upstream"}
    assert {job.attempts for job in waiting} == {0}  # waiting for room costs no attempt
    assert fake_gemini.app.request_count == 3


def test_weights_share_traffic_among_equal_priorities(db):
    make_channel("heavy", "http://127.0.0.1:9", "k", weight=3)
    make_channel("light", "http://127.0.0.1:9", "k", weight=1)
    picks = Counter()
    for _ in range(400):
        route = channel_route(model="gemini-3-pro-image-preview")
        picks[route.channel.name] += 1
        channel_release(route=route, outcome="ok")
    assert 200 < picks["heavy"] < 390 and picks["light"] > 10


def test_a_rejected_key_while_the_backup_is_busy_waits_for_the_backup(
        owner, fake_gemini, backup_fake, submit, run_queued_jobs, limits_in):
    make_channel("primary", fake_gemini.base_url, "a-revoked-key", priority=10)
    backup = make_channel("backup", backup_fake.base_url, backup_fake.api_key, priority=0,
                          concurrency_limit=1)
    backup_fake.app.configure(latency=0.3)
    ids = [submit(owner, model="gemini-3-pro-image-preview", prompt=f"p{n}").json()["id"]
           for n in range(3)]
    run_queued_jobs()

    jobs = owner.organization.jobs.filter(pk__in=ids)
    assert {(job.status, job.channel) for job in jobs} == {(JobStatus.SUCCEEDED, "backup")}
    assert backup_fake.app.max_in_flight == 1
    assert backup.leases.filter(released_at__isnull=True).count() == 0
