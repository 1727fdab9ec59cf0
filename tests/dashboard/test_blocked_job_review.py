"""A blocked generation shows its category and lets the customer request a review."""

import pytest

from generation.models import GenerationJob
from generation.moderation.models import CaseStatus, ModerationCase

# The fake Gemini server behind the real default channel, refusing with IMAGE_SAFETY and
# dangerous-content ratings: the same upstream the moderation tests use.
from tests.moderation.conftest import _moderation_fake_gemini, blocking_upstream  # noqa: F401

PRO = "gemini-3-pro-image-preview"


@pytest.fixture
def blocked_job(owner, submit, run_queued_jobs, blocking_upstream) -> GenerationJob:  # noqa: F811
    response = submit(owner, model=PRO, prompt="a chemistry set exploding")
    run_queued_jobs()
    return GenerationJob.objects.get(pk=response.json()["id"])


def test_blocked_job_shows_category_and_review_can_be_requested(blocked_job, owner_client):
    url = f"/app/jobs/{blocked_job.pk}/"
    page = owner_client.get(url).content.decode()
    assert 'data-testid="block-category">dangerous' in page
    assert "Request review" in page

    after = owner_client.post(f"{url}review", {"message": "It is a science kit."},
                              follow=True).content.decode()

    case = ModerationCase.objects.get(job=blocked_job)
    assert case.status == CaseStatus.REVIEW_REQUESTED
    assert case.review_message == "It is a science kit."
    assert "Review requested" in after and "Request review</button>" not in after
    status = owner_client.get(f"{url}status").json()
    assert status["moderation"]["category"] == "dangerous"
    assert status["moderation"]["review_status"] == "review_requested"


def test_viewers_see_the_block_but_cannot_request_review_and_outsiders_get_404(
        blocked_job, viewer_client, outsider_client):
    url = f"/app/jobs/{blocked_job.pk}/"
    page = viewer_client.get(url).content.decode()
    assert "dangerous" in page and "Request review</button>" not in page
    assert viewer_client.post(f"{url}review").status_code == 403
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(f"{url}review").status_code == 404
    assert ModerationCase.objects.get(job=blocked_job).status == CaseStatus.OPEN


def test_a_job_that_was_not_blocked_cannot_be_reviewed(owner, owner_client, submit,
                                                       run_queued_jobs):
    job_id = submit(owner, prompt="a lighthouse").json()["id"]
    run_queued_jobs()
    response = owner_client.post(f"/app/jobs/{job_id}/review", follow=True)
    assert "Only blocked generations can be reviewed" in response.content.decode()
