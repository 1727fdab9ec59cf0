from django.contrib import admin, messages

from billing.admin import usd
from billing.payments import services
from billing.payments.models import BonusRule, CreditPack, Payment, PaymentAccount, StripeEvent


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ["name", usd("amount"), "active", "sort_order"]
    list_editable = ["active", "sort_order"]


@admin.register(BonusRule)
class BonusRuleAdmin(admin.ModelAdmin):
    list_display = ["__str__", usd("min_amount"), "bonus_bp", "active", "created_at"]
    list_editable = ["active"]


@admin.register(PaymentAccount)
class PaymentAccountAdmin(admin.ModelAdmin):
    list_display = ["organization", "stripe_customer_id", usd("debt"), "purchases_frozen_at",
                    "flagged_at", "auto_recharge_enabled", "auto_recharge_failures"]
    list_filter = [("flagged_at", admin.EmptyFieldListFilter),
                   ("purchases_frozen_at", admin.EmptyFieldListFilter), "auto_recharge_enabled"]
    search_fields = ["organization__name", "stripe_customer_id"]
    readonly_fields = ["organization", "stripe_customer_id", "default_payment_method_id", "debt",
                       "purchases_frozen_at", "flagged_at", "flag_reason", "auto_recharge_armed",
                       "auto_recharge_sequence", "auto_recharge_failures"]
    actions = ["unfreeze"]

    @admin.action(description="Clear the dispute freeze and flag (after review)")
    def unfreeze(self, request, queryset):
        for account in queryset:
            services.payment_account_unfreeze(account=account)
        messages.success(request, f"Unfroze {queryset.count()} organization(s).")

    def has_add_permission(self, request):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "kind", "status", usd("amount"), usd("bonus"),
                    usd("amount_refunded"), "paid_at"]
    list_filter = ["status", "kind"]
    search_fields = ["organization__name", "stripe_checkout_session_id",
                     "stripe_payment_intent_id", "stripe_charge_id"]

    # Payments change only through Stripe's events and the services that apply them.
    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "id", "type", "status", "deliveries", "handler_error"]
    list_filter = ["status", "type"]
    search_fields = ["id"]
    actions = ["reprocess"]

    @admin.action(description="Run the handler again (failed events only)")
    def reprocess(self, request, queryset):
        results = [services.stripe_event_receive(event=event.payload)
                   for event in queryset.filter(status="failed")]
        messages.info(request, f"Reprocessed {len(results)} event(s): {', '.join(results)}.")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
