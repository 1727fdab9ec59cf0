from django.apps import AppConfig


class DedupeConfig(AppConfig):
    name = "generation.dedupe"
    label = "dedupe"
    verbose_name = "Dedupe cache"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from generation.dedupe import reference  # noqa: F401 - connects its invalidation
