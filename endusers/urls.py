"""Routes under ``/v1/projects/<project_id>/``."""

from __future__ import annotations

from django.urls import path

from endusers import views

urlpatterns = [
    path("auth/jwks.json", views.JwksView.as_view(), name="auth-jwks"),
    path("auth/signup", views.SignupView.as_view(), name="auth-signup"),
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/anonymous", views.AnonymousView.as_view(), name="auth-anonymous"),
    path("auth/link", views.LinkView.as_view(), name="auth-link"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", views.MeView.as_view(), name="auth-me"),
    path("auth/me/password", views.MePasswordView.as_view(), name="auth-me-password"),
]
