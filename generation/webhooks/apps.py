from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "generation.webhooks"
    label = "webhooks"
    verbose_name = "Customer webhooks"
    default_auto_field = "django.db.models.BigAutoField"
