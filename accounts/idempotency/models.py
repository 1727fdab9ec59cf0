from django.db import models


class IdempotencyRecord(models.Model):
    """One client `Idempotency-Key` per organization. The unique constraint, not a lookup, is
    what makes two concurrent requests with one key see each other. While the first is in
    flight `response_status` is null; afterwards the stored response is replayed."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and parsed body
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"],
                                    name="one_idempotency_key_per_org"),
        ]

    def __str__(self):
        return f"{self.key} ({self.method} {self.path})"
