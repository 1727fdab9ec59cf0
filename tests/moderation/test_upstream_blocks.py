"""An upstream safety block ends the job `blocked`, opens a case with everything staff need,
and charges according to BLOCKED_CHARGE_POLICY (default: nothing)."""

from billing.models import EntryKind, LedgerEntry, ReservationStatus, Wallet
from generation.models import JobStatus
from generation.moderation.models import CaseSource, CaseStatus, Category, ModerationCase
from tests.moderation.conftest import HIGH_DANGER, block_every_request


def test_blocked_job_opens_a_case_with_reason_category_ratings_prompt_brand_and_key(
        owner, blocked_job, blocking_upstream):
    balance = Wallet.objects.get(organization=owner.organization).balance

    job = blocked_job(prompt="a chemistry set exploding")

    assert blocking_upstream.app.request_count == 1
    assert blocking_upstream.app.outcomes["image_safety"] == 1
    assert job.status == JobStatus.BLOCKED
    assert job.error_code == "safety_blocked"
    case = ModerationCase.objects.get(job=job)
    assert (case.source, case.status, case.reason, case.category) == (
        CaseSource.UPSTREAM, CaseStatus.OPEN, "IMAGE_SAFETY", Category.DANGEROUS)
    assert case.safety_ratings == HIGH_DANGER
    assert case.prompt == "a chemistry set exploding"
    assert (case.organization, case.brand_id, case.api_key_id) == (
        owner.organization, job.brand_id, job.api_key_id)
    assert case.api_key is not None
    # Default policy: the reservation is released and nothing is charged.
    job.reservation.refresh_from_db()
    assert job.reservation.status == ReservationStatus.RELEASED
    wallet = Wallet.objects.get(organization=owner.organization)
    assert (wallet.balance, wallet.reserved) == (balance, 0)
    assert not LedgerEntry.objects.filter(kind=EntryKind.CAPTURE).exists()


def test_full_charge_policy_captures_the_blocked_job(owner, blocked_job, settings):
    settings.BLOCKED_CHARGE_POLICY = "full"
    balance = Wallet.objects.get(organization=owner.organization).balance

    job = blocked_job()

    capture = LedgerEntry.objects.get(kind=EntryKind.CAPTURE, reference=f"job:{job.id}")
    assert capture.amount == -job.price
    wallet = Wallet.objects.get(organization=owner.organization)
    assert (wallet.balance, wallet.reserved) == (balance - job.price, 0)
    assert ModerationCase.objects.filter(job=job).exists()


def test_category_falls_back_to_the_block_reason(owner, blocked_job, blocking_upstream):
    # A prompt blockReason PROHIBITED_CONTENT, with no safety ratings at all.
    block_every_request(blocking_upstream, "prohibited")
    job = blocked_job()
    assert ModerationCase.objects.get(job=job).category == Category.PROHIBITED


def test_customer_sees_the_category_of_a_blocked_job_and_nothing_else(owner, blocked_job):
    job = blocked_job()

    detail = owner.api.get(f"/api/v1/generations/{job.id}").json()

    assert detail["status"] == "blocked"
    assert detail["moderation"] == {"category": "dangerous", "review_status": "open",
                                    "review_requested_at": None}
    assert "safety_ratings" not in str(detail)


def test_an_ordinary_job_has_no_moderation_field_value(owner, submit):
    job = submit(owner, model="gemini-3-pro-image-preview", prompt="a harbour").json()
    assert job["moderation"] is None
