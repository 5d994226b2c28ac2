from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"
    label = "functions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the "functions" event-feed consumer, and the tasks beat names.
        from functions import tasks, triggers  # noqa: F401
