"""The admin moderation queue: filters, detail page, decisions with their audit rows, bulk
actions, strikes and suspension. Staff without the moderation permission cannot act."""

import re
from datetime import timedelta

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from accounts.models import ApiKey
from billing.models import ReservationStatus
from generation.models import GenerationJob, JobStatus
from generation.moderation.models import (
    AuditAction,
    AuditLogEntry,
    CaseStatus,
    ModerationCase,
    PrefilterRule,
    Strike,
)
from tests.moderation.conftest import answer_every_request

QUEUE = "/admin/moderation/moderationcase/"
PRO = "gemini-3-pro-image-preview"


def case_of(job) -> ModerationCase:
    return ModerationCase.objects.get(job=job)


def decide(client, case, decision, reason="checked by hand", **extra):
    return client.post(f"{QUEUE}{case.pk}/decide/", {"decision": decision, "reason": reason,
                                                     **extra})


def test_queue_lists_and_filters_cases_and_the_detail_shows_the_prompt(
        moderator, owner, outsider, blocked_job):
    ours = case_of(blocked_job(prompt="an owl made of knives"))
    theirs = case_of(blocked_job(outsider, prompt="a dragon on fire"))
    ModerationCase.objects.filter(pk=theirs.pk).update(status=CaseStatus.CONFIRMED)

    listing = moderator.get(QUEUE).content.decode()
    assert "an owl made of knives" in listing and "a dragon on fire" in listing

    open_only = moderator.get(QUEUE, {"status__exact": "open"}).content.decode()
    assert "an owl made of knives" in open_only and "a dragon on fire" not in open_only
    queue = moderator.get(QUEUE, {"status__in": "open,review_requested"}).content.decode()
    assert "an owl made of knives" in queue and "a dragon on fire" not in queue
    by_org = moderator.get(QUEUE, {"organization__id__exact": str(outsider.organization.pk)})
    assert "a dragon on fire" in by_org.content.decode()
    assert "an owl made of knives" not in by_org.content.decode()
    by_reason = moderator.get(QUEUE, {"reason": "IMAGE_SAFETY"}).content.decode()
    assert "an owl made of knives" in by_reason
    today = timezone.now().date()
    by_date = moderator.get(QUEUE, {"created_at__year": today.year,
                                    "created_at__month": today.month})
    assert by_date.status_code == 200 and "an owl made of knives" in by_date.content.decode()

    detail = moderator.get(f"{QUEUE}{ours.pk}/change/").content.decode()
    assert 'id="case-prompt"' in detail and "an owl made of knives" in detail
    assert 'id="case-decision"' in detail
    assert "HARM_CATEGORY_DANGEROUS_CONTENT" in detail


def test_dismiss_closes_the_case_and_writes_who_when_what_why(moderator, blocked_job):
    case = case_of(blocked_job())

    response = decide(moderator, case, "dismiss", reason="a science fair volcano")

    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.decided_by, case.decision_note) == (
        CaseStatus.DISMISSED, moderator.user, "a science fair volcano")
    audit = AuditLogEntry.objects.get(case=case)
    assert (audit.actor, audit.actor_label, audit.action, audit.reason) == (
        moderator.user, "moderator@atelier.test", AuditAction.CASE_DISMISS,
        "a science fair volcano")
    assert audit.created_at is not None


def test_dismiss_and_rerun_queues_a_new_job_for_the_same_request(
        moderator, owner, blocked_job, blocking_upstream, run_queued_jobs,
        django_capture_on_commit_callbacks):
    blocked = blocked_job(prompt="a volcano erupting")
    case = case_of(blocked)
    answer_every_request(blocking_upstream)  # the upstream no longer blocks this prompt

    with django_capture_on_commit_callbacks(execute=True):
        decide(moderator, case, "dismiss_rerun", reason="false positive")

    case.refresh_from_db()
    rerun = case.rerun_job
    assert rerun is not None and rerun.pk != blocked.pk
    assert (rerun.prompt, rerun.model, rerun.tier, rerun.aspect_ratio, rerun.organization) == (
        blocked.prompt, blocked.model, blocked.tier, blocked.aspect_ratio, owner.organization)
    assert rerun.reservation.status == ReservationStatus.OPEN
    assert {a.action for a in AuditLogEntry.objects.filter(case=case)} == {
        AuditAction.CASE_DISMISS, AuditAction.CASE_RERUN}
    assert run_queued_jobs() == 1
    rerun.refresh_from_db()
    assert rerun.status == JobStatus.SUCCEEDED
    # The case page shows the re-run's output as a thumbnail behind a signed link.
    page = moderator.get(f"{QUEUE}{case.pk}/change/").content.decode()
    [thumbnail] = re.findall(r'<img src="(/files/[^"]+)" alt="re-run output 0"', page)
    assert moderator.get(thumbnail).status_code == 200
    # The customer sees the new job like any other.
    assert owner.api.get(f"/api/v1/generations/{rerun.pk}").json()["status"] == "succeeded"


def test_a_failed_decision_leaves_no_audit_row_and_no_change(moderator, owner, submit):
    PrefilterRule.objects.create(pattern="knife", category="violence")
    submit(owner, model=PRO, prompt="a knife")
    case = ModerationCase.objects.get()

    # A pre-filtered request never became a job, so it cannot be re-run: all or nothing.
    decide(moderator, case, "dismiss_rerun", reason="fine")

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not AuditLogEntry.objects.exists()


def test_confirm_records_a_strike_and_the_third_in_30_days_suspends_the_organization(
        moderator, owner, blocked_job, settings):
    settings.MODERATION_STRIKES_TO_SUSPEND = 3
    old = case_of(blocked_job(prompt="an old one"))
    decide(moderator, old, "confirm")
    Strike.objects.filter(case=old).update(created_at=timezone.now() - timedelta(days=31))
    first, second = case_of(blocked_job(prompt="one")), case_of(blocked_job(prompt="two"))

    decide(moderator, first, "confirm")
    decide(moderator, first, "confirm")  # confirming twice is still one strike
    decide(moderator, second, "confirm")

    strike = Strike.objects.get(case=first)
    assert (strike.organization, strike.api_key_id) == (owner.organization, first.api_key_id)
    owner.organization.refresh_from_db()
    assert owner.organization.suspended_at is None  # two live strikes; the old one expired

    third = case_of(blocked_job(prompt="three"))
    decide(moderator, third, "confirm", reason="weapons again")

    owner.organization.refresh_from_db()
    assert owner.organization.suspended_at is not None
    auto = AuditLogEntry.objects.get(action=AuditAction.ORG_AUTO_SUSPEND)
    assert (auto.actor, auto.actor_label, auto.organization) == (None, "system", owner.organization)
    assert "3 confirmed strikes" in auto.reason
    refused = owner.api.get("/api/v1/wallet")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "organization_suspended"


def test_dismissing_a_confirmed_case_voids_its_strike(moderator, blocked_job, owner):
    case = case_of(blocked_job())
    decide(moderator, case, "confirm")
    decide(moderator, case, "dismiss", reason="appeal accepted")
    assert Strike.objects.get(case=case).voided_at is not None


def test_suspending_the_key_refuses_that_key_only(moderator, owner, member, blocked_job):
    case = case_of(blocked_job())

    decide(moderator, case, "suspend_key", reason="abusive automation")

    refused = owner.api.get("/api/v1/wallet")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "api_key_suspended", "param": None,
                                       "message": "This API key is suspended; contact support."}
    assert member.api.get("/api/v1/generations/" + str(case.job_id)).status_code == 200
    assert AuditLogEntry.objects.get(action=AuditAction.KEY_SUSPEND).api_key == case.api_key


def test_suspending_the_organization_refuses_every_key_with_a_clear_error(
        moderator, owner, member, outsider, blocked_job):
    case = case_of(blocked_job())

    decide(moderator, case, "suspend_organization", reason="repeated violations")

    for actor in (owner, member):
        response = actor.api.post("/api/v1/generations", {"model": PRO, "prompt": "x"},
                                  format="json")
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "organization_suspended", "param": None,
            "message": "This organization is suspended; contact support."}
    assert outsider.api.get("/api/v1/wallet").status_code == 200
    audit = AuditLogEntry.objects.get(action=AuditAction.ORG_SUSPEND)
    assert (audit.organization, audit.case, audit.reason) == (
        owner.organization, case, "repeated violations")


def test_adding_a_term_from_a_case_stops_the_next_submit(moderator, owner, blocked_job, submit):
    case = case_of(blocked_job())

    decide(moderator, case, "add_term", reason="seen this one before", term="exploding",
           term_kind="term", term_category="dangerous")

    rule = PrefilterRule.objects.get()
    assert (rule.pattern, rule.category, rule.enabled) == ("exploding", "dangerous", True)
    assert AuditLogEntry.objects.get(action=AuditAction.RULE_ADD).details["pattern"] == "exploding"
    response = submit(owner, model=PRO, prompt="a chemistry set exploding")
    assert response.json()["error"]["code"] == "content_blocked"


def test_a_decision_without_a_reason_is_refused(moderator, blocked_job):
    case = case_of(blocked_job())
    decide(moderator, case, "confirm", reason="  ")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Strike.objects.exists()


def test_bulk_confirm_asks_for_a_reason_then_decides_every_case(moderator, blocked_job):
    cases = [case_of(blocked_job(prompt=f"prompt {n}")) for n in range(2)]
    selection = {"action": "confirm_cases", ACTION_CHECKBOX_NAME: [str(c.pk) for c in cases]}

    ask = moderator.post(QUEUE, selection)
    assert ask.status_code == 200 and "Reason (required" in ask.content.decode()
    no_reason = moderator.post(QUEUE, {**selection, "apply": "yes", "reason": ""})
    assert "A reason is required." in no_reason.content.decode()
    assert not Strike.objects.exists()

    done = moderator.post(QUEUE, {**selection, "apply": "yes", "reason": "spam run"})

    assert done.status_code == 302
    assert set(ModerationCase.objects.values_list("status", flat=True)) == {CaseStatus.CONFIRMED}
    assert AuditLogEntry.objects.filter(action=AuditAction.CASE_CONFIRM,
                                        reason="spam run").count() == 2
    assert Strike.objects.count() == 2


def test_bulk_suspend_keys_suspends_each_key_once(moderator, owner, blocked_job):
    cases = [case_of(blocked_job(prompt=f"prompt {n}")) for n in range(2)]
    moderator.post(QUEUE, {"action": "suspend_keys", "apply": "yes", "reason": "abuse",
                           ACTION_CHECKBOX_NAME: [str(c.pk) for c in cases]})
    assert ApiKey.objects.get(pk=cases[0].api_key_id).suspended_at is not None
    assert AuditLogEntry.objects.filter(action=AuditAction.KEY_SUSPEND).count() == 1


def test_staff_without_the_permission_cannot_see_or_act(staff_without_permission, blocked_job):
    case = case_of(blocked_job())

    assert staff_without_permission.get(QUEUE).status_code == 403
    assert staff_without_permission.get(f"{QUEUE}{case.pk}/change/").status_code == 403
    assert decide(staff_without_permission, case, "confirm").status_code == 403
    bulk = staff_without_permission.post(QUEUE, {"action": "confirm_cases", "apply": "yes",
                                                 "reason": "x",
                                                 ACTION_CHECKBOX_NAME: [str(case.pk)]})
    assert bulk.status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not AuditLogEntry.objects.exists()


def test_staff_who_may_only_view_see_the_queue_but_cannot_decide(case_viewer, blocked_job):
    case = case_of(blocked_job())

    listing = case_viewer.get(QUEUE)
    assert listing.status_code == 200
    assert "confirm_cases" not in listing.content.decode()
    detail = case_viewer.get(f"{QUEUE}{case.pk}/change/").content.decode()
    assert 'id="case-prompt"' in detail and 'id="case-decision"' not in detail
    assert decide(case_viewer, case, "suspend_organization").status_code == 403
    case_viewer.post(QUEUE, {"action": "confirm_cases", "apply": "yes", "reason": "x",
                             ACTION_CHECKBOX_NAME: [str(case.pk)]})
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Strike.objects.exists()


def test_an_ordinary_user_sees_nothing(ordinary_user, blocked_job):
    case = case_of(blocked_job())
    for url in (QUEUE, f"{QUEUE}{case.pk}/change/", "/admin/moderation/auditlogentry/"):
        response = ordinary_user.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert decide(ordinary_user, case, "confirm").status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert GenerationJob.objects.count() == 1
