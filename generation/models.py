import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


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
    # Whether input images (JobReference rows) were sent with the job; None: not recorded (rows
    # made before this field, or by a path that does not say). The worker skips reading
    # references for a job that has none.
    has_references = models.BooleanField(null=True, default=None, editable=False)

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
    # A retry waits in `queued` until then; the claimer skips it earlier (no sleeping worker).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "deadline_at"]),
            models.Index(fields=["status", "next_attempt_at"], name="job_due_idx"),
            # The per-organization concurrency count at every submit (generation.limits) reads
            # only the active jobs, however many finished ones the organization has.
            models.Index(fields=["organization"], name="job_active_per_org",
                         condition=Q(status__in=["queued", "running"])),
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


# --- upstream channels (issue 5): see docs/upstreams.md ------------------------------------------

class Provider(models.TextChoices):
    GEMINI = "gemini"
    VERTEX = "vertex"
    OPENAI = "openai"
    LOCAL = "local"


class BreakerState(models.TextChoices):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Channel(models.Model):
    """An admin-managed upstream. The secret (API key or service-account JSON) is encrypted at
    rest with `generation.crypto`; read it only through `channel.secret`."""

    name = models.SlugField(max_length=100, unique=True)
    provider = models.CharField(max_length=20, choices=Provider.choices)
    base_url = models.URLField(max_length=300, blank=True,
                               help_text="Blank: the provider's public endpoint.")
    secret_encrypted = models.TextField(blank=True, editable=False)
    # Provider options: vertex {"project", "region"}; openai {"model_map": {ours: theirs}}.
    options = models.JSONField(default=dict, blank=True)
    served_models = models.JSONField(default=list, blank=True,
                              help_text="Catalog model names this channel serves; empty = all.")
    priority = models.IntegerField(default=0, help_text="Higher is tried first.")
    weight = models.PositiveIntegerField(default=1, help_text="Share among equal priorities.")
    rpm_limit = models.PositiveIntegerField(null=True, blank=True,
                                            help_text="Requests per minute across all workers.")
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True,
                                                    help_text="Calls in flight across all workers.")
    timeout_seconds = models.PositiveIntegerField(default=120)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    breaker_state = models.CharField(max_length=10, choices=BreakerState.choices,
                                     default=BreakerState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]

    @property
    def secret(self) -> str:
        from generation.crypto import decrypt

        return decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @secret.setter
    def secret(self, value: str) -> None:
        from generation.crypto import encrypt

        self.secret_encrypted = encrypt(value) if value else ""

    def serves(self, model: str) -> bool:
        return not self.served_models or model in self.served_models

    @property
    def health(self) -> str:
        if not self.enabled:
            return "disabled"
        return {BreakerState.CLOSED: "healthy", BreakerState.OPEN: "down"}.get(
            self.breaker_state, "probing")

    def __str__(self):
        return f"{self.name} ({self.provider})"


class ChannelLease(models.Model):
    """One upstream call through a channel. Open leases count against the concurrency limit,
    leases of the last minute against the rpm limit. A lease expires on its own, so a worker
    killed mid-call cannot hold a slot for ever."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="leases")
    job_id = models.UUIDField(null=True, blank=True)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "acquired_at"]),
                   models.Index(fields=["channel", "released_at", "expires_at"])]

    def __str__(self):
        return f"{self.channel_id}:{self.job_id}"
