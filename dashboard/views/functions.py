"""Cloud functions: deploy from pasted code or a file, versions and rollback, invoke with
a JSON payload, executions with their logs, schedules. All through functions.services."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from baas.api.errors import ApplicationError, InvalidArgument
from dashboard import services as console_services
from dashboard.access import Console, project_page
from dashboard.views.common import answer_error, error_info, error_status, json_field, page, pretty
from functions import selectors, services
from functions.models import ExecutionStatus

SAMPLE = '''from baas_functions import on_call


@on_call
def handler(event, ctx):
    print("hello from", ctx.project_id)
    return {"echo": event.data}
'''
MAX_UPLOAD_BYTES = 1024 * 1024


def _deploy_data(request: HttpRequest) -> dict[str, Any]:
    """The deploy body from the form: one pasted module, or an uploaded .py file."""
    data: dict[str, Any] = {"name": request.POST.get("name", "").strip(), "entrypoint": request.POST.get("entrypoint", "").strip() or "main:handler"}
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > MAX_UPLOAD_BYTES or not upload.name.endswith(".py"):
            raise InvalidArgument("Upload one Python file (.py) of at most 1 MiB.", details={"field": "file"})
        try:
            data["source"] = upload.read().decode()
        except UnicodeDecodeError:
            raise InvalidArgument("The file is not UTF-8 text.", details={"field": "file"}) from None
    else:
        data["source"] = request.POST.get("source", "")
    timeout = request.POST.get("timeout_seconds", "").strip()
    if timeout:
        if not timeout.isdigit():
            raise InvalidArgument("The timeout is a number of seconds.", details={"field": "timeoutSeconds"})
        data["timeoutSeconds"] = int(timeout)
    return data


@project_page()
def functions_page(request: HttpRequest, console: Console) -> HttpResponse:
    error = None
    status = 200
    values = {"name": "", "entrypoint": "main:handler", "source": SAMPLE, "timeout_seconds": ""}
    if request.method == "POST":
        values = {key: request.POST.get(key, default) for key, default in values.items()}
        try:
            data = _deploy_data(request)
            version = services.function_deploy(ctx=console.ctx, data=data)
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
        else:
            console_services.audit_record(project=console.project, actor=request.user, action="function.deploy", target=data["name"], details={"version": version.version})
            return redirect("dashboard:function", project_id=console.project.id, name=data["name"])
    context = {"functions": selectors.functions_list(ctx=console.ctx), "values": values, "error": error, "section": "functions"}
    return page(request, console, "dashboard/functions.html", context, status=status)


@project_page()
def function(request: HttpRequest, console: Console, name: str) -> HttpResponse:
    """One function: versions (roll back), invoke, executions, schedules; delete."""
    error = None
    status = 200
    outcome = None
    payload = request.POST.get("payload", "{}") if request.method == "POST" else "{}"
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invoke":
                data = json_field(payload, "payload")
                try:
                    outcome = {"ok": True, "result": pretty(services.function_call(ctx=console.ctx, name=name, data=data))}
                except ApplicationError as exc:
                    if exc.code not in ("function_error", "deadline_exceeded"):
                        raise
                    outcome = {"ok": False, "message": exc.message, "execution": exc.details.get("executionId")}
                console_services.audit_record(project=console.project, actor=request.user, action="function.invoke", target=name)
            elif action == "rollback":
                raw = request.POST.get("version", "")
                version = services.function_rollback(ctx=console.ctx, name=name, data={"version": int(raw) if raw.isdigit() else raw})
                console_services.audit_record(project=console.project, actor=request.user, action="function.rollback", target=name, details={"version": version.version})
                return redirect("dashboard:function", project_id=console.project.id, name=name)
            elif action == "delete":
                services.function_delete(ctx=console.ctx, name=name)
                console_services.audit_record(project=console.project, actor=request.user, action="function.delete", target=name)
                return redirect("dashboard:functions", project_id=console.project.id)
            else:
                raise InvalidArgument("Unknown action.")
        except ApplicationError as exc:
            special = answer_error(request, console, exc)
            if special is not None:
                return special
            error, status = error_info(exc), error_status(exc)
    try:
        current = selectors.function_get(ctx=console.ctx, name=name)
        versions = selectors.versions_list(ctx=console.ctx, name=name)
        executions = selectors.executions_list(
            ctx=console.ctx, name=name, status=request.GET.get("status") or None, cursor=request.GET.get("cursor") or None, limit=25
        )
        function_row = services.function_access(ctx=console.ctx, name=name)
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=error_status(exc))
    source = selectors.version_get(ctx=console.ctx, name=name, version=current["activeVersion"])["source"]
    context = {
        "function": current,
        "versions": versions,
        "executions": executions["executions"],
        "next_cursor": executions["nextCursor"],
        "statuses": ExecutionStatus.values,
        "status_filter": request.GET.get("status", ""),
        "schedules": list(function_row.schedules.order_by("next_run_at")),
        "source": source,
        "payload": payload,
        "outcome": outcome,
        "error": error,
        "section": "functions",
    }
    return page(request, console, "dashboard/function.html", context, status=status)


@project_page()
def execution(request: HttpRequest, console: Console, name: str, execution_id: str) -> HttpResponse:
    try:
        found = selectors.execution_get(ctx=console.ctx, name=name, execution_id=execution_id)
    except ApplicationError as exc:
        return answer_error(request, console, exc) or page(request, console, "dashboard/not_found.html", {"message": exc.message}, status=error_status(exc))
    context = {
        "name": name, "execution": found, "event": pretty(found.get("event")),
        "result": pretty(found.get("result")), "error_json": pretty(found.get("error")) if found.get("error") else "",
        "section": "functions",
    }
    return page(request, console, "dashboard/execution.html", context)
