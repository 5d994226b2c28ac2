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
    path("auth/password-reset", views.PasswordResetView.as_view(), name="auth-password-reset"),
    path("auth/password-reset/confirm", views.PasswordResetConfirmView.as_view(), name="auth-password-reset-confirm"),
    path("auth/verify-email", views.VerifyEmailView.as_view(), name="auth-verify-email"),
    path("auth/verify-email/confirm", views.VerifyEmailConfirmView.as_view(), name="auth-verify-email-confirm"),
    path("auth/custom-token", views.CustomTokenView.as_view(), name="auth-custom-token"),
    path("auth/custom-token/exchange", views.CustomTokenExchangeView.as_view(), name="auth-custom-token-exchange"),
    path("auth/config", views.AuthConfigView.as_view(), name="auth-config"),
    path("auth/keys:rotate", views.SigningKeyRotateView.as_view(), name="auth-keys-rotate"),
    path("auth/oauth/providers", views.OAuthProvidersView.as_view(), name="auth-oauth-providers"),
    path("auth/oauth/providers/<str:provider>", views.OAuthProviderView.as_view(), name="auth-oauth-provider"),
    path("auth/oauth/<str:provider>/authorize", views.OAuthAuthorizeView.as_view(), name="auth-oauth-authorize"),
    path("auth/oauth/<str:provider>/callback", views.OAuthCallbackView.as_view(), name="auth-oauth-callback"),
    path("users", views.UsersView.as_view(), name="users"),
    path("users/<str:uid>", views.UserView.as_view(), name="user"),
]
