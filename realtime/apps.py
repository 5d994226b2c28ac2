from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from projects.documents.changelog import changes_sequenced
        from realtime.bus import heads_published

        changes_sequenced.connect(heads_published, dispatch_uid="realtime-heads")
