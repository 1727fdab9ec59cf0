from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import ApiKey, Brand, Invitation, Membership, Organization, User
from billing.money import format_usd
from generation.moderation.admin_actions import ApiKeyModerationActions, OrganizationModerationActions


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups",
                                    "user_permissions"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class BrandInline(admin.TabularInline):
    model = Brand
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(OrganizationModerationActions, admin.ModelAdmin):
    list_display = ["name", "slug", "balance", "suspended_at", "created_at"]
    list_filter = [("suspended_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "slug", "=id"]
    list_select_related = ["wallet"]
    # Suspension changes only through the audited actions.
    readonly_fields = ["suspended_at"]
    actions = ["suspend_organizations", "reinstate_organizations"]
    inlines = [MembershipInline, BrandInline]

    @admin.display(description="balance")
    def balance(self, organization):
        wallet = getattr(organization, "wallet", None)
        return format_usd(wallet.balance, symbol=True) if wallet else "-"


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "archived_at", "created_at"]
    search_fields = ["name", "organization__name"]
    list_filter = ["archived_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(ApiKeyModerationActions, admin.ModelAdmin):
    list_display = ["name", "prefix", "organization", "brand", "expires_at", "revoked_at",
                    "suspended_at", "last_used_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter),
                   ("suspended_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "prefix", "organization__name"]
    readonly_fields = ["prefix", "secret_hash", "suspended_at", "last_used_at", "created_at"]
    actions = ["suspend_api_keys", "reinstate_api_keys"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email", "organization__name"]
    readonly_fields = ["token_hash", "accepted_by", "accepted_at", "invited_by"]
