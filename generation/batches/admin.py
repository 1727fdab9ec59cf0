from django.contrib import admin

from generation.batches.models import Batch


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("id", "organization", "status", "total", "remaining", "created_at")
    list_filter = ("status",)
    readonly_fields = ("organization", "brand", "api_key", "created_by", "status", "total",
                       "remaining", "price", "cancel_requested_at", "completed_at")
