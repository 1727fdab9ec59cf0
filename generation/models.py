import uuid

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELED = "canceled"


TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.BLOCKED, JobStatus.CANCELED)


class GenerationJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT,
                                     related_name="jobs")
    brand = models.ForeignKey("accounts.Brand", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="jobs")
    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")

    model = models.CharField(max_length=100)
    prompt = models.TextField()
    tier = models.CharField(max_length=4)
    aspect_ratio = models.CharField(max_length=8)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField(null=True, blank=True)
    grounding = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)

    # The quote is frozen on the job: a later price change never alters it.
    price = models.BigIntegerField()
    price_breakdown = models.JSONField(default=list)
    price_list = models.ForeignKey("billing.PriceList", on_delete=models.PROTECT, related_name="+")
    google_cost = models.BigIntegerField(default=0)
    reservation = models.OneToOneField("billing.Reservation", on_delete=models.PROTECT,
                                       related_name="job")

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=100, blank=True)
    is_local_render = models.BooleanField(default=False)
    model_version = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    usage = models.JSONField(default=dict, blank=True)
    upstream_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)
    # The upstream's reason for a safety block (e.g. SAFETY, IMAGE_SAFETY), kept for the surfaces.
    block_reason = models.CharField(max_length=40, blank=True)

    # Multi-turn editing: `parent` continues that job's conversation; `history` holds earlier
    # turns a client sent itself (Gemini `contents`); `model_turn` is the upstream's answer, kept
    # exactly (parts with thought signatures) so a later turn can send it back.
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="children")
    history = models.JSONField(default=list, blank=True)
    model_turn = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "deadline_at"]),
        ]

    def __str__(self):
        return f"{self.id} {self.model} {self.status}"


def image_upload_path(image: "GeneratedImage", filename: str) -> str:
    return f"images/{image.job.organization_id}/{image.job_id}/{filename}"


class GeneratedImage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=image_upload_path, max_length=300)
    mime_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="one_image_per_index")]

    def __str__(self):
        return f"{self.job_id}/{self.index}"


def reference_upload_path(reference: "JobReference", filename: str) -> str:
    return f"references/{reference.job.organization_id}/{reference.job_id}/{filename}"


class JobReference(models.Model):
    """An input image of a job (reference, or an OpenAI edit mask), as decoded and verified."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="references")
    index = models.PositiveSmallIntegerField(default=0)
    is_mask = models.BooleanField(default=False)
    file = models.FileField(upload_to=reference_upload_path, max_length=300)
    mime_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["job", "index"],
                                               name="one_reference_per_index")]

    def __str__(self):
        return f"{self.job_id}/ref{self.index}"
