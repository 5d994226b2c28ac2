"""End users of a project (search, disable, delete, custom claims) and the sign-in settings."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from baas.api.errors import ApplicationError, InvalidArgument
from dashboard import services as console_services
from dashboard.access import Console, project_page
from dashboard.views.common import answer_error, error_page, error_info, error_status, json_field, page, pretty
from endusers import config as auth_config
from endusers import oauth, selectors, services
from endusers.models import OAuthProvider


@project_page()
def users(request: HttpRequest, console: Console) -> HttpResponse:
    search = request.GET.get("search", "").strip()[:254]
    try:
        listing = selectors.users_list(project_id=console.project.id, search=search, cursor=request.GET.get("cursor") or None, limit=50)
    except ApplicationError as exc:
        return error_page(request, console, exc)
    context = {"users": listing.users, "next_cursor": listing.next_cursor, "search": search, "section": "users"}
    return page(request, console, "dashboard/users.html", context)


@project_page()
def user(request: HttpRequest, console: Console, uid: str) -> HttpResponse:
    """One user: disable or enable, set custom claims, delete."""
    error = None
    status = 200
    try:
        end_user = selectors.user_get(project_id=console.project.id, uid=uid)
    except ApplicationError as exc:
        return error_page(request, console, exc)
    claims_text = pretty(end_user.claims or {})
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "delete":
                services.user_delete(ctx=console.ctx, user=end_user)
                console_services.audit_record(project=console.project, actor=request.user, action="user.delete", target=uid)
                return redirect("dashboard:users", project_id=console.project.id)
            if action in ("disable", "enable"):
                services.user_admin_update(ctx=console.ctx, user=end_user, disabled=action == "disable")
                console_services.audit_record(project=console.project, actor=request.user, action=f"user.{action}", target=uid)
            elif action == "claims":
                claims_text = request.POST.get("claims", "")
                claims = json_field(claims_text, "claims")
                services.user_admin_update(ctx=console.ctx, user=end_user, claims=claims)
                console_services.audit_record(project=console.project, actor=request.user, action="user.claims", target=uid, details={"claims": sorted((claims or {}).keys())})
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect("dashboard:user", project_id=console.project.id, uid=uid)
    context = {"end_user": end_user, "user_json": pretty(selectors.user_json(end_user)), "claims_text": claims_text, "error": error, "section": "users"}
    return page(request, console, "dashboard/user.html", context, status=status)


@project_page()
def auth_settings(request: HttpRequest, console: Console) -> HttpResponse:
    """Token lifetime, the email action page, redirect URIs and OAuth clients."""
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "config":
                raw = request.POST.get("access_token_lifetime", "").strip()
                if raw and not raw.isdigit():
                    raise InvalidArgument("The access token lifetime is a number of seconds.", details={"field": "accessTokenLifetime"})
                auth_config.auth_config_update(
                    ctx=console.ctx,
                    access_token_lifetime=int(raw) if raw else None,
                    email_action_url=request.POST.get("email_action_url", "").strip() or None,
                    redirect_uris=[line.strip() for line in request.POST.get("redirect_uris", "").splitlines() if line.strip()],
                )
                console_services.audit_record(project=console.project, actor=request.user, action="auth.config", target="settings")
            elif action == "provider":
                name = request.POST.get("name", "").strip()
                data = {
                    "kind": request.POST.get("kind", ""),
                    "clientId": request.POST.get("client_id", "").strip(),
                    "issuer": request.POST.get("issuer", "").strip() or None,
                    "scopes": request.POST.get("scopes", "").strip() or None,
                }
                if request.POST.get("client_secret"):
                    data["clientSecret"] = request.POST["client_secret"]
                oauth.provider_set(ctx=console.ctx, name=name, data=data)
                console_services.audit_record(project=console.project, actor=request.user, action="auth.provider", target=name, details={"kind": data["kind"]})
            elif action == "email_template":
                purpose = request.POST.get("purpose", "")
                subject, body = request.POST.get("subject", ""), request.POST.get("body", "").replace("\r\n", "\n")
                template = {"subject": subject, "body": body} if subject.strip() or body.strip() else None
                auth_config.auth_config_update(ctx=console.ctx, email_templates={purpose: template})
                console_services.audit_record(
                    project=console.project, actor=request.user, action="auth.email_template", target=purpose,
                    details={"reset": template is None},
                )
            elif action == "provider_delete":
                name = request.POST.get("name", "")
                oauth.provider_delete(project_id=console.project.id, name=name)
                console_services.audit_record(project=console.project, actor=request.user, action="auth.provider_delete", target=name)
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect("dashboard:auth_settings", project_id=console.project.id)
    current = auth_config.auth_config_json(console.project.id)
    context = {
        "config": current,
        "redirect_uris": "\n".join(current["redirectUris"]),
        "providers": [oauth.provider_json(p) for p in oauth.providers_list(project_id=console.project.id)],
        "kinds": [k for k, _ in OAuthProvider.KINDS],
        "placeholders": auth_config.EMAIL_PLACEHOLDERS,
        "templates": [
            {"purpose": purpose, "label": label, "custom": current["emailTemplates"][purpose] is not None,
             **(current["emailTemplates"][purpose] or {"subject": "", "body": ""})}
            for purpose, label in (("verify", "Email verification"), ("reset", "Password reset"))
        ],
        "error": error,
        "section": "users",
    }
    return page(request, console, "dashboard/auth_settings.html", context, status=status)
