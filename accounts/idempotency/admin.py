from django.contrib import admin

from accounts.idempotency.models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "organization", "method", "path", "response_status", "expires_at")
    search_fields = ("key",)
    readonly_fields = [field.name for field in IdempotencyRecord._meta.fields]
