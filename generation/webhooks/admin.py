from django.contrib import admin

from generation.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "organization", "enabled", "created_at")
    list_filter = ("enabled",)
    exclude = ("secret", "previous_secret")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "started_at", "status_code", "latency_ms", "response_excerpt",
                       "error")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("message", "endpoint", "status", "attempts", "next_attempt_at")
    list_filter = ("status",)
    inlines = [AttemptInline]
    readonly_fields = ("message", "endpoint", "status", "attempts", "next_attempt_at",
                       "last_status_code")
