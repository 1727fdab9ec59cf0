from django import forms
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from billing.forms import UsdField
from billing.models import (
    LedgerEntry,
    OrganizationDiscount,
    PriceItem,
    PriceList,
    PriceOverride,
    PromoCode,
    PromoRedemption,
    Reservation,
    SignupCreditRule,
    SpendCap,
    Wallet,
)
from billing.money import format_bps, format_usd

# Every BigIntegerField these admins edit is an amount of micro-USD: staff type dollars.
USD_FORM_FIELDS = {models.BigIntegerField: {"form_class": UsdField}}


def usd(field):
    def show(obj):
        return format_usd(getattr(obj, field), symbol=True)

    show.short_description = field.replace("_", " ")
    show.admin_order_field = field
    return show


def usd_form(model_class, *fields):
    """A ModelForm class for `model_class` whose `fields` are typed in dollars."""
    attrs = {name: UsdField(required=not model_class._meta.get_field(name).null)
             for name in fields}
    attrs["Meta"] = type("Meta", (), {"model": model_class, "fields": "__all__"})
    return type(f"{model_class.__name__}UsdForm", (forms.ModelForm,), attrs)


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    form = usd_form(Wallet, "low_balance_threshold")
    list_display = ["organization", usd("balance"), usd("reserved"),
                    usd("low_balance_threshold"), "low_balance_since", "updated_at", "adjust"]
    search_fields = ["organization__name"]
    # Money moves only through ledger entries; the alert threshold is the one editable field.
    readonly_fields = ["organization", "balance", "reserved", "low_balance_since"]

    @admin.display(description="credits")
    def adjust(self, wallet):
        url = reverse("staff-credit-adjust")
        return format_html('<a href="{}?organization={}">Grant or debit…</a>', url,
                           wallet.organization_id)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "wallet", "kind", usd("amount"), usd("balance_after"), "actor",
                    "memo"]
    list_filter = ["kind", "created_at"]
    search_fields = ["wallet__organization__name", "reference", "idempotency_key", "memo"]
    list_select_related = ["wallet__organization", "actor"]

    # Append-only: corrections are new entries posted through billing.services.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["reference", "wallet", usd("amount"), "status", "created_at", "ended_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["reference", "wallet__organization__name"]

    def has_change_permission(self, request, obj=None):
        return False


class PriceItemInline(admin.TabularInline):
    model = PriceItem
    form = usd_form(PriceItem, "unit_price", "google_cost")
    extra = 0
    fields = ["model", "tier", "unit_price", "google_cost", "margin"]
    readonly_fields = ["margin"]

    @admin.display(description="margin")
    def margin(self, obj):
        if obj.pk is None:
            return "-"
        return format_usd(obj.unit_price - obj.google_cost, symbol=True)


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    form = usd_form(PriceList, "grounding_surcharge", "reference_image_surcharge",
                    "google_grounding_cost", "google_reference_image_cost")
    list_display = ["name", "effective_at", usd("grounding_surcharge"),
                    usd("reference_image_surcharge")]
    formfield_overrides = USD_FORM_FIELDS
    inlines = [PriceItemInline]


@admin.register(SignupCreditRule)
class SignupCreditRuleAdmin(admin.ModelAdmin):
    form = usd_form(SignupCreditRule, "amount")
    list_display = ["__str__", "active", "created_at"]
    list_editable = ["active"]


@admin.register(OrganizationDiscount)
class OrganizationDiscountAdmin(admin.ModelAdmin):
    list_display = ["organization", "discount_bps", "percent", "memo", "updated_at"]
    search_fields = ["organization__name"]
    autocomplete_fields = ["organization"]

    @admin.display(description="discount")
    def percent(self, obj):
        return f"{format_bps(obj.discount_bps)} %"


@admin.register(PriceOverride)
class PriceOverrideAdmin(admin.ModelAdmin):
    form = usd_form(PriceOverride, "unit_price")
    list_display = ["organization", "model", "tier", usd("unit_price"), "memo", "updated_at"]
    list_filter = ["model", "tier"]
    search_fields = ["organization__name"]
    autocomplete_fields = ["organization"]


class PromoRedemptionInline(admin.TabularInline):
    model = PromoRedemption
    extra = 0
    fields = ["organization", "redeemed_by", "entry", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    form = usd_form(PromoCode, "amount")
    list_display = ["code", usd("amount"), "redemptions", "max_redemptions", "expires_at",
                    "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["code", "memo"]
    readonly_fields = ["redemptions"]
    inlines = [PromoRedemptionInline]


@admin.register(SpendCap)
class SpendCapAdmin(admin.ModelAdmin):
    form = usd_form(SpendCap, "limit")
    list_display = ["__str__", "brand", "api_key", usd("limit"), "period", "updated_at"]
    list_filter = ["period"]
    autocomplete_fields = ["brand", "api_key"]
