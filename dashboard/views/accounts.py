"""Console accounts: sign up, the project list and creation, personal access tokens, invitations."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from baas.api.errors import ApplicationError
from dashboard import services as console_services
from dashboard.forms import SignupForm
from dashboard.views.common import error_info, error_status, page
from projects import services
from projects.models import Membership, PersonalAccessToken


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard:projects")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = console_services.console_user_create(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        console_services.audit_record(project=None, actor=user, action="account.signup", target=user.email)
        return redirect(request.GET.get("next") or reverse("dashboard:projects"))
    return page(request, None, "dashboard/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def projects(request: HttpRequest) -> HttpResponse:
    """The project list; POST creates a project owned by the caller."""
    error = None
    created = None
    if request.method == "POST":
        try:
            created = services.project_create(
                project_id=request.POST.get("project_id", "").strip(),
                name=request.POST.get("name", "").strip()[:200],
                owner=request.user,
            )
        except ApplicationError as exc:
            error = error_info(exc)
        else:
            console_services.audit_record(project=created.project, actor=request.user, action="project.create", target=created.project.id)
    memberships = Membership.objects.unscoped().filter(user=request.user).select_related("project").order_by("project_id")
    context = {"memberships": memberships, "error": error, "created": created, "values": request.POST}
    return page(request, None, "dashboard/projects.html", context, status=400 if error else (201 if created else 200))


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Personal access tokens for the CLI and ``POST /v1/projects``; a new one is shown once."""
    plain = None
    if request.method == "POST":
        token, plain = services.personal_access_token_create(user=request.user, name=request.POST.get("name", "").strip())
        console_services.audit_record(project=None, actor=request.user, action="token.create", target=token.display_prefix)
    tokens = PersonalAccessToken.objects.filter(user=request.user).order_by("-created_at")
    return page(request, None, "dashboard/account.html", {"tokens": tokens, "plain": plain}, status=201 if plain else 200)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        services.personal_access_token_revoke(user=request.user, token_id=token_id)
    except ApplicationError as exc:
        return page(request, None, "dashboard/not_found.html", {"message": exc.message}, status=404)
    console_services.audit_record(project=None, actor=request.user, action="token.revoke", target=str(token_id))
    return redirect("dashboard:account")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation; a signed-in user accepts it with POST."""
    try:
        invited = console_services.invitation_get(token=token)
    except ApplicationError as exc:
        return page(request, None, "dashboard/not_found.html", {"message": exc.message}, status=404)
    if request.method == "POST" and request.user.is_authenticated:
        try:
            console_services.invitation_accept(token=token, user=request.user)
        except ApplicationError as exc:
            return page(request, None, "dashboard/invitation.html", {"invitation": invited, "error": error_info(exc)}, status=error_status(exc))
        return redirect("dashboard:overview", project_id=invited.project_id)
    return page(request, None, "dashboard/invitation.html", {"invitation": invited})

