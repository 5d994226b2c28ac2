"""Push (FCM credentials, devices, test sends and their delivery results) and webhooks
(endpoints and their delivery log), through projects.push and projects.webhooks."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from baas.api.errors import ApplicationError, InvalidArgument
from dashboard import services as console_services
from dashboard.access import Console, forbidden, project_page
from dashboard.views.common import answer_error, error_info, error_page, error_status, json_field, page, pretty
from projects.models import Role
from projects.push import selectors as push_selectors
from projects.push import services as push_services
from projects.push.models import Device
from projects.webhooks import selectors as webhook_selectors
from projects.webhooks import services as webhook_services

MESSAGES_SHOWN = 20


def _lines(raw: str) -> list[str]:
    return [item.strip() for item in raw.replace(",", "\n").splitlines() if item.strip()]


def _service_account(request: HttpRequest) -> Any:
    upload = request.FILES.get("service_account_file")
    if upload is not None:
        if upload.size > 64 * 1024:
            raise InvalidArgument("A service account file is a small JSON file.", details={"field": "serviceAccount"})
        try:
            return json.loads(upload.read().decode())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InvalidArgument("The file is not JSON.", details={"field": "serviceAccount"}) from None
    return json_field(request.POST.get("service_account", ""), "serviceAccount", allow_empty=False)


@project_page()
def push(request: HttpRequest, console: Console) -> HttpResponse:
    """Credentials (admins), the devices count, a test notification (developers)."""
    error = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action in ("credentials", "credentials_delete") and not console.can_admin:
            return forbidden(request, console, f"This change needs the {Role.ADMIN} role; you are {console.role}.")
        try:
            if action == "credentials":
                row = push_services.push_credentials_set(ctx=console.ctx, service_account=_service_account(request))
                console_services.audit_record(project=console.project, actor=request.user, action="push.credentials", target=row.client_email)
            elif action == "credentials_delete":
                push_services.push_credentials_delete(ctx=console.ctx)
                console_services.audit_record(project=console.project, actor=request.user, action="push.credentials_delete", target="fcm")
            elif action == "send":
                kind = request.POST.get("target_kind", "")
                values = _lines(request.POST.get("target", ""))
                target: dict[str, Any] = {"topic": values[0] if values else ""} if kind == "topic" else {kind: values}
                notification = {k: request.POST.get(k, "").strip() for k in ("title", "body") if request.POST.get(k, "").strip()}
                data = json_field(request.POST.get("data", ""), "data")
                sent = push_services.push_message_send(ctx=console.ctx, target=target, notification=notification or None, data=data)
                console_services.audit_record(project=console.project, actor=request.user, action="push.send", target=sent["id"], details={"target": kind})
                return redirect("dashboard:push_message", project_id=console.project.id, message_id=sent["id"])
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            return redirect("dashboard:push", project_id=console.project.id)
    uid = request.GET.get("uid", "").strip()
    devices = None
    if uid:
        try:
            devices = push_selectors.devices_list(ctx=console.ctx, uid=uid)
        except ApplicationError as exc:
            error, status = error_info(exc), error_status(exc)
    active = Device.objects.for_project(console.project.id).filter(is_active=True)
    context = {
        "credentials": push_selectors.push_credentials_get(ctx=console.ctx),
        "devices_count": active.count(),
        "users_count": active.values("uid").distinct().count(),
        "uid": uid,
        "devices": devices,
        "messages": push_selectors.messages_list(ctx=console.ctx, limit=MESSAGES_SHOWN),
        "values": request.POST,
        "error": error,
        "section": "push",
    }
    return page(request, console, "dashboard/push.html", context, status=status)


@project_page()
def push_message(request: HttpRequest, console: Console, message_id: str) -> HttpResponse:
    try:
        message = push_selectors.message_access(ctx=console.ctx, message_id=message_id)
        deliveries = push_selectors.deliveries_list(ctx=console.ctx, message_id=message_id, limit=200)
    except ApplicationError as exc:
        return error_page(request, console, exc)
    context = {
        "message": push_selectors.message_json(message),
        "content": pretty(message.content),
        "deliveries": deliveries["deliveries"],
        "section": "push",
    }
    return page(request, console, "dashboard/push_message.html", context)


@project_page()
def webhooks(request: HttpRequest, console: Console) -> HttpResponse:
    """Endpoints: create (the signing secret is shown once), enable or disable, delete."""
    error = None
    status = 200
    secret = None
    if request.method == "POST":
        action = request.POST.get("action")
        endpoint_id = request.POST.get("endpoint_id", "")
        try:
            if action == "create":
                endpoint, secret = webhook_services.endpoint_create(
                    ctx=console.ctx,
                    url=request.POST.get("url", "").strip(),
                    events=_lines(request.POST.get("events", "")),
                    collections=_lines(request.POST.get("collections", "")) or None,
                    description=request.POST.get("description", "").strip() or None,
                )
                console_services.audit_record(project=console.project, actor=request.user, action="webhook.create", target=endpoint.url)
                status = 201
            elif action in ("enable", "disable"):
                endpoint = webhook_services.endpoint_update(ctx=console.ctx, endpoint_id=endpoint_id, changes={"enabled": action == "enable"})
                console_services.audit_record(project=console.project, actor=request.user, action=f"webhook.{action}", target=endpoint.url)
            elif action == "rotate":
                secret = webhook_services.endpoint_secret_rotate(ctx=console.ctx, endpoint_id=endpoint_id)
                console_services.audit_record(project=console.project, actor=request.user, action="webhook.rotate", target=endpoint_id)
            elif action == "delete":
                webhook_services.endpoint_delete(ctx=console.ctx, endpoint_id=endpoint_id)
                console_services.audit_record(project=console.project, actor=request.user, action="webhook.delete", target=endpoint_id)
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            if secret is None:
                return redirect("dashboard:webhooks", project_id=console.project.id)
    context = {
        "endpoints": webhook_selectors.endpoints_list(ctx=console.ctx),
        "secret": secret,
        "values": request.POST if error else {},
        "error": error,
        "section": "webhooks",
    }
    return page(request, console, "dashboard/webhooks.html", context, status=status)


@project_page()
def webhook(request: HttpRequest, console: Console, endpoint_id: str) -> HttpResponse:
    """One endpoint's delivery log, with each attempt; deliveries can be sent again."""
    error = None
    status = 200
    if request.method == "POST":
        try:
            delivery = webhook_services.delivery_redeliver(ctx=console.ctx, endpoint_id=endpoint_id, delivery_id=request.POST.get("delivery_id", ""))
        except ApplicationError as exc:
            return error_page(request, console, exc)
        console_services.audit_record(project=console.project, actor=request.user, action="webhook.redeliver", target=delivery.id)
        return redirect("dashboard:webhook", project_id=console.project.id, endpoint_id=endpoint_id)
    try:
        endpoint = webhook_services.endpoint_access(ctx=console.ctx, endpoint_id=endpoint_id)
        deliveries = webhook_selectors.deliveries_list(ctx=console.ctx, endpoint_id=endpoint_id, status=request.GET.get("status") or None)
    except ApplicationError as exc:
        return error_page(request, console, exc)
    context = {"endpoint": webhook_selectors.endpoint_json(endpoint), "deliveries": deliveries, "error": error, "section": "webhooks"}
    return page(request, console, "dashboard/webhook.html", context, status=status)
