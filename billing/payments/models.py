import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from billing.money import format_bps, format_usd


class CreditPack(models.Model):
    """A fixed purchase offered on the buy page and by `GET /api/v1/credit-packs`."""

    name = models.CharField(max_length=100)
    amount = models.BigIntegerField(help_text="Price in micro-USD; whole cents.")
    active = models.BooleanField(default=True)
    sort_order = models.IntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "amount"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0),
                                              name="credit_pack_positive")]

    def clean(self):
        if self.amount is not None and self.amount % 10_000:
            raise ValidationError({"amount": "Stripe charges whole cents: use a multiple of 10000."})

    def __str__(self):
        return f"{self.name} ({format_usd(self.amount, symbol=True)})"


class BonusRule(models.Model):
    """Purchases of at least `min_amount` earn `bonus_bp` basis points extra (1000 bp = +10 %).
    Among the active rules the one with the highest `min_amount` reached applies."""

    min_amount = models.BigIntegerField(help_text="Minimum purchase in micro-USD.")
    bonus_bp = models.PositiveIntegerField(help_text="Bonus in basis points: 1000 = +10 %.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["min_amount"]
        constraints = [
            models.CheckConstraint(condition=Q(min_amount__gte=0), name="bonus_min_not_negative"),
            models.CheckConstraint(condition=Q(bonus_bp__lte=10_000), name="bonus_at_most_100pc"),
        ]

    def __str__(self):
        return f"+{format_bps(self.bonus_bp)} % from {format_usd(self.min_amount, symbol=True)}"


class PaymentAccount(models.Model):
    """One organization's standing with Stripe: its customer, saved card, debt from clawbacks
    that its wallet could not cover, dispute freeze, and auto-recharge settings.

    Lock order everywhere: Payment row, then this row, then the wallet row."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.PROTECT,
                                        related_name="payment_account")
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    default_payment_method_id = models.CharField(max_length=100, blank=True)
    # Clawed-back credits the wallet could not give back (they were spent); settled first by
    # any later purchase. Never negative.
    debt = models.BigIntegerField(default=0)
    purchases_frozen_at = models.DateTimeField(null=True, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.TextField(blank=True)

    auto_recharge_enabled = models.BooleanField(default=False)
    auto_recharge_threshold = models.BigIntegerField(default=0)
    auto_recharge_amount = models.BigIntegerField(default=0)
    # True while available >= threshold: the next fall below it fires exactly one top-up.
    auto_recharge_armed = models.BooleanField(default=True)
    auto_recharge_sequence = models.PositiveIntegerField(default=0)
    auto_recharge_failures = models.PositiveIntegerField(default=0)
    auto_recharge_disabled_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(debt__gte=0), name="debt_not_negative")]

    def __str__(self):
        return f"{self.organization} payments"


class PaymentKind(models.TextChoices):
    CHECKOUT = "checkout"
    AUTO_RECHARGE = "auto_recharge"


class PaymentStatus(models.TextChoices):
    PENDING = "pending"          # session created, customer has not paid yet
    PROCESSING = "processing"    # completed with a delayed payment method, awaiting the funds
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    DISPUTED = "disputed"


class Payment(models.Model):
    """One purchase attempt and, once paid, what it credited and what was clawed back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="payments")
    kind = models.CharField(max_length=20, choices=PaymentKind.choices,
                            default=PaymentKind.CHECKOUT)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices,
                              default=PaymentStatus.PENDING)
    amount = models.BigIntegerField(help_text="Charged and credited, micro-USD (whole cents).")
    bonus = models.BigIntegerField(default=0, help_text="Bonus promised before paying.")
    bonus_bp = models.PositiveIntegerField(default=0)
    stripe_checkout_session_id = models.CharField(max_length=200, unique=True, null=True,
                                                  blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent_id = models.CharField(max_length=200, unique=True, null=True,
                                                blank=True)
    stripe_charge_id = models.CharField(max_length=200, blank=True, db_index=True)
    receipt_url = models.URLField(max_length=2000, blank=True)
    amount_refunded = models.BigIntegerField(default=0)
    # Credits and bonus taken back (from the wallet or recorded as debt), by cause.
    refund_clawback = models.BigIntegerField(default=0)
    dispute_clawback = models.BigIntegerField(default=0)
    stripe_dispute_id = models.CharField(max_length=200, blank=True, db_index=True)
    dispute_restored_at = models.DateTimeField(null=True, blank=True)
    failure_message = models.TextField(blank=True)
    auto_recharge_sequence = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
            models.CheckConstraint(condition=Q(bonus__gte=0), name="payment_bonus_not_negative"),
            models.UniqueConstraint(fields=["organization", "auto_recharge_sequence"],
                                    name="one_top_up_per_crossing"),
        ]

    @property
    def ledger_key(self) -> str:
        """The stable prefix of every ledger entry this payment causes (`:purchase`, `:bonus`...)."""
        if self.kind == PaymentKind.CHECKOUT:
            return f"stripe:{self.stripe_checkout_session_id}"
        return f"stripe:autorecharge:{self.pk}"

    @property
    def credits(self) -> int:
        return self.amount + self.bonus

    def __str__(self):
        return f"{self.organization} {format_usd(self.amount, symbol=True)} {self.status}"


class EventStatus(models.TextChoices):
    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"


class StripeEvent(models.Model):
    """Every verified webhook event, once: the id is Stripe's, so redeliveries find their row."""

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=20, choices=EventStatus.choices,
                              default=EventStatus.RECEIVED)
    handler_error = models.TextField(blank=True)
    payload = models.JSONField()
    deliveries = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.id} {self.type} {self.status}"
