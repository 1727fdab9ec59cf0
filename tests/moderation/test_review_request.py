"""Customers ask for a review of a blocked generation; the case goes back to the queue."""

from generation.moderation.models import AuditAction, AuditLogEntry, CaseStatus, ModerationCase
from generation.moderation.services import case_dismiss


def test_review_request_puts_the_case_back_in_the_queue_with_the_message(owner, blocked_job):
    job = blocked_job()

    response = owner.api.post(f"/api/v1/generations/{job.id}/review",
                              {"message": "It is a science fair volcano."}, format="json")

    assert response.status_code == 200
    assert response.json()["moderation"]["review_status"] == "review_requested"
    case = ModerationCase.objects.get(job=job)
    assert case.status == CaseStatus.REVIEW_REQUESTED
    assert case.review_message == "It is a science fair volcano."
    audit = AuditLogEntry.objects.get(action=AuditAction.CASE_REVIEW_REQUEST)
    assert audit.case == case
    assert audit.actor_label.startswith("key:")
    # Asking twice changes nothing.
    again = owner.api.post(f"/api/v1/generations/{job.id}/review", {}, format="json")
    assert again.status_code == 200
    assert AuditLogEntry.objects.filter(action=AuditAction.CASE_REVIEW_REQUEST).count() == 1


def test_outsider_gets_404_for_someone_elses_blocked_job(owner, outsider, blocked_job):
    job = blocked_job()

    response = outsider.api.post(f"/api/v1/generations/{job.id}/review", {}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "generation_not_found"
    assert ModerationCase.objects.get(job=job).status == CaseStatus.OPEN


def test_only_blocked_jobs_can_be_reviewed(owner, submit):
    job = submit(owner, model="gemini-3-pro-image-preview", prompt="a harbour").json()

    response = owner.api.post(f"/api/v1/generations/{job['id']}/review", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_blocked"


def test_a_lifted_block_cannot_be_reviewed_again(owner, blocked_job, moderator):
    job = blocked_job()
    case_dismiss(case=ModerationCase.objects.get(job=job), actor=moderator.user, reason="fine")

    response = owner.api.post(f"/api/v1/generations/{job.id}/review", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_reviewed"
