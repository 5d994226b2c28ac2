from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "projects.push"
    label = "push"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registered at start-up, so the beat schedule never names a task this process lacks.
        from projects.push import consumer, tasks  # noqa: F401  (the feed consumer; tasks for beat)
