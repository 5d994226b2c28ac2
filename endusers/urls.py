"""Routes under ``/v1/projects/<project_id>/``."""

from __future__ import annotations

from django.urls import path

from endusers import views

urlpatterns = [
    path("auth/jwks.json", views.JwksView.as_view(), name="auth-jwks"),
]
