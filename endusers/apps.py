from django.apps import AppConfig


class EndUsersConfig(AppConfig):
    name = "endusers"
    label = "endusers"
    default_auto_field = "django.db.models.BigAutoField"
