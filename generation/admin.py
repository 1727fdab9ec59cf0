from django.contrib import admin

from billing.money import format_usd
from generation.models import GeneratedImage, GenerationJob, JobReference


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
