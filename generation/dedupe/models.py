from django.db import models
from django.db.models import Q


class DedupePolicy(models.Model):
    """Opt-in: identical requests within `window_seconds` are served from the earlier result.

    A brand's policy, when present, wins over its organization's."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.CASCADE, null=True, blank=True,
                              related_name="+")
    enabled = models.BooleanField(default=True)
    window_seconds = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Empty: DEDUPE_DEFAULT_WINDOW_SECONDS")
    cache_price = models.BigIntegerField(null=True, blank=True,
                                         help_text="micro-USD; empty: DEDUPE_CACHE_PRICE_MICROS")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], condition=Q(brand__isnull=True),
                                    name="one_dedupe_policy_per_org"),
            models.UniqueConstraint(fields=["organization", "brand"],
                                    condition=Q(brand__isnull=False),
                                    name="one_dedupe_policy_per_brand"),
            models.CheckConstraint(condition=Q(cache_price__gte=0) | Q(cache_price__isnull=True),
                                   name="cache_price_not_negative"),
        ]

    def __str__(self):
        return f"dedupe {self.organization_id}/{self.brand_id or '*'}"
