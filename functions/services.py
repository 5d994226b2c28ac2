"""Deploying functions and recording their executions: the one write path behind the REST
API, the CLI, the console and the event feed.

Event executions are rows first and Celery tasks second: a row is written (in the
caller's transaction) before its task is enqueued on commit, and the sweep requeues any
row whose task was lost, so every recorded execution runs at least once. A task only runs
an execution it moves from ``queued`` to ``running`` itself, so a duplicate task is
harmless. A call is the other way round: its caller waits and is the one to retry, so the
worker records it as it starts it (the insert is the claim) and the request writes
nothing; a call that never started is recorded as timed out by its caller.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max

from baas.api.context import RequestContext
from baas.api.errors import FailedPrecondition, InvalidArgument, NotFound, PayloadTooLarge, PermissionDenied
from endusers.crypto import secret_open, secret_seal
from functions import triggers as trigger_rules
from functions.models import (
    Execution,
    ExecutionStatus,
    Function,
    FunctionSchedule,
    FunctionTrigger,
    FunctionVersion,
)
from projects.documents.feeds import Event

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
ENTRYPOINT_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
FILE_PATH_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
DEFAULT_TIMEOUT_SECONDS = 10
DEFAULT_MEMORY_MB = 256
DEPLOY_FIELDS = frozenset(
    {"name", "source", "files", "entrypoint", "triggers", "timeoutSeconds", "memoryMb", "env", "secrets", "retry"}
)


def require_writer(ctx: RequestContext) -> None:
    if not ctx.is_privileged:
        raise PermissionDenied("Managing functions needs a secret key.")


def function_name_check(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidArgument(
            "'name' is 1-63 characters: a letter, then letters, digits, '_' or '-'.", details={"field": "name"}
        )
    return name


def files_check(data: dict[str, Any]) -> dict[str, str]:
    """The deploy's source files: ``source`` (one module, main.py) or ``files``."""
    if ("source" in data) == ("files" in data):
        raise InvalidArgument("Send either 'source' (one module) or 'files' (path -> text).", details={"field": "source"})
    if "source" in data:
        raw: Any = {"main.py": data["source"]}
    else:
        raw = data["files"]
        if not isinstance(raw, dict) or not raw:
            raise InvalidArgument("'files' must be an object of path -> source text.", details={"field": "files"})
    if len(raw) > settings.BAAS_FUNCTIONS_MAX_FILES:
        raise InvalidArgument(f"At most {settings.BAAS_FUNCTIONS_MAX_FILES} files.", details={"field": "files"})
    total = 0
    for path, text in raw.items():
        if not isinstance(path, str) or len(path) > 200 or not FILE_PATH_PATTERN.match(path) or ".." in path.split("/"):
            raise InvalidArgument(f"Bad file path {path!r}: relative, no '..'.", details={"field": "files", "path": str(path)[:200]})
        if not isinstance(text, str):
            raise InvalidArgument(f"File {path!r} must be text.", details={"field": "files", "path": path})
        total += len(text.encode())
    if total > settings.BAAS_FUNCTIONS_MAX_SOURCE_BYTES:
        raise PayloadTooLarge(
            f"The source is {total} bytes; the limit is {settings.BAAS_FUNCTIONS_MAX_SOURCE_BYTES}.",
            details={"limitBytes": settings.BAAS_FUNCTIONS_MAX_SOURCE_BYTES},
        )
    if not any(path.endswith(".py") for path in raw):
        raise InvalidArgument("The source has no Python module.", details={"field": "files"})
    return dict(raw)


def _int_in(data: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"'{name}' is an integer from {low} to {high}.", details={"field": name})
    return value


def _variables(data: dict[str, Any], name: str) -> dict[str, str]:
    raw = data.get(name, {})
    if not isinstance(raw, dict) or len(raw) > 100:
        raise InvalidArgument(f"'{name}' must be an object of at most 100 NAME -> string.", details={"field": name})
    for key, value in raw.items():
        if not ENV_NAME_PATTERN.match(key) or not isinstance(value, str) or len(value) > 32_768:
            raise InvalidArgument(f"'{name}.{key}' must be a NAME with a string value.", details={"field": f"{name}.{key}"})
    return dict(raw)


def retry_check(raw: Any) -> dict[str, Any]:
    if raw is None or raw is False:
        return {"enabled": False, "maxAttempts": 1}
    if raw is True:
        raw = {}
    if not isinstance(raw, dict) or set(raw) - {"enabled", "maxAttempts"}:
        raise InvalidArgument("'retry' is true, false or {enabled, maxAttempts}.", details={"field": "retry"})
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidArgument("'retry.enabled' is a boolean.", details={"field": "retry.enabled"})
    attempts = _int_in(raw, "maxAttempts", settings.BAAS_FUNCTIONS_RETRY_MAX_ATTEMPTS, 1, 20) if enabled else 1
    return {"enabled": enabled, "maxAttempts": attempts}


@dataclass(frozen=True, slots=True)
class DeployInput:
    name: str
    files: dict[str, str]
    entrypoint: str
    triggers: list[dict[str, Any]] | None
    timeout_seconds: int
    memory_mb: int
    env: dict[str, str]
    secrets: dict[str, str]
    retry: dict[str, Any]


def deploy_input_check(data: Any) -> DeployInput:
    if not isinstance(data, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    unknown = sorted(set(data) - DEPLOY_FIELDS)
    if unknown:
        raise InvalidArgument(f"Unknown field {unknown[0]!r}.", details={"field": unknown[0]})
    entrypoint = data.get("entrypoint", "main:handler")
    if not isinstance(entrypoint, str) or not ENTRYPOINT_PATTERN.match(entrypoint):
        raise InvalidArgument("'entrypoint' is 'module:function', e.g. 'main:handler'.", details={"field": "entrypoint"})
    raw_triggers = data.get("triggers")
    return DeployInput(
        name=function_name_check(data.get("name")),
        files=files_check(data),
        entrypoint=entrypoint,
        triggers=None if raw_triggers is None else trigger_rules.triggers_check(raw_triggers),
        timeout_seconds=_int_in(data, "timeoutSeconds", DEFAULT_TIMEOUT_SECONDS, 1, settings.BAAS_FUNCTIONS_MAX_TIMEOUT_SECONDS),
        memory_mb=_int_in(data, "memoryMb", DEFAULT_MEMORY_MB, 64, settings.BAAS_FUNCTIONS_MAX_MEMORY_MB),
        env=_variables(data, "env"),
        secrets=_variables(data, "secrets"),
        retry=retry_check(data.get("retry")),
    )


def functions_discover(*, files: dict[str, str]) -> list[dict[str, Any]]:
    """Import the source in a sandbox and list its decorated functions; a syntax or
    import error is a 400 carrying the traceback."""
    from functions.sandbox import DeployError, Limits, sandbox_discover

    try:
        found = sandbox_discover(files=files, limits=Limits(timeout_seconds=10, memory_mb=256))
    except DeployError as error:
        raise InvalidArgument(
            f"The source does not import: {error.message}", details={"traceback": error.traceback}
        ) from None
    return [{**item, "triggers": trigger_rules.triggers_check(item["triggers"])} for item in found if item.get("triggers")]


def _module_of(entrypoint: str) -> str:
    return entrypoint.partition(":")[0].replace(".", "/")


def function_deploy(*, ctx: RequestContext, data: Any) -> FunctionVersion:
    """Deploy ``data`` as the next version of its function and make it the active one.

    The source is imported in a sandbox first: a broken deploy is refused and the
    previous version keeps serving. Without ``triggers``, the entrypoint's decorators
    declare them; with neither, the function is callable over HTTP.
    """
    require_writer(ctx)
    spec = deploy_input_check(data)
    module = _module_of(spec.entrypoint)
    if f"{module}.py" not in spec.files and f"{module}/__init__.py" not in spec.files:
        raise InvalidArgument(f"The entrypoint's module {module!r} is not in the source.", details={"field": "entrypoint"})
    discovered = functions_discover(files=spec.files)
    triggers = spec.triggers
    if triggers is None:
        declared = [item["triggers"] for item in discovered if item["entrypoint"] == spec.entrypoint]
        triggers = declared[0] if declared else [{"type": "http"}]
    digest = hashlib.sha256(json.dumps(spec.files, sort_keys=True).encode()).hexdigest()
    sealed = secret_seal(json.dumps({"env": spec.env, "secrets": spec.secrets}).encode())
    with transaction.atomic():
        function = Function.objects.for_project(ctx.project_id).select_for_update().filter(name=spec.name).first()
        if function is None:
            try:
                with transaction.atomic():
                    function = Function.objects.for_project(ctx.project_id).create(project_id=ctx.project_id, name=spec.name, active_version=1)
            except IntegrityError:  # a concurrent first deploy of the same name
                function = Function.objects.for_project(ctx.project_id).select_for_update().get(name=spec.name)
        latest = function.versions.aggregate(latest=Max("version"))["latest"] or 0
        version = FunctionVersion.objects.for_project(ctx.project_id).create(
            project_id=ctx.project_id,
            function=function,
            version=latest + 1,
            files=spec.files,
            entrypoint=spec.entrypoint,
            triggers=triggers,
            timeout_seconds=spec.timeout_seconds,
            memory_mb=spec.memory_mb,
            retry=spec.retry,
            env_sealed=sealed,
            env_names=sorted(spec.env),
            secret_names=sorted(spec.secrets),
            source_sha256=digest,
            source_bytes=sum(len(text.encode()) for text in spec.files.values()),
        )
        _activate(function, version)
    return version


def _activate(function: Function, version: FunctionVersion) -> None:
    """Point ``function`` at ``version`` and rebuild its triggers and schedules."""
    function.active_version = version.version
    function.save(update_fields=["active_version", "updated_at"])
    function.event_triggers.all().delete()
    FunctionTrigger.objects.for_project(function.project_id).bulk_create(
        FunctionTrigger(project_id=function.project_id, function=function, source=source, collection=collection, event_types=types)
        for source, collection, types in trigger_rules.event_triggers(version.triggers)
    )
    function.schedules.all().delete()
    now = datetime.now(timezone.utc)
    FunctionSchedule.objects.for_project(function.project_id).bulk_create(
        FunctionSchedule(
            project_id=function.project_id, function=function, cron=trigger["cron"], timezone=trigger["timezone"],
            next_run_at=schedule_next(trigger["cron"], trigger["timezone"], now),
        )
        for trigger in version.triggers
        if trigger["type"] == "schedule"
    )


def schedule_next(cron: str, tz: str, after: datetime) -> datetime:
    local = after.astimezone(ZoneInfo(tz))
    return croniter(cron, local).get_next(datetime).astimezone(timezone.utc)


def function_access(*, ctx: RequestContext, name: str, lock: bool = False) -> Function:
    query = Function.objects.for_project(ctx.project_id).filter(name=name)
    function = (query.select_for_update() if lock else query).first()
    if function is None:
        raise NotFound(f"No function {name!r}.")
    return function


def version_access(*, function: Function, version: int) -> FunctionVersion:
    row = function.versions.filter(version=version).first()
    if row is None:
        raise NotFound(f"Function {function.name!r} has no version {version}.")
    return row


def function_rollback(*, ctx: RequestContext, name: str, data: Any) -> FunctionVersion:
    require_writer(ctx)
    if not isinstance(data, dict) or set(data) != {"version"}:
        raise InvalidArgument("The body is {\"version\": N}.", details={"field": "version"})
    number = data["version"]
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise InvalidArgument("'version' is a positive integer.", details={"field": "version"})
    with transaction.atomic():
        function = function_access(ctx=ctx, name=name, lock=True)
        version = version_access(function=function, version=number)
        _activate(function, version)
    return version


def function_delete(*, ctx: RequestContext, name: str) -> None:
    require_writer(ctx)
    with transaction.atomic():
        function = function_access(ctx=ctx, name=name, lock=True)
        Execution.objects.for_project(ctx.project_id).filter(function_name=name).delete()
        function.delete()


def version_environment(version: FunctionVersion) -> dict[str, str]:
    """The env vars and secrets the function sees: decrypted only for the sandbox."""
    if not version.env_sealed:
        return {}
    stored = json.loads(secret_open(version.env_sealed))
    return {**stored.get("env", {}), **stored.get("secrets", {})}


# --- executions --------------------------------------------------------------------------------


def _new_id() -> str:
    return f"ex_{uuid.uuid4().hex}"


def _enqueue_on_commit(execution_ids: list[str]) -> None:
    from functions.tasks import execution_run_task

    def send() -> None:
        for execution_id in execution_ids:
            execution_run_task.delay(execution_id)

    transaction.on_commit(send, robust=True)


def call_prepare(*, ctx: RequestContext, name: str, data: Any) -> dict[str, Any]:
    """Check a call of ``name`` and describe its execution for the worker, which records
    it as it starts it (``runner.call_run``): the request itself writes nothing."""
    # The active version in one query, without its source; a miss says which part is missing.
    version = (
        FunctionVersion.objects.for_project(ctx.project_id)
        .filter(function__name=name, version=F("function__active_version"))
        .only("version", "triggers", "timeout_seconds")
        .first()
    )
    if version is None:
        function = function_access(ctx=ctx, name=name)
        version = version_access(function=function, version=function.active_version)
    if not trigger_rules.is_callable(version.triggers):
        raise FailedPrecondition(f"Function {name!r} has no http trigger.")
    now = datetime.now(timezone.utc)
    event = {
        "id": _new_id(),
        "type": "call",
        "source": "http",
        "projectId": ctx.project_id,
        "time": now.isoformat().replace("+00:00", "Z"),
        "data": data,
        "auth": ctx.auth,
    }
    return {
        "id": event["id"],
        "projectId": ctx.project_id,
        "function": name,
        "version": version.version,
        "event": event,
        "createdAt": now.isoformat(),
        "deadline": (now + timedelta(seconds=version.timeout_seconds + 1)).isoformat(),
    }


TRIGGER_OF_SOURCE = {"document": "document", "auth": "auth", "storage": "storage"}


def executions_create_for_events(*, project_id: str, events: list[Event]) -> list[str]:
    """Record one execution per (matching function, event); called by the event feed in
    its transaction. An event already recorded for a function is skipped (unique)."""
    rows = list(
        FunctionTrigger.objects.for_project(project_id).values_list(
            "function_id", "function__name", "function__active_version", "source", "collection", "event_types"
        )
    )
    if not rows:
        return []
    retry_of = {
        (function_id, number): retry
        for function_id, number, retry in FunctionVersion.objects.for_project(project_id)
        .filter(function_id__in={row[0] for row in rows})
        .values_list("function_id", "version", "retry")
    }
    now = datetime.now(timezone.utc)
    created: list[Execution] = []
    for event in events:
        for function_id, name, active, source, collection, types in rows:
            if not trigger_rules.event_matches(source=source, collection=collection, event_types=types, event=event):
                continue
            retry = retry_of.get((function_id, active), {})
            payload = event.payload()
            if event.source == "document":
                payload["after"] = event.data
            created.append(
                Execution(
                    id=_new_id(), project_id=project_id, function_name=name, version=active,
                    trigger=TRIGGER_OF_SOURCE[event.source], event_id=event.id, event=payload,
                    ordering_key=f"{event.source}/{event.collection or ''}/{event.subject}"[:300], seq=event.seq,
                    max_attempts=retry.get("maxAttempts", 1) if retry.get("enabled") else 1,
                    created_at=now, not_before=now,
                )
            )
    if not created:
        return []
    Execution.objects.for_project(project_id).bulk_create(created, ignore_conflicts=True)
    ids = [execution.id for execution in created]
    _enqueue_on_commit(ids)
    return ids


def execution_replay(*, ctx: RequestContext, name: str, execution_id: str) -> Execution:
    """Run a finished execution's event again, on the function's active version, as a
    new execution (``replayOf`` names the original; the event id is the same)."""
    require_writer(ctx)
    function = function_access(ctx=ctx, name=name)
    original = Execution.objects.for_project(ctx.project_id).filter(function_name=name, id=execution_id).first()
    if original is None:
        raise NotFound(f"No execution {execution_id!r} of {name!r}.")
    if original.status not in (ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.SUCCEEDED):
        raise FailedPrecondition("Only a finished execution can be replayed.")
    if original.trigger == "http":
        raise FailedPrecondition("A call is replayed by calling again.")
    now = datetime.now(timezone.utc)
    with transaction.atomic():
        execution = Execution.objects.for_project(ctx.project_id).create(
            id=_new_id(), project_id=ctx.project_id, function_name=name, version=function.active_version,
            trigger=original.trigger, event=original.event, replay_of=original.id, created_at=now, not_before=now,
            max_attempts=1,
        )
        _enqueue_on_commit([execution.id])
    return execution


def schedules_fire(*, now: datetime | None = None) -> list[str]:
    """Record an execution for every schedule that is due, once per tick time.

    A schedule is claimed by moving its ``next_run_at`` with a compare-and-swap, so
    several beat processes (or a restart) never fire one tick twice; the tick's time in
    the event id makes the execution itself unique too.
    """
    now = now or datetime.now(timezone.utc)
    fired: list[str] = []
    due = FunctionSchedule.objects.unscoped().filter(next_run_at__lte=now).select_related("function")[:500]
    for schedule in due:
        tick = schedule.next_run_at
        following = schedule_next(schedule.cron, schedule.timezone, max(now, tick))
        with transaction.atomic():
            claimed = FunctionSchedule.objects.unscoped().filter(pk=schedule.pk, next_run_at=tick).update(next_run_at=following)
            if not claimed:
                continue
            function = schedule.function
            version = function.versions.filter(version=function.active_version).only("retry").first()
            retry = version.retry if version is not None else {}
            tick_text = tick.isoformat().replace("+00:00", "Z")
            event_id = f"schedule:{function.name}:{schedule.cron}:{tick_text}"
            execution = Execution(
                id=_new_id(), project_id=function.project_id, function_name=function.name,
                version=function.active_version, trigger="schedule", event_id=event_id[:200],
                event={
                    "id": event_id, "type": "schedule", "source": "schedule", "projectId": function.project_id,
                    "time": tick_text, "cron": schedule.cron, "timezone": schedule.timezone,
                },
                max_attempts=retry.get("maxAttempts", 1) if retry.get("enabled") else 1,
                created_at=now, not_before=now,
            )
            Execution.objects.for_project(function.project_id).bulk_create([execution], ignore_conflicts=True)
            _enqueue_on_commit([execution.id])
            fired.append(execution.id)
    return fired


def executions_sweep(*, now: datetime | None = None) -> list[str]:
    """Requeue what a dead worker or a lost message left behind: running executions past
    their lease, and queued ones that should have started a while ago."""
    now = now or datetime.now(timezone.utc)
    requeued: list[str] = []
    stale_running = Execution.objects.unscoped().filter(status=ExecutionStatus.RUNNING, lease_until__lt=now)
    for execution_id in stale_running.values_list("id", flat=True)[:500]:
        with transaction.atomic():
            moved = Execution.objects.unscoped().filter(
                id=execution_id, status=ExecutionStatus.RUNNING, lease_until__lt=now
            ).update(status=ExecutionStatus.QUEUED, not_before=now, lease_until=None)
            if moved:
                _enqueue_on_commit([execution_id])
                requeued.append(execution_id)
    late = now - timedelta(seconds=max(settings.BAAS_FUNCTIONS_TICK_SECONDS * 2, 10))
    stale_queued = Execution.objects.unscoped().filter(status=ExecutionStatus.QUEUED, not_before__lt=late)
    for execution_id in stale_queued.values_list("id", flat=True)[:500]:
        with transaction.atomic():
            # Pushing not_before forward keeps the next sweep from sending it again at once.
            moved = Execution.objects.unscoped().filter(
                id=execution_id, status=ExecutionStatus.QUEUED, not_before__lt=late
            ).update(not_before=now)
            if moved:
                _enqueue_on_commit([execution_id])
                requeued.append(execution_id)
    return requeued


def executions_purge(*, now: datetime | None = None) -> int:
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=settings.BAAS_FUNCTIONS_EXECUTION_RETENTION_DAYS)
    deleted, _ = Execution.objects.unscoped().filter(created_at__lt=cutoff, status__in=[
        ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT
    ]).delete()
    return deleted


def function_call(*, ctx: RequestContext, name: str, data: Any) -> Any:
    """Run ``name`` with ``data`` and the caller's auth, and wait for its result.

    Past the function's timeout the answer is 504 (the execution ends as ``timeout``);
    an exception in user code is 422 ``function_error`` with its message.
    """
    from baas.api.errors import DeadlineExceeded, FunctionError
    from functions.outcomes import outcome_waiter
    from functions.runner import call_execution, execution_json
    from functions.tasks import call_task

    call = call_prepare(ctx=ctx, name=name, data=data)
    execution_id = call["id"]
    with outcome_waiter(execution_id) as wait:
        call_task.apply_async((call,))
        budget = (datetime.fromisoformat(call["deadline"]) - datetime.now(timezone.utc)).total_seconds() + 1.0
        outcome = wait(max(budget, 0.1))
    if outcome is None:
        row = Execution.objects.for_project(ctx.project_id).filter(id=execution_id).first()
        if row is None:
            # Never started (a lost message, a backlog): recorded as such, and a late
            # worker finds the id taken and leaves it.
            Execution.objects.for_project(ctx.project_id).bulk_create([call_execution(
                call, status=ExecutionStatus.TIMEOUT, finished_at=datetime.now(timezone.utc),
                error={"type": "DeadlineExceeded", "message": "The call was not started before its caller gave up."},
            )], ignore_conflicts=True)
        if row is None or row.status not in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            raise DeadlineExceeded(
                f"Function {name!r} did not finish within its timeout.", details={"executionId": execution_id}
            )
        outcome = execution_json(row, with_logs=False)
    if outcome["status"] == ExecutionStatus.SUCCEEDED:
        return outcome["result"]
    error = outcome.get("error") or {}
    if outcome["status"] == ExecutionStatus.TIMEOUT:
        raise DeadlineExceeded(f"Function {name!r} ran past its timeout.", details={"executionId": execution_id})
    raise FunctionError(
        str(error.get("message") or "The function raised an error."),
        details={"executionId": execution_id, "type": error.get("type")},
    )
