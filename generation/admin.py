from django import forms
from django.contrib import admin

from billing.money import format_usd
from generation.models import BreakerState, Channel, GeneratedImage, GenerationJob, JobReference


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    extra = 0
    readonly_fields = ["index", "file", "mime_type", "width", "height", "size_bytes", "sha256"]


class JobReferenceInline(admin.TabularInline):
    model = JobReference
    extra = 0
    readonly_fields = ["index", "is_mask", "file", "mime_type", "width", "height", "size_bytes",
                       "sha256"]


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "organization", "brand", "model", "tier", "aspect_ratio", "status",
                    "price_usd", "google_cost_usd", "provider", "channel", "upstream_latency_ms",
                    "error_code", "attempts", "created_at"]
    list_filter = ["status", "model", "tier", "is_local_render", "provider", "channel",
                   "error_code", "created_at"]
    search_fields = ["=id", "prompt", "organization__name", "api_key__prefix", "brand__name"]
    list_select_related = ["organization", "brand"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in GenerationJob._meta.fields]
    inlines = [JobReferenceInline, GeneratedImageInline]

    @admin.display(description="price", ordering="price")
    def price_usd(self, job):
        return format_usd(job.price, symbol=True)

    @admin.display(description="Google cost", ordering="google_cost")
    def google_cost_usd(self, job):
        return format_usd(job.google_cost, symbol=True)

    # Jobs are records of what happened: they change only through generation.services.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

class ChannelForm(forms.ModelForm):
    base_url = forms.URLField(required=False, assume_scheme="https", max_length=300)
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                             help_text="API key, or the service-account JSON for Vertex. Stored "
                                       "encrypted; leave blank to keep the current one.")

    class Meta:
        model = Channel
        fields = ["name", "provider", "base_url", "secret", "options", "served_models", "priority",
                  "weight", "rpm_limit", "concurrency_limit", "timeout_seconds", "enabled",
                  "disabled_reason"]

    def save(self, commit=True):
        channel = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            channel.secret = self.cleaned_data["secret"]
        if commit:
            channel.save()
        return channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "provider", "base_url", "priority", "weight", "enabled", "health",
                    "breaker_state", "consecutive_failures", "last_error"]
    list_filter = ["provider", "enabled", "breaker_state"]
    readonly_fields = ["breaker_state", "consecutive_failures", "opened_at", "probe_started_at",
                       "last_error", "last_failure_at", "created_at", "updated_at"]
    actions = ["reset_breaker"]

    @admin.action(description="Close the circuit breaker (after fixing the upstream)")
    def reset_breaker(self, request, queryset):
        queryset.update(breaker_state=BreakerState.CLOSED, consecutive_failures=0, opened_at=None,
                        probe_started_at=None)
