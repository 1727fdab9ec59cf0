import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.money import format_usd


class Wallet(models.Model):
    """Cached totals of one organization's money. `balance` always equals the sum of its entries;
    `reserved` always equals the sum of its open reservations (`reconcile` proves both)."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.PROTECT,
                                        related_name="wallet")
    balance = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="wallet_reserved_not_negative"),
            models.CheckConstraint(condition=Q(balance__gte=F("reserved")),
                                   name="wallet_available_not_negative"),
        ]

    @property
    def available(self) -> int:
        return self.balance - self.reserved

    def __str__(self):
        return f"{self.organization} {format_usd(self.balance, symbol=True)}"


class EntryKind(models.TextChoices):
    SIGNUP_GRANT = "signup_grant"
    PURCHASE = "purchase"
    BONUS = "bonus"
    PROMO = "promo"
    CAPTURE = "capture"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"
    CLAWBACK = "clawback"


class LedgerEntry(models.Model):
    """Append-only: a correction is a new entry, never an edit."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    # One per source (job + kind, Stripe event, promo redemption...): the database refuses twins.
    idempotency_key = models.CharField(max_length=200, unique=True)
    reference = models.CharField(max_length=200, blank=True, db_index=True)
    brand = models.ForeignKey("accounts.Brand", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    memo = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_not_zero")]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger entries are append-only; post a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only.")

    def __str__(self):
        return f"{self.kind} {format_usd(self.amount, symbol=True)}"


class ReservationStatus(models.TextChoices):
    OPEN = "open"
    CAPTURED = "captured"
    RELEASED = "released"


class Reservation(models.Model):
    """Credits held for one job from submit until it ends; ends exactly once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="reservations")
    amount = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=ReservationStatus.choices,
                              default=ReservationStatus.OPEN)
    reference = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0),
                                              name="reservation_not_negative")]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self):
        return f"{self.reference} {self.status} {format_usd(self.amount, symbol=True)}"


class PriceList(models.Model):
    """A versioned set of prices; the list with the latest `effective_at` in the past applies."""

    name = models.CharField(max_length=100)
    effective_at = models.DateTimeField(db_index=True)
    grounding_surcharge = models.BigIntegerField(default=0)
    reference_image_surcharge = models.BigIntegerField(default=0)
    google_grounding_cost = models.BigIntegerField(default=0)
    google_reference_image_cost = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.name} (from {self.effective_at:%Y-%m-%d})"


class PriceItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items")
    model = models.CharField(max_length=100)
    tier = models.CharField(max_length=4)
    unit_price = models.BigIntegerField()
    google_cost = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["price_list", "model", "tier"], name="one_price_per_item"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_not_negative"),
        ]

    def __str__(self):
        return f"{self.model} {self.tier}: {format_usd(self.unit_price, symbol=True)}"


class SignupCreditRule(models.Model):
    """Free credits a new organization receives; the newest active rule applies."""

    amount = models.BigIntegerField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0),
                                              name="signup_credit_not_negative")]

    def __str__(self):
        return f"{format_usd(self.amount, symbol=True)} on signup"
