import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class BatchStatus(models.TextChoices):
    PROCESSING = "processing"
    COMPLETED = "completed"  # every item reached a terminal state
    CANCELED = "canceled"  # completed after a cancel request


class Batch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="batches")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="batches")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    status = models.CharField(max_length=12, choices=BatchStatus.choices,
                              default=BatchStatus.PROCESSING)
    total = models.PositiveIntegerField()
    # Items not yet in a terminal state; decremented exactly once per item by its settlement.
    remaining = models.PositiveIntegerField()
    price = models.BigIntegerField()  # sum of the items' quoted prices, micro-USD
    created_at = models.DateTimeField(auto_now_add=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"])]
        constraints = [models.CheckConstraint(condition=Q(remaining__lte=models.F("total")),
                                              name="batch_remaining_within_total")]

    def __str__(self):
        return f"batch {self.id} ({self.status})"


class BatchItem(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField()
    custom_id = models.CharField(max_length=100, blank=True)
    job = models.OneToOneField("generation.GenerationJob", on_delete=models.CASCADE,
                               related_name="batch_item")

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"],
                                               name="one_batch_item_per_index")]

    def __str__(self):
        return f"{self.batch_id}[{self.index}]"
