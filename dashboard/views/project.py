"""One project: overview, members and invitations, API keys, settings, usage, audit log."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from baas.api.errors import ApplicationError
from dashboard import services as console_services
from dashboard.access import ROLE_POWERS, Console, project_page
from dashboard.views.common import answer_error, error_info, error_status, page
from projects import selectors, services, usage
from projects.models import Role


@project_page()
def overview(request: HttpRequest, console: Console) -> HttpResponse:
    from projects.documents.config import collections_list
    from storage.selectors import buckets_list, usage_get

    context = {
        "collections": collections_list(ctx=console.ctx),
        "buckets": buckets_list(ctx=console.ctx),
        "storage": usage_get(ctx=console.ctx),
        "members": selectors.members_list(project=console.project),
        "totals": {s.metric: s.total for s in usage.usage_series(project_id=console.project.id, range_name="24h")},
        "section": "overview",
    }
    return page(request, console, "dashboard/overview.html", context)


@project_page(write_role=Role.OWNER)
def members(request: HttpRequest, console: Console) -> HttpResponse:
    """Everyone sees who is in; only owners invite, change roles and remove."""
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invite":
                console_services.invitation_create(
                    project=console.project,
                    actor=request.user,
                    email=request.POST.get("email", ""),
                    role=request.POST.get("role", ""),
                    accept_url=lambda token: request.build_absolute_uri(reverse("dashboard:invitation", args=[token])),
                )
            elif action == "role":
                console_services.member_role_change(
                    project=console.project, actor=request.user, user_id=_int(request.POST.get("user_id")), role=request.POST.get("role", "")
                )
            elif action == "remove":
                console_services.member_remove(project=console.project, actor=request.user, user_id=_int(request.POST.get("user_id")))
            elif action == "revoke_invitation":
                console_services.invitation_revoke(project=console.project, actor=request.user, invitation_id=_int(request.POST.get("invitation_id")))
            else:
                return page(request, console, "dashboard/not_found.html", {"message": "Unknown action."}, status=400)
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect("dashboard:members", project_id=console.project.id)
    context = {
        "members": selectors.members_list(project=console.project),
        "invitations": console_services.invitations_pending(project=console.project),
        "roles": Role.values,
        "powers": ROLE_POWERS,
        "error": error,
        "section": "members",
    }
    return page(request, console, "dashboard/members.html", context, status=status)


def _int(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return -1


@project_page(write_role=Role.ADMIN)
def keys(request: HttpRequest, console: Console) -> HttpResponse:
    """API keys: a new key's value is shown on this one answer only."""
    plain = None
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                key, plain = services.api_key_create(
                    project=console.project, kind=request.POST.get("kind", ""), name=request.POST.get("name", "").strip()[:100]
                )
                console_services.audit_record(project=console.project, actor=request.user, action="key.create", target=key.display_prefix, details={"kind": key.kind, "name": key.name})
                status = 201
            elif action == "revoke":
                key = services.api_key_revoke(project=console.project, key_id=_int(request.POST.get("key_id")))
                console_services.audit_record(project=console.project, actor=request.user, action="key.revoke", target=key.display_prefix)
                return redirect("dashboard:keys", project_id=console.project.id)
            else:
                return page(request, console, "dashboard/not_found.html", {"message": "Unknown action."}, status=400)
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
    context = {"keys": selectors.api_keys_list(project=console.project), "plain": plain, "error": error, "section": "keys"}
    return page(request, console, "dashboard/keys.html", context, status=status)


@project_page(write_role=Role.OWNER)
def settings(request: HttpRequest, console: Console) -> HttpResponse:
    """Project settings; deleting the project is for owners and needs its id typed."""
    error = None
    if request.method == "POST":
        try:
            console_services.project_delete(project=console.project, actor=request.user, confirm=request.POST.get("confirm", ""))
        except ApplicationError as exc:
            error = error_info(exc)
        else:
            return redirect("dashboard:projects")
    return page(request, console, "dashboard/settings.html", {"error": error, "section": "settings"}, status=400 if error else 200)


@project_page()
def usage_page(request: HttpRequest, console: Console) -> HttpResponse:
    range_name = request.GET.get("range", "24h")
    if range_name not in usage.RANGES:
        range_name = "24h"
    series = usage.usage_series(project_id=console.project.id, range_name=range_name)
    context = {"series": series, "range": range_name, "ranges": list(usage.RANGES), "section": "usage"}
    return page(request, console, "dashboard/usage.html", context)


@project_page()
def usage_data(request: HttpRequest, console: Console) -> JsonResponse:
    """The chart's data: one series per metric over the range."""
    range_name = request.GET.get("range", "24h")
    if range_name not in usage.RANGES:
        return JsonResponse({"error": {"code": "invalid_argument", "message": f"range is one of {', '.join(usage.RANGES)}.", "details": {"field": "range"}}}, status=400)
    series = usage.usage_series(project_id=console.project.id, range_name=range_name)
    return JsonResponse(
        {
            "range": range_name,
            "labels": [at.strftime("%Y-%m-%dT%H:%M:%SZ") for at, _ in series[0].points] if series else [],
            "series": [{"metric": s.metric, "label": s.label, "total": s.total, "values": [v for _, v in s.points]} for s in series],
        }
    )


@project_page()
def audit(request: HttpRequest, console: Console) -> HttpResponse:
    entries = console_services.audit_list(project=console.project)
    return page(request, console, "dashboard/audit.html", {"entries": entries, "section": "audit"})
