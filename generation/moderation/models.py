"""Moderation: pre-filter rules, cases opened by a block, strikes, and the staff audit log."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Category(models.TextChoices):
    SEXUAL = "sexual"
    VIOLENCE = "violence"
    HATE = "hate"
    HARASSMENT = "harassment"
    DANGEROUS = "dangerous"
    SELF_HARM = "self_harm"
    CHILD_SAFETY = "child_safety"
    PERSONAL_INFO = "personal_info"
    COPYRIGHT = "copyright"
    PROHIBITED = "prohibited"
    OTHER = "other"


class RuleKind(models.TextChoices):
    TERM = "term", "Term (whole word, case-insensitive)"
    REGEX = "regex", "Regular expression (case-insensitive)"


class PrefilterRule(models.Model):
    """A term or regular expression that stops a prompt before it reaches the upstream."""

    kind = models.CharField(max_length=5, choices=RuleKind.choices, default=RuleKind.TERM)
    pattern = models.CharField(max_length=500)
    category = models.CharField(max_length=20, choices=Category.choices)
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "pattern"], name="one_rule_per_pattern")]
        verbose_name = "pre-filter rule"

    def __str__(self):
        return f"{self.kind}:{self.pattern} ({self.category})"


class CaseSource(models.TextChoices):
    PREFILTER = "prefilter", "Pre-filter"
    UPSTREAM = "upstream", "Upstream"


class CaseStatus(models.TextChoices):
    OPEN = "open"
    REVIEW_REQUESTED = "review_requested", "Review requested"
    DISMISSED = "dismissed", "Dismissed (false positive)"
    CONFIRMED = "confirmed", "Confirmed violation"


OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.REVIEW_REQUESTED)


class ModerationCase(models.Model):
    """One blocked request. A pre-filter block has no job (nothing was queued or charged); an
    upstream block is linked to its job, so the job's images and reference images show here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="moderation_cases")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="moderation_cases")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    job = models.OneToOneField("generation.GenerationJob", on_delete=models.CASCADE, null=True,
                               blank=True, related_name="moderation_case")
    rule = models.ForeignKey(PrefilterRule, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="cases")

    source = models.CharField(max_length=10, choices=CaseSource.choices)
    # The upstream's own words (promptFeedback.blockReason or finishReason), or "PREFILTER".
    reason = models.CharField(max_length=60)
    category = models.CharField(max_length=20, choices=Category.choices)
    safety_ratings = models.JSONField(default=list, blank=True)
    model = models.CharField(max_length=100)
    prompt = models.TextField()
    params = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    review_message = models.TextField(blank=True)
    review_requested_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    rerun_job = models.ForeignKey("generation.GenerationJob", on_delete=models.SET_NULL,
                                  null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"])]
        permissions = [("moderate_case", "Can decide moderation cases and suspend tenants")]
        verbose_name = "moderation case"

    def __str__(self):
        return f"{self.category} {self.reason} ({self.status})"


class Strike(models.Model):
    """A confirmed violation counted against an organization (and the key that sent it)."""

    case = models.ForeignKey(ModerationCase, on_delete=models.PROTECT, related_name="strikes")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="strikes")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="strikes")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A case dismissed after confirmation voids its strike instead of deleting it.
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case"], condition=Q(voided_at__isnull=True),
                                               name="one_live_strike_per_case")]

    def __str__(self):
        return f"strike on {self.organization} ({self.created_at:%Y-%m-%d})"


class AuditAction(models.TextChoices):
    CASE_DISMISS = "case_dismiss"
    CASE_CONFIRM = "case_confirm"
    CASE_REVIEW_REQUEST = "case_review_request"
    CASE_RERUN = "case_rerun"
    KEY_SUSPEND = "api_key_suspend"
    KEY_REINSTATE = "api_key_reinstate"
    ORG_SUSPEND = "organization_suspend"
    ORG_REINSTATE = "organization_reinstate"
    ORG_AUTO_SUSPEND = "organization_auto_suspend"
    RULE_ADD = "prefilter_rule_add"
    CREDIT_ADJUST = "credit_adjust"


class AuditLogEntry(models.Model):
    """Who did what, when and why. Written in the same transaction as the change it records;
    append-only like the ledger."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    # Kept even if the user is deleted; "system" for automatic actions, "key:<prefix>" for API calls.
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    reason = models.TextField()
    case = models.ForeignKey(ModerationCase, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="audit_entries")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
