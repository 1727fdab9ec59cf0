from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from billing.forms import UsdField
from billing.models import LedgerEntry, PriceItem, PriceList, Reservation, SignupCreditRule, Wallet
from billing.money import format_usd

# Every BigIntegerField these admins edit is an amount of micro-USD: staff type dollars.
USD_FORM_FIELDS = {models.BigIntegerField: {"form_class": UsdField}}


def usd(field):
    def show(obj):
        return format_usd(getattr(obj, field), symbol=True)

    show.short_description = field.replace("_", " ")
    show.admin_order_field = field
    return show


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["organization", usd("balance"), usd("reserved"), "updated_at", "adjust"]
    search_fields = ["organization__name"]
    readonly_fields = ["organization", "balance", "reserved"]

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
    extra = 0
    formfield_overrides = USD_FORM_FIELDS


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    list_display = ["name", "effective_at", usd("grounding_surcharge"),
                    usd("reference_image_surcharge")]
    formfield_overrides = USD_FORM_FIELDS
    inlines = [PriceItemInline]


@admin.register(SignupCreditRule)
class SignupCreditRuleAdmin(admin.ModelAdmin):
    list_display = [usd("amount"), "active", "created_at"]
    formfield_overrides = USD_FORM_FIELDS
