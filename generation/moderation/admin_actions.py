"""Admin actions that need a reason: an intermediate page asks for it, then each object is
handled by a service that writes its audit row. Mixins put suspension on the accounts admins."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from config.errors import DomainError
from generation.moderation import services

MODERATE = "moderation.moderate_case"


def can_moderate(request) -> bool:
    return request.user.is_active and request.user.is_staff and request.user.has_perm(MODERATE)


def reasoned(modeladmin, request, queryset, *, title: str, apply, describe=str):
    """First call: a page asking for the reason. Second call (apply=yes + reason): `apply(obj,
    reason)` for each object; a refusal on one object is reported and the others go on."""
    error = None
    if request.POST.get("apply") == "yes":
        reason = request.POST.get("reason", "").strip()
        if reason:
            done, failures = 0, []
            for obj in queryset:
                try:
                    apply(obj, reason)
                    done += 1
                except DomainError as failure:
                    failures.append(f"{describe(obj)}: {failure.message}")
            modeladmin.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
            for failure in failures:
                modeladmin.message_user(request, failure, messages.ERROR)
            return None
        error = "A reason is required."
    return TemplateResponse(request, "staff/action_reason.html", {
        **modeladmin.admin_site.each_context(request), "title": title,
        "items": [describe(obj) for obj in queryset], "action": request.POST.get("action"),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME), "error": error,
        "opts": modeladmin.model._meta, "action_checkbox_name": ACTION_CHECKBOX_NAME,
    })


class OrganizationModerationActions:
    """Suspend / reinstate organizations from their admin list (moderation permission only)."""

    def has_moderate_permission(self, request):
        return can_moderate(request)

    @admin.action(description="Suspend organizations (all their keys refused)…",
                  permissions=["moderate"])
    def suspend_organizations(self, request, queryset):
        return reasoned(self, request, queryset, title="Suspend organizations",
                        apply=lambda org, reason: services.organization_suspend(
                            organization=org, actor=request.user, reason=reason))

    @admin.action(description="Reinstate suspended organizations…", permissions=["moderate"])
    def reinstate_organizations(self, request, queryset):
        return reasoned(self, request, queryset, title="Reinstate organizations",
                        apply=lambda org, reason: services.organization_reinstate(
                            organization=org, actor=request.user, reason=reason))


class ApiKeyModerationActions:
    """Suspend / reinstate API keys from their admin list (moderation permission only)."""

    def has_moderate_permission(self, request):
        return can_moderate(request)

    @admin.action(description="Suspend API keys…", permissions=["moderate"])
    def suspend_api_keys(self, request, queryset):
        return reasoned(self, request, queryset.select_related("organization"),
                        title="Suspend API keys",
                        apply=lambda key, reason: services.api_key_suspend(
                            api_key=key, actor=request.user, reason=reason))

    @admin.action(description="Reinstate suspended API keys…", permissions=["moderate"])
    def reinstate_api_keys(self, request, queryset):
        return reasoned(self, request, queryset.select_related("organization"),
                        title="Reinstate API keys",
                        apply=lambda key, reason: services.api_key_reinstate(
                            api_key=key, actor=request.user, reason=reason))
