from django.apps import AppConfig


class ModerationConfig(AppConfig):
    """Moderation and the staff console, nested in `generation` but with its own migrations."""

    name = "generation.moderation"
    label = "moderation"
    verbose_name = "Moderation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from generation.moderation import reference  # noqa: F401 - connects its invalidation
