"""The moderation queue in the admin. Seeing cases needs the view permission; every decision
(single or bulk) needs `moderation.moderate_case` and a reason, and goes through a service
that writes the audit row in the same transaction."""

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from config.errors import DomainError
from generation.moderation import services
from generation.moderation.admin_actions import can_moderate, reasoned
from generation.moderation.models import (
    AuditLogEntry,
    Category,
    ModerationCase,
    PrefilterRule,
    RuleKind,
    Strike,
)
from generation.signing import signed_image_path

DECISIONS = {
    "dismiss": "Dismiss as false positive",
    "dismiss_rerun": "Dismiss as false positive and re-run the job",
    "confirm": "Confirm violation (strike against key and organization)",
    "suspend_key": "Suspend the API key",
    "suspend_organization": "Suspend the organization",
    "add_term": "Add a term or pattern to the pre-filter",
}

# The admin index links to the staff console pages.
admin.site.index_template = "staff/admin_index.html"


def apply_decision(*, case: ModerationCase, decision: str, actor, reason: str,
                   term: str = "", term_kind: str = RuleKind.TERM, term_category: str = "") -> str:
    """Run one decision on one case; returns what happened, for the staff message."""
    if decision == "dismiss":
        services.case_dismiss(case=case, actor=actor, reason=reason)
        return "dismissed"
    if decision == "dismiss_rerun":
        case = services.case_dismiss(case=case, actor=actor, reason=reason, rerun=True)
        return f"dismissed; re-run as job {case.rerun_job_id}"
    if decision == "confirm":
        services.case_confirm(case=case, actor=actor, reason=reason)
        return "confirmed (strike recorded)"
    if decision == "suspend_key":
        if case.api_key is None:
            raise DomainError("This case has no API key (it came from the dashboard).",
                              code="no_api_key")
        services.api_key_suspend(api_key=case.api_key, actor=actor, reason=reason, case=case)
        return f"key {case.api_key.prefix}… suspended"
    if decision == "suspend_organization":
        services.organization_suspend(organization=case.organization, actor=actor, reason=reason,
                                      case=case)
        return f"organization {case.organization} suspended"
    if decision == "add_term":
        rule = services.prefilter_rule_add(actor=actor, kind=term_kind, pattern=term,
                                           category=term_category or case.category,
                                           reason=reason, case=case)
        return f"pre-filter rule added: {rule}"
    raise DomainError(f"Unknown decision '{decision}'.", code="unknown_decision")


@admin.register(ModerationCase)
class ModerationCaseAdmin(admin.ModelAdmin):
    list_display = ["created_at", "status", "source", "reason", "category", "organization",
                    "key_prefix", "prompt_excerpt"]
    list_filter = ["status", "source", "reason", "category",
                   ("organization", admin.RelatedOnlyFieldListFilter),
                   ("created_at", admin.DateFieldListFilter)]
    search_fields = ["prompt", "organization__name", "api_key__prefix", "=id"]
    date_hierarchy = "created_at"
    list_select_related = ["organization", "api_key"]
    change_form_template = "staff/case_change_form.html"
    actions = ["dismiss_cases", "dismiss_and_rerun", "confirm_cases", "suspend_keys",
               "suspend_organizations"]
    fields = ["status", "source", "reason", "category", "organization", "brand", "api_key",
              "submitted_by", "job", "rule", "model", "prompt", "params", "safety_ratings",
              "review_message", "review_requested_at", "decided_by", "decided_at",
              "decision_note", "rerun_job", "created_at"]
    readonly_fields = fields

    # Cases change only through decisions (services), never by editing fields.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or can_moderate(request)

    def has_moderate_permission(self, request):
        return can_moderate(request)

    @admin.display(description="key")
    def key_prefix(self, case):
        return f"{case.api_key.prefix}…" if case.api_key else "-"

    @admin.display(description="prompt")
    def prompt_excerpt(self, case):
        return case.prompt[:80] + ("…" if len(case.prompt) > 80 else "")

    # --- detail page ---------------------------------------------------------------------------

    def get_urls(self):
        return [path("<uuid:case_id>/decide/", self.admin_site.admin_view(self.decide_view),
                     name="moderation_moderationcase_decide"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if case is not None:
            extra.update(
                can_moderate=can_moderate(request), decisions=DECISIONS,
                rule_kinds=RuleKind.choices, categories=Category.choices,
                thumbnails=_thumbnails(case),
                audit_entries=case.audit_entries.select_related("actor")[:50],
                strikes=services.live_strikes(case.organization),
                decide_url=reverse("admin:moderation_moderationcase_decide", args=[case.pk]),
            )
        return super().change_view(request, object_id, form_url, extra)

    def decide_view(self, request, case_id):
        if request.method != "POST" or not can_moderate(request):
            raise PermissionDenied
        case = get_object_or_404(ModerationCase.objects.select_related("organization", "api_key",
                                                                       "job"), pk=case_id)
        reason = request.POST.get("reason", "").strip()
        back = reverse("admin:moderation_moderationcase_change", args=[case.pk])
        if not reason:
            messages.error(request, "A reason is required for every decision.")
            return HttpResponseRedirect(back)
        try:
            outcome = apply_decision(
                case=case, decision=request.POST.get("decision", ""), actor=request.user,
                reason=reason, term=request.POST.get("term", ""),
                term_kind=request.POST.get("term_kind", RuleKind.TERM),
                term_category=request.POST.get("term_category", ""))
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Case {case.pk}: {outcome}.")
        return HttpResponseRedirect(back)

    # --- bulk actions, each asking for a reason first --------------------------------------------

    def _with_reason(self, request, queryset, decision: str):
        return reasoned(
            self, request, queryset.select_related("organization", "api_key", "job"),
            title=DECISIONS[decision],
            apply=lambda case, reason: apply_decision(case=case, decision=decision,
                                                      actor=request.user, reason=reason),
            describe=lambda case: f"{case.created_at:%Y-%m-%d %H:%M} · {case.organization} · "
                                  f"{case.category} · {case.prompt[:80]}")

    @admin.action(description="Dismiss as false positive…", permissions=["moderate"])
    def dismiss_cases(self, request, queryset):
        return self._with_reason(request, queryset, "dismiss")

    @admin.action(description="Dismiss and re-run the job…", permissions=["moderate"])
    def dismiss_and_rerun(self, request, queryset):
        return self._with_reason(request, queryset, "dismiss_rerun")

    @admin.action(description="Confirm violation (strike)…", permissions=["moderate"])
    def confirm_cases(self, request, queryset):
        return self._with_reason(request, queryset, "confirm")

    @admin.action(description="Suspend the API keys…", permissions=["moderate"])
    def suspend_keys(self, request, queryset):
        # One case per key is enough: suspending a key twice changes nothing.
        return self._with_reason(request, _first_per(queryset, "api_key_id"), "suspend_key")

    @admin.action(description="Suspend the organizations…", permissions=["moderate"])
    def suspend_organizations(self, request, queryset):
        return self._with_reason(request, _first_per(queryset, "organization_id"),
                                 "suspend_organization")


def _first_per(queryset, field: str):
    seen, ids = set(), []
    for pk, value in queryset.values_list("pk", field):
        if value not in seen:
            seen.add(value)
            ids.append(pk)
    return queryset.model.objects.filter(pk__in=ids)


def _thumbnails(case: ModerationCase) -> list[dict]:
    """Generated images (signed links) of the job and of its re-run, and the job's reference
    images, when it has any."""
    if case.job is None:
        return []
    thumbs = []
    for job, label in ((case.job, "output"), (case.rerun_job, "re-run output")):
        for image in job.images.all() if job is not None else ():
            url, _ = signed_image_path(image.id)
            thumbs.append({"url": url, "label": f"{label} {image.index}"})
    # Reference images are linked by job; their model lives with the brand-assets work.
    for related in ("references", "reference_images"):
        manager = getattr(case.job, related, None)
        if manager is None or not hasattr(manager, "all"):
            continue
        for reference in manager.all():
            file = getattr(reference, "file", None) or getattr(reference, "image", None)
            if file:
                thumbs.append({"url": file.url, "label": "reference"})
    return thumbs


class PrefilterRuleForm(forms.ModelForm):
    class Meta:
        model = PrefilterRule
        fields = ["kind", "pattern", "category", "enabled", "note"]

    def clean(self):
        data = super().clean()
        if data.get("kind") == RuleKind.REGEX and data.get("pattern"):
            try:
                re.compile(data["pattern"])
            except re.error as error:
                self.add_error("pattern", f"Invalid regular expression: {error}")
        return data


@admin.register(PrefilterRule)
class PrefilterRuleAdmin(admin.ModelAdmin):
    form = PrefilterRuleForm
    list_display = ["pattern", "kind", "category", "enabled", "created_by", "created_at"]
    list_filter = ["enabled", "kind", "category"]
    list_editable = ["enabled"]
    search_fields = ["pattern", "note"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Strike)
class StrikeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "api_key", "case", "created_by", "voided_at"]
    list_filter = [("voided_at", admin.EmptyFieldListFilter), ("created_at", admin.DateFieldListFilter)]
    search_fields = ["organization__name", "api_key__prefix"]
    readonly_fields = ["case", "organization", "api_key", "created_by", "created_at", "voided_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_label", "action", "organization", "case_link", "reason"]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["actor_label", "reason", "organization__name"]
    readonly_fields = ["created_at", "actor", "actor_label", "action", "reason", "case",
                       "organization", "api_key", "details"]

    @admin.display(description="case")
    def case_link(self, entry):
        if entry.case_id is None:
            return "-"
        url = reverse("admin:moderation_moderationcase_change", args=[entry.case_id])
        return format_html('<a href="{}">{}</a>', url, str(entry.case_id)[:8])

    # Append-only, like the ledger.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
