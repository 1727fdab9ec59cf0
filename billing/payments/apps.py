from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Self-serve credit purchase through Stripe: packs, bonuses, checkout, webhooks, refunds,
    disputes and auto-recharge. Nested under billing, with its own label and migrations."""

    name = "billing.payments"
    label = "payments"
    verbose_name = "Payments"
    default_auto_field = "django.db.models.BigAutoField"
