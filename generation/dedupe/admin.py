from django.contrib import admin

from generation.dedupe.models import DedupePolicy


@admin.register(DedupePolicy)
class DedupePolicyAdmin(admin.ModelAdmin):
    list_display = ("organization", "brand", "enabled", "window_seconds", "cache_price")
    list_filter = ("enabled",)
    raw_id_fields = ("organization", "brand")
