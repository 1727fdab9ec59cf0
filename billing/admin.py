from django.contrib import admin

from billing.models import LedgerEntry, PriceItem, PriceList, Reservation, SignupCreditRule, Wallet
from billing.money import format_usd


def usd(field):
    def show(obj):
        return format_usd(getattr(obj, field), symbol=True)

    show.short_description = field.replace("_", " ")
    show.admin_order_field = field
    return show


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["organization", usd("balance"), usd("reserved"), "updated_at"]
    search_fields = ["organization__name"]
    readonly_fields = ["organization", "balance", "reserved"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "wallet", "kind", usd("amount"), usd("balance_after"), "memo"]
    list_filter = ["kind"]
    search_fields = ["wallet__organization__name", "reference", "idempotency_key"]

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
    list_filter = ["status"]

    def has_change_permission(self, request, obj=None):
        return False


class PriceItemInline(admin.TabularInline):
    model = PriceItem
    extra = 0


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    list_display = ["name", "effective_at", usd("grounding_surcharge"),
                    usd("reference_image_surcharge")]
    inlines = [PriceItemInline]


@admin.register(SignupCreditRule)
class SignupCreditRuleAdmin(admin.ModelAdmin):
    list_display = [usd("amount"), "active", "created_at"]
