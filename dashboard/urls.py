"""The console, mounted at /console/."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from dashboard.forms import EmailLoginForm
from dashboard.views import accounts, auth, collections, functions, project, storage

app_name = "dashboard"

P = "p/<str:project_id>/"

urlpatterns = [
    path("", accounts.projects, name="projects"),
    path("signup/", accounts.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="dashboard/login.html", authentication_form=EmailLoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("dashboard:login")), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="dashboard/password_reset.html",
            email_template_name="dashboard/email/password_reset.txt",
            subject_template_name="dashboard/email/password_reset_subject.txt",
            success_url=reverse_lazy("dashboard:password_reset_done"),
        ),
        name="password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(template_name="dashboard/password_reset_done.html"), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="dashboard/password_reset_confirm.html", success_url=reverse_lazy("dashboard:password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(template_name="dashboard/password_reset_complete.html"), name="password_reset_complete"),
    path("account/", accounts.account, name="account"),
    path("account/tokens/<int:token_id>/revoke/", accounts.token_revoke, name="token_revoke"),
    path("invitations/<str:token>/", accounts.invitation, name="invitation"),
    path(P, project.overview, name="overview"),
    path(P + "members/", project.members, name="members"),
    path(P + "keys/", project.keys, name="keys"),
    path(P + "settings/", project.settings, name="settings"),
    path(P + "usage/", project.usage_page, name="usage"),
    path(P + "usage/data.json", project.usage_data, name="usage_data"),
    path(P + "audit/", project.audit, name="audit"),
    path(P + "collections/", collections.collections, name="collections"),
    path(P + "collections/<str:name>/", collections.documents, name="documents"),
    path(P + "collections/<str:name>/config/", collections.collection_config, name="collection_config"),
    path(P + "collections/<str:name>/playground/", collections.playground, name="playground"),
    path(P + "collections/<str:name>/new/", collections.document_new, name="document_new"),
    path(P + "collections/<str:name>/documents/<str:doc_id>/", collections.document, name="document"),
    path(P + "users/", auth.users, name="users"),
    path(P + "auth-settings/", auth.auth_settings, name="auth_settings"),
    path(P + "users/<str:uid>/", auth.user, name="user"),
    path(P + "functions/", functions.functions_page, name="functions"),
    path(P + "functions/<str:name>/", functions.function, name="function"),
    path(P + "functions/<str:name>/executions/<str:execution_id>/", functions.execution, name="execution"),
    path(P + "storage/", storage.buckets, name="buckets"),
    path(P + "storage/<str:bucket>/", storage.files, name="files"),
    path(P + "storage/<str:bucket>/download/", storage.download, name="download"),
]
