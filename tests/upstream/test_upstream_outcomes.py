"""Every upstream outcome maps to one job outcome, through the real queue and the fake Gemini
server over real sockets: images → succeeded, safety → blocked, NO_IMAGE/400 → failed at once,
429/5xx/garbled → retried (429 after RetryInfo.retryDelay), then failed with credits back."""

from datetime import timedelta

from django.utils import timezone

from billing.models import EntryKind, LedgerEntry, Reservation, ReservationStatus, Wallet
from generation.models import GenerationJob, JobStatus
from generation.services import job_sweep


def balance(actor) -> tuple[int, int]:
    wallet = Wallet.objects.get(organization=actor.organization)
    return wallet.balance, wallet.reserved


def test_images_succeed_through_the_channel_and_capture_once(owner, gemini_channel, generate,
                                                             fake_gemini):
    job = generate(owner, image_size="2K", aspect_ratio="16:9")

    assert job.status == JobStatus.SUCCEEDED
    assert (job.provider, job.channel, job.is_local_render) == ("gemini", "primary", False)
    assert (job.images.get().width, job.images.get().height) == (2752, 1536)
    assert job.usage["output_image_tokens"] == 1120 and job.model_version
    assert balance(owner) == (10_000_000 - job.price, 0)
    assert LedgerEntry.objects.filter(reference=f"job:{job.id}", kind=EntryKind.CAPTURE).count() == 1
    assert fake_gemini.app.request_count == 1
    # The customer sees the outcome through the API, and the outsider sees nothing.
    assert owner.api.get(f"/api/v1/generations/{job.id}").json()["status"] == "succeeded"


def test_outsider_cannot_see_a_job_run_through_a_channel(owner, outsider, gemini_channel, generate):
    job = generate(owner)
    assert outsider.api.get(f"/api/v1/generations/{job.id}").status_code == 404


def test_429_is_retried_after_the_upstream_retry_delay(owner, gemini_channel, generate,
                                                       fake_gemini):
    fake_gemini.app.configure(script=["429", "ok"], retry_delay=0.25)
    job = generate(owner)

    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 2
    assert fake_gemini.app.outcomes["429"] == 1 and fake_gemini.app.request_count == 2


def test_a_long_retry_delay_requeues_instead_of_holding_a_worker(owner, gemini_channel, generate,
                                                                 fake_gemini):
    fake_gemini.app.configure(script=["429"], retry_delay=42.5)
    before = timezone.now()
    job = generate(owner)

    # The worker returned at once; the job waits in the queue for the fractional delay.
    assert job.status == JobStatus.QUEUED
    assert job.error_code == "upstream_rate_limited"
    assert job.next_attempt_at >= before + timedelta(seconds=42.5)
    assert Reservation.objects.get(pk=job.reservation_id).status == ReservationStatus.OPEN


def test_5xx_and_garbled_bodies_are_retried_then_succeed(owner, gemini_channel, generate,
                                                         fake_gemini):
    fake_gemini.app.configure(script=["503", "malformed", "500", "ok"])
    job = generate(owner)
    assert job.status == JobStatus.SUCCEEDED
    assert job.attempts == 4


def test_persistent_5xx_fails_after_the_last_attempt_and_releases_credits(
        owner, gemini_channel, generate, fake_gemini, settings):
    settings.JOB_MAX_ATTEMPTS = 3
    job = generate(owner, prompt="[fault:503] a storm")

    assert job.status == JobStatus.FAILED
    assert job.error_code == "upstream_unavailable"
    assert job.attempts == 3 and fake_gemini.app.request_count == 3
    assert balance(owner) == (10_000_000, 0)
    assert Reservation.objects.get(pk=job.reservation_id).status == ReservationStatus.RELEASED


def test_a_timeout_is_retried(owner, gemini_channel, generate, fake_gemini):
    gemini_channel.timeout_seconds = 1
    gemini_channel.save()
    fake_gemini.app.configure(script=["timeout", "ok"])
    job = generate(owner)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2


def test_400_fails_at_once_without_retry(owner, gemini_channel, generate, fake_gemini):
    job = generate(owner, prompt="[fault:not_a_real_fault] draw")

    assert job.status == JobStatus.FAILED
    assert job.error_code == "upstream_invalid_request"
    assert fake_gemini.app.request_count == 1
    assert balance(owner) == (10_000_000, 0)


def test_no_image_fails_with_a_clear_code(owner, gemini_channel, generate, fake_gemini):
    job = generate(owner, prompt="[fault:no_image] draw")
    assert job.status == JobStatus.FAILED
    assert job.error_code == "no_image"
    body = owner.api.get(f"/api/v1/generations/{job.id}").json()
    assert body["error"]["code"] == "no_image"
    assert fake_gemini.app.request_count == 1


def test_safety_blocks_are_blocked_with_their_reason(owner, gemini_channel, generate):
    prompt_block = generate(owner, prompt="[fault:safety] something")
    image_block = generate(owner, prompt="[fault:image_safety] something")

    for job, reason in ((prompt_block, "SAFETY"), (image_block, "IMAGE_SAFETY")):
        assert job.status == JobStatus.BLOCKED
        assert job.error_code == "safety_blocked"
        assert reason in job.error_message
    assert balance(owner) == (10_000_000, 0)


def test_without_any_channel_the_local_renderer_serves_and_says_so(owner, generate, db):
    job = generate(owner)
    assert job.status == JobStatus.SUCCEEDED
    assert job.is_local_render and job.provider == "local"
    assert owner.api.get(f"/api/v1/generations/{job.id}").json()["local_render"] is True


def test_channels_that_do_not_serve_the_model_fail_the_job_cleanly(owner, gemini_channel,
                                                                   generate):
    gemini_channel.served_models = ["gemini-2.5-flash-image"]
    gemini_channel.save()
    job = generate(owner, model="gemini-3-pro-image-preview")
    assert job.status == JobStatus.FAILED and job.error_code == "no_upstream"
    assert balance(owner) == (10_000_000, 0)
    assert GenerationJob.objects.filter(status=JobStatus.RUNNING).count() == 0


def test_5xx_backoff_grows_exponentially_and_the_job_waits_in_the_queue(
        owner, gemini_channel, generate, fake_gemini, settings, run_queued_jobs,
        django_capture_on_commit_callbacks):
    settings.RETRY_BACKOFF_BASE_MS = 20_000  # long enough that no worker waits for it
    fake_gemini.app.configure(script=["503", "503"])

    before = timezone.now()
    job = generate(owner)
    first_wait = (job.next_attempt_at - before).total_seconds()
    assert job.status == JobStatus.QUEUED and 10 <= first_wait <= 31  # 20 s × 0.5–1.5

    # Time passes (moved, not waited for); the next dispatch takes it and backs off twice as long.
    GenerationJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        job_sweep()  # the minutely sweeper wakes a dispatcher for due jobs
    run_queued_jobs()
    job.refresh_from_db()
    second_wait = (job.next_attempt_at - timezone.now()).total_seconds()
    assert job.status == JobStatus.QUEUED and job.attempts == 2 and 19 <= second_wait <= 61
    assert fake_gemini.app.request_count == 2
