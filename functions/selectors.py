"""Reading functions, versions and executions, in the shapes the API shows."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound
from functions.models import Execution, ExecutionStatus, Function, FunctionVersion
from functions.runner import execution_json
from functions.services import function_access, require_writer, version_access

PAGE_SIZE = 50


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def version_json(version: FunctionVersion, *, with_source: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": version.version,
        "entrypoint": version.entrypoint,
        "triggers": version.triggers,
        "timeoutSeconds": version.timeout_seconds,
        "memoryMb": version.memory_mb,
        "retry": version.retry,
        # Names only: values are sealed, and secrets never leave the server again.
        "env": version.env_names,
        "secrets": version.secret_names,
        "sourceSha256": version.source_sha256,
        "sourceBytes": version.source_bytes,
        "files": sorted(version.files),
        "createdAt": _stamp(version.created_at),
    }
    if with_source:
        body["source"] = version.files
    return body


def function_json(function: Function, version: FunctionVersion) -> dict[str, Any]:
    return {
        "name": function.name,
        "activeVersion": function.active_version,
        "createdAt": _stamp(function.created_at),
        "updatedAt": _stamp(function.updated_at),
        **{key: value for key, value in version_json(version).items() if key not in ("version", "createdAt")},
    }


def functions_list(*, ctx: RequestContext) -> list[dict[str, Any]]:
    require_writer(ctx)
    functions = list(Function.objects.for_project(ctx.project_id).order_by("name"))
    versions = {
        (v.function_id, v.version): v
        for v in FunctionVersion.objects.for_project(ctx.project_id).defer("files")
    }
    return [function_json(f, versions[(f.pk, f.active_version)]) for f in functions]


def function_get(*, ctx: RequestContext, name: str) -> dict[str, Any]:
    require_writer(ctx)
    function = function_access(ctx=ctx, name=name)
    return function_json(function, version_access(function=function, version=function.active_version))


def versions_list(*, ctx: RequestContext, name: str) -> list[dict[str, Any]]:
    require_writer(ctx)
    function = function_access(ctx=ctx, name=name)
    return [
        {**version_json(v), "active": v.version == function.active_version}
        for v in function.versions.defer("files").order_by("-version")
    ]


def version_get(*, ctx: RequestContext, name: str, version: int) -> dict[str, Any]:
    require_writer(ctx)
    function = function_access(ctx=ctx, name=name)
    row = version_access(function=function, version=version)
    return {**version_json(row, with_source=True), "active": row.version == function.active_version}


def _cursor_decode(raw: str) -> tuple[str, str]:
    try:
        created, _, execution_id = base64.urlsafe_b64decode(raw.encode() + b"==").decode().partition("|")
        datetime.fromisoformat(created)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("'cursor' is not a cursor this API gave.", details={"field": "cursor"}) from None
    return created, execution_id


def executions_list(
    *, ctx: RequestContext, name: str, status: str | None = None, cursor: str | None = None, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """Newest first, keyset-paginated on (created_at, id)."""
    require_writer(ctx)
    function_access(ctx=ctx, name=name)
    if status is not None and status not in ExecutionStatus.values:
        raise InvalidArgument(f"'status' is one of {ExecutionStatus.values}.", details={"field": "status"})
    if not 1 <= limit <= 200:
        raise InvalidArgument("'limit' is 1 to 200.", details={"field": "limit"})
    query = Execution.objects.for_project(ctx.project_id).filter(function_name=name).defer("stdout", "stderr", "event")
    if status is not None:
        query = query.filter(status=status)
    if cursor:
        created, execution_id = _cursor_decode(cursor)
        moment = datetime.fromisoformat(created)
        query = query.filter(created_at__lt=moment) | query.filter(created_at=moment, id__lt=execution_id)
    rows = list(query.order_by("-created_at", "-id")[: limit + 1])
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode()).decode().rstrip("=")
    return {"executions": [execution_json(row, with_logs=False) for row in page], "nextCursor": next_cursor}


def execution_get(*, ctx: RequestContext, name: str, execution_id: str) -> dict[str, Any]:
    require_writer(ctx)
    row = Execution.objects.for_project(ctx.project_id).filter(function_name=name, id=execution_id).first()
    if row is None:
        raise NotFound(f"No execution {execution_id!r} of {name!r}.")
    return {**execution_json(row), "event": row.event}
