from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "generation.assets"
    label = "assets"
    verbose_name = "Brand assets"
    default_auto_field = "django.db.models.BigAutoField"
