from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"
    label = "functions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the "functions" event-feed consumer.
        from functions import triggers  # noqa: F401
