import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from billing.money import format_bps, format_usd


class Wallet(models.Model):
    """Cached totals of one organization's money. `balance` always equals the sum of its entries;
    `reserved` always equals the sum of its open reservations (`reconcile` proves both)."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.PROTECT,
                                        related_name="wallet")
    balance = models.BigIntegerField(default=0)
    reserved = models.BigIntegerField(default=0)
    # Low-balance alert: fires once when `available` drops below the threshold (0 = off), and
    # re-arms when it is back at or above it. `low_balance_since` records the crossing.
    low_balance_threshold = models.BigIntegerField(default=0)
    low_balance_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0), name="wallet_reserved_not_negative"),
            models.CheckConstraint(condition=Q(balance__gte=F("reserved")),
                                   name="wallet_available_not_negative"),
            models.CheckConstraint(condition=Q(low_balance_threshold__gte=0),
                                   name="wallet_low_balance_threshold_not_negative"),
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
        indexes = [  # spend caps sum a brand's or key's charges since the start of the month
            models.Index(fields=["brand", "created_at"], name="entry_brand_time"),
            models.Index(fields=["api_key", "created_at"], name="entry_key_time"),
        ]
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
    # Who is spending: spend caps count open reservations per brand and per key.
    brand = models.ForeignKey("accounts.Brand", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0),
                                              name="reservation_not_negative")]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            # Spend caps sum open holds per brand / key; usage reads captures by date.
            models.Index(fields=["brand"], condition=Q(status="open"),
                         name="open_reservation_brand"),
            models.Index(fields=["api_key"], condition=Q(status="open"),
                         name="open_reservation_key"),
            models.Index(fields=["wallet", "status", "ended_at"], name="reservation_settled"),
        ]

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


# --- Agency pricing, promo codes and spend caps (issue 3) -------------------------------------


class OrganizationDiscount(models.Model):
    """An agency tier: every list price (images and surcharges) less `discount_bps` / 10,000.
    An explicit `PriceOverride` for a (model, tier) wins over the discount for that item."""

    organization = models.OneToOneField("accounts.Organization", on_delete=models.CASCADE,
                                        related_name="price_discount")
    discount_bps = models.PositiveIntegerField(help_text="Basis points: 1,000 = 10 % off.")
    memo = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(discount_bps__lte=10_000),
                                              name="discount_at_most_100_percent")]

    def __str__(self):
        return f"{self.organization}: {format_bps(self.discount_bps)} % off"


class PriceOverride(models.Model):
    """An explicit per-organization price for one (model, tier), in micro-USD per image."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="price_overrides")
    model = models.CharField(max_length=100)
    tier = models.CharField(max_length=4)
    unit_price = models.BigIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "model", "tier"],
                                    name="one_override_per_item"),
            models.CheckConstraint(condition=Q(unit_price__gte=0),
                                   name="override_not_negative"),
        ]

    def __str__(self):
        return f"{self.organization} {self.model} {self.tier}: {format_usd(self.unit_price, symbol=True)}"


class PromoCode(models.Model):
    """A fixed amount of credit, redeemable once per organization, until it expires or
    `max_redemptions` is reached. `redemptions` is bumped under a row lock."""

    code = models.CharField(max_length=40, unique=True, help_text="Stored upper case.")
    amount = models.BigIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(null=True, blank=True,
                                                  help_text="Empty = unlimited.")
    redemptions = models.PositiveIntegerField(default=0, editable=False)
    active = models.BooleanField(default=True)
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promo_amount_positive"),
            models.CheckConstraint(
                condition=Q(max_redemptions__isnull=True) | Q(redemptions__lte=F("max_redemptions")),
                name="promo_redemptions_within_limit"),
        ]

    def save(self, *args, **kwargs):
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.code} ({format_usd(self.amount, symbol=True)})"


class PromoRedemption(models.Model):
    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemption_set")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="promo_redemptions")
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    redeemed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["promo", "organization"],
                                               name="promo_once_per_organization")]

    def __str__(self):
        return f"{self.promo.code} by {self.organization}"


class CapPeriod(models.TextChoices):
    MONTH = "month", "Calendar month (UTC)"
    LIFETIME = "lifetime", "Lifetime"


class SpendCap(models.Model):
    """A limit on what one brand or one API key may spend: captured charges in the period plus
    open reservations. Checked at submit while the wallet row is locked."""

    brand = models.OneToOneField("accounts.Brand", on_delete=models.CASCADE, null=True,
                                 blank=True, related_name="spend_cap")
    api_key = models.OneToOneField("accounts.ApiKey", on_delete=models.CASCADE, null=True,
                                   blank=True, related_name="spend_cap")
    limit = models.BigIntegerField()
    period = models.CharField(max_length=10, choices=CapPeriod.choices, default=CapPeriod.MONTH)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=0), name="spend_cap_not_negative"),
            models.CheckConstraint(
                condition=(Q(brand__isnull=False, api_key__isnull=True)
                           | Q(brand__isnull=True, api_key__isnull=False)),
                name="spend_cap_for_brand_xor_key"),
        ]

    def __str__(self):
        target = f"brand {self.brand}" if self.brand_id else f"key {self.api_key}"
        return f"{target}: {format_usd(self.limit, symbol=True)} per {self.period}"
