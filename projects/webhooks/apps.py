from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "projects.webhooks"
    label = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from projects.webhooks import consumer  # noqa: F401  (registers the event feed consumer)
        from projects.webhooks import tasks  # noqa: F401  (the beat schedule names its sweep)
