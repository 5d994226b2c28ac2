from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "storage"
    label = "storage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from storage import tasks  # noqa: F401  (the beat schedule names its sweep)
