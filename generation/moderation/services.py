"""Moderation writes: the pre-filter, cases for blocks, staff decisions, strikes and suspensions.

Every staff decision is a `do`-style action: it changes state and writes its audit row in one
transaction, so the log can never disagree with what happened (Zulip's `do_*` actions).
"""

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Organization
from accounts.tenancy import Tenant
from billing.models import EntryKind, LedgerEntry, Wallet
from billing.money import format_usd
from billing.services import ledger_post, reservation_capture, reservation_release
from config.errors import Conflict, DomainError
from generation.models import GenerationJob, JobStatus
from generation.moderation.models import (
    AuditAction,
    AuditLogEntry,
    CaseSource,
    CaseStatus,
    Category,
    ModerationCase,
    PrefilterRule,
    RuleKind,
    Strike,
)
from generation.moderation.reference import (
    enabled_rules,
    prefilter_rules_changed,
)
from generation.providers.base import SafetyBlocked


class ContentBlocked(DomainError):
    code = "content_blocked"


# --- audit -------------------------------------------------------------------------------------

def _actor_label(actor) -> str:
    if actor is None:
        return "system"
    return getattr(actor, "email", None) or str(actor)


def audit_record(*, actor, action: str, reason: str, case: ModerationCase | None = None,
                 organization: Organization | None = None, api_key: ApiKey | None = None,
                 details: dict | None = None, actor_label: str | None = None) -> AuditLogEntry:
    """One audit row. Callers are already inside the transaction of the change it records."""
    if not reason or not reason.strip():
        raise DomainError("A reason is required.", code="missing_reason", param="reason")
    return AuditLogEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=actor_label or _actor_label(actor), action=action, reason=reason.strip(),
        case=case, organization=organization or (case.organization if case else None),
        api_key=api_key, details=details or {})


# --- pre-filter --------------------------------------------------------------------------------

def prefilter_match(prompt: str) -> PrefilterRule | None:
    """The first enabled rule the prompt matches. A broken regular expression is skipped
    (the admin form refuses them; this guards rules written some other way)."""
    for rule, pattern in enabled_rules():
        if pattern.search(prompt):
            return rule
    return None


def prefilter_check(*, tenant: Tenant, model: str, prompt: str, brand=None,
                    params: dict | None = None) -> None:
    """Refuse a prompt that matches a pre-filter rule, before any quote, reservation or job.

    The refusal is recorded as a moderation case (committed on its own, so the case survives
    the error the customer receives) and answered as 400 `content_blocked`. Nothing is charged
    because nothing was reserved.
    """
    rule = prefilter_match(prompt)
    if rule is None:
        return
    with transaction.atomic():
        case = ModerationCase.objects.create(
            organization=tenant.organization, brand=brand or tenant.brand, api_key=tenant.api_key,
            submitted_by=tenant.user if getattr(tenant.user, "pk", None) else None,
            rule=rule, source=CaseSource.PREFILTER, reason="PREFILTER", category=rule.category,
            model=model, prompt=prompt, params=params or {})
    raise ContentBlocked(
        f"This prompt was blocked by our content policy (category: {rule.category}). "
        f"It was not sent to the model and nothing was charged. Reference: {case.id}.",
        param="prompt")


def prefilter_rule_add(*, actor, kind: str, pattern: str, category: str, reason: str,
                       case: ModerationCase | None = None) -> PrefilterRule:
    if kind not in RuleKind.values:
        raise DomainError(f"Unknown rule kind '{kind}'.", code="invalid_rule", param="kind")
    if category not in Category.values:
        raise DomainError(f"Unknown category '{category}'.", code="invalid_rule", param="category")
    pattern = (pattern or "").strip()
    if not pattern:
        raise DomainError("A term or pattern is required.", code="invalid_rule", param="pattern")
    if kind == RuleKind.REGEX:
        try:
            re.compile(pattern)
        except re.error as error:
            raise DomainError(f"Invalid regular expression: {error}.", code="invalid_rule",
                              param="pattern") from None
    with transaction.atomic():
        rule, created = PrefilterRule.objects.get_or_create(
            kind=kind, pattern=pattern,
            defaults={"category": category, "created_by": actor, "note": reason[:300]})
        if not created and not rule.enabled:
            PrefilterRule.objects.filter(pk=rule.pk).update(enabled=True)
            prefilter_rules_changed()
        audit_record(actor=actor, action=AuditAction.RULE_ADD, reason=reason, case=case,
                     organization=case.organization if case else None,
                     details={"rule": rule.pk, "kind": kind, "pattern": pattern,
                              "category": category, "created": created})
    return rule


# --- upstream blocks ---------------------------------------------------------------------------

_HARM_CATEGORIES = {
    "HARM_CATEGORY_SEXUALLY_EXPLICIT": Category.SEXUAL,
    "HARM_CATEGORY_HATE_SPEECH": Category.HATE,
    "HARM_CATEGORY_HARASSMENT": Category.HARASSMENT,
    "HARM_CATEGORY_DANGEROUS_CONTENT": Category.DANGEROUS,
    "HARM_CATEGORY_CIVIC_INTEGRITY": Category.OTHER,
}
_REASON_CATEGORIES = {
    "PROHIBITED_CONTENT": Category.PROHIBITED,
    "IMAGE_PROHIBITED_CONTENT": Category.PROHIBITED,
    "SPII": Category.PERSONAL_INFO,
    "RECITATION": Category.COPYRIGHT,
    "IMAGE_RECITATION": Category.COPYRIGHT,
}
_PROBABILITY_RANK = {"NEGLIGIBLE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


def category_of_block(reason: str, safety_ratings: list) -> str:
    """Our category for an upstream block: the blocked (or most probable) harm category in the
    safety ratings, else one implied by the block reason, else `other`."""
    ratings = [r for r in safety_ratings or [] if isinstance(r, dict)]
    ratings.sort(key=lambda r: (bool(r.get("blocked")),
                                _PROBABILITY_RANK.get(str(r.get("probability")), -1)), reverse=True)
    for rating in ratings:
        if rating.get("category") in _HARM_CATEGORIES:
            return _HARM_CATEGORIES[rating["category"]]
    return _REASON_CATEGORIES.get((reason or "").upper(), Category.OTHER)


def job_settle_blocked(*, job: GenerationJob, blocked: SafetyBlocked) -> ModerationCase | None:
    """The upstream refused: mark the job `blocked`, apply BLOCKED_CHARGE_POLICY to its
    reservation and open a case, all in one transaction. A job settled elsewhere meanwhile
    (swept, canceled) is left alone."""
    reason = (blocked.reason or "SAFETY").upper()
    category = category_of_block(reason, blocked.safety_ratings)
    with transaction.atomic():
        ended = GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.BLOCKED, finished_at=timezone.now(), error_code=blocked.code,
            error_message=blocked.message[:2000], block_reason=reason[:40])
        if not ended:
            return None
        if settings.BLOCKED_CHARGE_POLICY == "full":
            reservation_capture(reservation=job.reservation, brand=job.brand, api_key=job.api_key,
                                memo=f"blocked by the upstream ({reason}); charge policy: full")
        else:
            reservation_release(reservation=job.reservation)
        return ModerationCase.objects.create(
            organization_id=job.organization_id, brand_id=job.brand_id, api_key_id=job.api_key_id,
            submitted_by_id=job.created_by_id, job=job, source=CaseSource.UPSTREAM,
            reason=reason[:60], category=category, safety_ratings=list(blocked.safety_ratings),
            model=job.model, prompt=job.prompt, params=_job_params(job))


def _job_params(job: GenerationJob) -> dict:
    return {"image_size": job.tier, "aspect_ratio": job.aspect_ratio, "seed": job.seed,
            "grounding": job.grounding}


# --- customer review ---------------------------------------------------------------------------

def case_request_review(*, case: ModerationCase, tenant: Tenant, message: str = "") -> ModerationCase:
    """The customer disputes a block: the case goes (back) to the queue as review requested."""
    with transaction.atomic():
        locked = ModerationCase.objects.select_for_update().get(pk=case.pk)
        if locked.status == CaseStatus.REVIEW_REQUESTED:
            return locked
        if locked.status == CaseStatus.DISMISSED:
            raise Conflict("This block was already reviewed and lifted.", code="already_reviewed")
        locked.status = CaseStatus.REVIEW_REQUESTED
        locked.review_message = (message or "").strip()[:4000]
        locked.review_requested_at = timezone.now()
        locked.save(update_fields=["status", "review_message", "review_requested_at"])
        user = tenant.user if getattr(tenant.user, "pk", None) else None
        label = user.email if user else f"key:{tenant.api_key.prefix}" if tenant.api_key else None
        audit_record(actor=user, actor_label=label, action=AuditAction.CASE_REVIEW_REQUEST,
                     reason=locked.review_message or "Review requested by the customer.",
                     case=locked, api_key=tenant.api_key)
    return locked


# --- staff decisions ---------------------------------------------------------------------------

def _decide(case: ModerationCase, *, status: str, actor, note: str) -> ModerationCase:
    locked = ModerationCase.objects.select_for_update().get(pk=case.pk)
    locked.status = status
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.decision_note = note.strip()
    locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


def case_dismiss(*, case: ModerationCase, actor, reason: str, rerun: bool = False) -> ModerationCase:
    """A false positive: close the case, void any strike it caused, and optionally run the same
    request again as a new job (charged normally, like any job)."""
    with transaction.atomic():
        audit_record(actor=actor, action=AuditAction.CASE_DISMISS, reason=reason, case=case,
                     api_key=case.api_key, details={"rerun": rerun})
        case = _decide(case, status=CaseStatus.DISMISSED, actor=actor, note=reason)
        Strike.objects.filter(case=case, voided_at__isnull=True).update(voided_at=timezone.now())
        if rerun:
            job = _rerun(case)
            case.rerun_job = job
            case.save(update_fields=["rerun_job"])
            audit_record(actor=actor, action=AuditAction.CASE_RERUN, reason=reason, case=case,
                         api_key=case.api_key, details={"job": str(job.pk)})
    return case


def _rerun(case: ModerationCase) -> GenerationJob:
    from generation.services import job_submit  # generation.services imports this module

    if case.job is None:
        raise DomainError("Only an upstream-blocked job can be re-run; a pre-filtered request "
                          "never became a job (the customer may simply submit it again).",
                          code="not_rerunnable")
    job = case.job
    tenant = Tenant(organization=job.organization, scopes=frozenset(), brand=None,
                    api_key=job.api_key, user=job.created_by)
    return job_submit(tenant=tenant, model=job.model, prompt=job.prompt, image_size=job.tier,
                      aspect_ratio=job.aspect_ratio, seed=job.seed, grounding=job.grounding,
                      brand_id=job.brand_id)


def case_confirm(*, case: ModerationCase, actor, reason: str) -> ModerationCase:
    """A real violation: one strike against the organization and the key. Reaching
    MODERATION_STRIKES_TO_SUSPEND live strikes within the window suspends the organization."""
    with transaction.atomic():
        audit_record(actor=actor, action=AuditAction.CASE_CONFIRM, reason=reason, case=case,
                     api_key=case.api_key)
        case = _decide(case, status=CaseStatus.CONFIRMED, actor=actor, note=reason)
        # Confirming again (after an appeal) keeps the one strike the case already caused.
        if not Strike.objects.filter(case=case, voided_at__isnull=True).exists():
            Strike.objects.create(case=case, organization_id=case.organization_id,
                                  api_key_id=case.api_key_id, created_by=actor)
            _suspend_when_struck_out(case.organization)
    return case


def live_strikes(organization: Organization) -> int:
    since = timezone.now() - timedelta(days=settings.MODERATION_STRIKE_WINDOW_DAYS)
    return Strike.objects.filter(organization=organization, voided_at__isnull=True,
                                 created_at__gte=since).count()


def _suspend_when_struck_out(organization: Organization) -> None:
    strikes = live_strikes(organization)
    if strikes < settings.MODERATION_STRIKES_TO_SUSPEND:
        return
    suspended = Organization.objects.filter(pk=organization.pk, suspended_at__isnull=True).update(
        suspended_at=timezone.now())
    if suspended:
        audit_record(actor=None, action=AuditAction.ORG_AUTO_SUSPEND, organization=organization,
                     reason=f"{strikes} confirmed strikes within "
                            f"{settings.MODERATION_STRIKE_WINDOW_DAYS} days.",
                     details={"strikes": strikes})


def api_key_suspend(*, api_key: ApiKey, actor, reason: str,
                    case: ModerationCase | None = None) -> bool:
    with transaction.atomic():
        changed = ApiKey.objects.filter(pk=api_key.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now())
        audit_record(actor=actor, action=AuditAction.KEY_SUSPEND, reason=reason, case=case,
                     organization=api_key.organization, api_key=api_key,
                     details={"already_suspended": not changed})
    return bool(changed)


def api_key_reinstate(*, api_key: ApiKey, actor, reason: str) -> bool:
    with transaction.atomic():
        changed = ApiKey.objects.filter(pk=api_key.pk, suspended_at__isnull=False).update(
            suspended_at=None)
        audit_record(actor=actor, action=AuditAction.KEY_REINSTATE, reason=reason,
                     organization=api_key.organization, api_key=api_key)
    return bool(changed)


def organization_suspend(*, organization: Organization, actor, reason: str,
                         case: ModerationCase | None = None) -> bool:
    """Every key of the organization then answers 403 `organization_suspended`."""
    with transaction.atomic():
        changed = Organization.objects.filter(pk=organization.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now())
        audit_record(actor=actor, action=AuditAction.ORG_SUSPEND, reason=reason, case=case,
                     organization=organization, details={"already_suspended": not changed})
    return bool(changed)


def organization_reinstate(*, organization: Organization, actor, reason: str) -> bool:
    with transaction.atomic():
        changed = Organization.objects.filter(pk=organization.pk,
                                              suspended_at__isnull=False).update(suspended_at=None)
        audit_record(actor=actor, action=AuditAction.ORG_REINSTATE, reason=reason,
                     organization=organization)
    return bool(changed)


# --- credit adjustments ------------------------------------------------------------------------

def credit_adjust(*, organization: Organization, amount: int, reason: str, actor,
                  token: str) -> LedgerEntry:
    """Grant (amount > 0) or debit (amount < 0) credits by hand: one `adjustment` ledger entry
    with the staff member as actor, and its audit row, in one transaction. `token` comes from
    the form, so submitting the same form twice posts once."""
    if not reason or not reason.strip():
        raise DomainError("A reason is required.", code="missing_reason", param="reason")
    with transaction.atomic():
        wallet = Wallet.objects.get(organization=organization)
        entry = ledger_post(wallet=wallet, kind=EntryKind.ADJUSTMENT, amount=amount,
                            idempotency_key=f"adjustment:{token}", reference=f"staff:{actor.pk}",
                            memo=reason.strip(), actor=actor)
        if not AuditLogEntry.objects.filter(action=AuditAction.CREDIT_ADJUST,
                                            details__entry=entry.pk).exists():
            audit_record(actor=actor, action=AuditAction.CREDIT_ADJUST, reason=reason,
                         organization=organization,
                         details={"entry": entry.pk, "amount": amount,
                                  "usd": format_usd(amount, symbol=True)})
    return entry
