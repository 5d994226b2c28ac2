"""Running one recorded execution: claim it, run the user code in the sandbox, record the
outcome, and retry or dead-letter a failed event execution.

Called by the Celery task (a worker process in services mode, the embedded worker thread
otherwise). Every step that changes an execution's status is a compare-and-swap on it, so
a duplicate task, a sweep requeue and a slow worker never run or record one attempt twice.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from functions.models import FINAL_STATUSES, Execution, ExecutionStatus, FunctionVersion
from projects.usage import usage_record

logger = logging.getLogger("baas.functions")
ORDER_WAIT_SECONDS = 0.2


def _now() -> datetime:
    return datetime.now(timezone.utc)


def execution_json(execution: Execution, *, with_logs: bool = True) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    body: dict[str, Any] = {
        "id": execution.id,
        "function": execution.function_name,
        "version": execution.version,
        "trigger": execution.trigger,
        "eventId": execution.event_id or None,
        "status": execution.status,
        "attempt": execution.attempt,
        "maxAttempts": execution.max_attempts,
        "deadLetter": execution.dead_letter,
        "replayOf": execution.replay_of or None,
        "createdAt": stamp(execution.created_at),
        "startedAt": stamp(execution.started_at),
        "finishedAt": stamp(execution.finished_at),
        "nextAttemptAt": stamp(execution.not_before) if execution.status == ExecutionStatus.QUEUED and execution.attempt else None,
        "durationMs": execution.duration_ms,
        "memoryPeakKb": execution.memory_peak_kb,
        "result": execution.result,
        "error": execution.error,
    }
    if with_logs:
        body["stdout"] = execution.stdout
        body["stderr"] = execution.stderr
    return body


def _earlier_pending(execution: Execution) -> bool:
    """Is an earlier event of the same document (or user, or object) still to finish?"""
    if not execution.ordering_key or execution.seq is None:
        return False
    return (
        Execution.objects.for_project(execution.project_id)
        .filter(function_name=execution.function_name, ordering_key=execution.ordering_key, seq__lt=execution.seq)
        .exclude(status__in=FINAL_STATUSES)
        .exists()
    )


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter, capped."""
    ceiling = min(settings.BAAS_FUNCTIONS_RETRY_MAX_DELAY_SECONDS, settings.BAAS_FUNCTIONS_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def _claim(execution: Execution, version: FunctionVersion | None) -> bool:
    """queued -> running, in one statement; False when another task took it first or it
    is not due yet. On success ``execution`` holds the new attempt."""
    now = _now()
    timeout = version.timeout_seconds if version is not None else 0
    lease = now + timedelta(seconds=timeout + settings.BAAS_FUNCTIONS_LEASE_GRACE_SECONDS)
    with _commit_fast(execution):
        claimed = Execution.objects.unscoped().filter(
            id=execution.id, status=ExecutionStatus.QUEUED, attempt=execution.attempt,
            not_before__lte=now + timedelta(seconds=0.05),
        ).update(status=ExecutionStatus.RUNNING, attempt=execution.attempt + 1, started_at=now, lease_until=lease)
    if claimed:
        execution.status, execution.attempt, execution.started_at, execution.lease_until = (
            ExecutionStatus.RUNNING, execution.attempt + 1, now, lease
        )
    return bool(claimed)


@contextmanager
def _commit_fast(execution: Execution) -> Iterator[None]:
    """A call's bookkeeping need not wait for the disk: if the database crashed before
    flushing, the caller got no answer anyway and calls again. Event executions, whose
    records are the at-least-once guarantee, keep the durable commit."""
    with transaction.atomic():
        if execution.trigger == "http" and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


_versions: dict[tuple[str, str, int], FunctionVersion] = {}
_versions_lock = threading.Lock()


def _version_of(execution: Execution) -> FunctionVersion | None:
    """Versions never change once written, so each process keeps the ones it ran."""
    key = (execution.project_id, execution.function_name, execution.version)
    with _versions_lock:
        cached = _versions.get(key)
    if cached is not None:
        return cached
    version = (
        FunctionVersion.objects.for_project(execution.project_id)
        .filter(function__name=execution.function_name, version=execution.version)
        .first()
    )
    if version is not None:
        with _versions_lock:
            if len(_versions) >= 256:
                _versions.clear()
            _versions[key] = version
    return version


def _finish(execution: Execution, **fields: Any) -> None:
    """Record the final outcome and its ``function.*`` event in one transaction."""
    from projects.documents.events import system_event_append

    fields.setdefault("finished_at", _now())
    with _commit_fast(execution):
        updated = Execution.objects.unscoped().filter(
            id=execution.id, status=ExecutionStatus.RUNNING, attempt=execution.attempt
        ).update(lease_until=None, **fields)
        if not updated:
            return  # requeued by a sweep meanwhile: that run records the outcome
        for name, value in fields.items():
            setattr(execution, name, value)
        execution.lease_until = None
        status = fields["status"]
        system_event_append(
            project_id=execution.project_id,
            source="functions",
            subject=execution.id,
            op="create",
            data={
                "type": f"function.{status}",
                "function": execution.function_name,
                "execution": execution.id,
                "version": execution.version,
                "trigger": execution.trigger,
                "eventId": execution.event_id or None,
                "status": status,
                "attempt": execution.attempt,
                "deadLetter": bool(fields.get("dead_letter", False)),
                "error": fields.get("error"),
            },
        )
    if execution.trigger == "http":  # committed: wake the caller
        from functions.outcomes import outcome_publish

        outcome_publish(execution.id, execution_json(execution, with_logs=False))


def execution_run(execution_id: str) -> dict[str, Any] | None:
    """Run ``execution_id`` if it is due and nobody else runs it; its JSON afterwards
    (None when this call did not run it)."""
    from functions.tasks import execution_run_task

    execution = Execution.objects.unscoped().filter(id=execution_id).first()
    if execution is None or execution.status != ExecutionStatus.QUEUED:
        return None
    now = _now()
    if execution.deadline is not None and execution.deadline < now:
        Execution.objects.unscoped().filter(id=execution_id, status=ExecutionStatus.QUEUED).update(
            status=ExecutionStatus.TIMEOUT, finished_at=now,
            error={"type": "DeadlineExceeded", "message": "The call was not started before its caller gave up."},
        )
        return None
    if _earlier_pending(execution):
        execution_run_task.apply_async((execution_id,), countdown=ORDER_WAIT_SECONDS)
        return None
    version = _version_of(execution)
    if not _claim(execution, version):
        return None
    return _run_claimed(execution, version)


def _run_claimed(execution: Execution, version: FunctionVersion | None) -> dict[str, Any]:
    """Run an execution this process has claimed, record the outcome (or schedule the
    retry), and answer its JSON."""
    from functions.tasks import execution_run_task

    execution_id = execution.id
    if version is None:
        _finish(execution, status=ExecutionStatus.FAILED, error={"type": "NotFound", "message": "The function was deleted."})
        return execution_json(execution)
    outcome = _sandbox_run(execution, version)
    failed = outcome.status != "succeeded"
    if failed and execution.attempt < execution.max_attempts:
        delay = backoff_seconds(execution.attempt)
        retried = Execution.objects.unscoped().filter(
            id=execution_id, status=ExecutionStatus.RUNNING, attempt=execution.attempt
        ).update(
            status=ExecutionStatus.QUEUED, not_before=_now() + timedelta(seconds=delay), lease_until=None,
            duration_ms=outcome.duration_ms, memory_peak_kb=outcome.memory_peak_kb,
            stdout=outcome.stdout, stderr=outcome.stderr, error=outcome.error, result=None,
        )
        if retried:
            execution_run_task.apply_async((execution_id,), countdown=delay)
        execution.refresh_from_db()
    else:
        _finish(
            execution,
            status=outcome.status,
            duration_ms=outcome.duration_ms,
            memory_peak_kb=outcome.memory_peak_kb,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            result=outcome.result if not failed else None,
            error=outcome.error,
            dead_letter=failed and execution.max_attempts > 1,
        )
    usage_record(execution.project_id, "function_runs")
    return execution_json(execution)


def call_execution(call: dict[str, Any], **fields: Any) -> Execution:
    """The (unsaved) execution row of a call described by ``services.call_prepare``."""
    created = datetime.fromisoformat(call["createdAt"])
    return Execution(
        id=call["id"], project_id=call["projectId"], function_name=call["function"], version=call["version"],
        trigger="http", event=call["event"], created_at=created, not_before=created,
        deadline=datetime.fromisoformat(call["deadline"]), **fields,
    )


def call_run(call: dict[str, Any]) -> dict[str, Any] | None:
    """Record a call's execution as it starts and run it; None when it is not run.

    The insert is the claim: the id is the call's, so a duplicate message, or a late one
    after its caller gave up and recorded the call as timed out, finds it taken. A call
    needs no row before this: nobody retries it but its caller."""
    now = _now()
    execution = call_execution(call)
    assert execution.deadline is not None
    if execution.deadline < now:
        Execution.objects.unscoped().bulk_create([call_execution(
            call, status=ExecutionStatus.TIMEOUT, finished_at=now,
            error={"type": "DeadlineExceeded", "message": "The call was not started before its caller gave up."},
        )], ignore_conflicts=True)
        return None
    version = _version_of(execution)
    timeout = version.timeout_seconds if version is not None else 0
    execution.status, execution.attempt, execution.started_at = ExecutionStatus.RUNNING, 1, now
    execution.lease_until = now + timedelta(seconds=timeout + settings.BAAS_FUNCTIONS_LEASE_GRACE_SECONDS)
    try:
        with _commit_fast(execution):
            execution.save(force_insert=True)
    except IntegrityError:
        return None
    return _run_claimed(execution, version)


def _sandbox_run(execution: Execution, version: FunctionVersion) -> Any:
    from functions.bridge import bridge_for
    from functions.sandbox import Limits, sandbox_run
    from functions.services import version_environment

    limits = Limits(
        timeout_seconds=version.timeout_seconds,
        memory_mb=version.memory_mb,
        allow_network=settings.BAAS_FUNCTIONS_ALLOW_NETWORK,
    )
    context = {
        "projectId": execution.project_id,
        "function": execution.function_name,
        "version": execution.version,
        "executionId": execution.id,
        "attempt": execution.attempt,
    }
    try:
        return sandbox_run(
            files=version.files,
            entrypoint=version.entrypoint,
            event=execution.event,
            env=version_environment(version),
            context=context,
            limits=limits,
            bridge=bridge_for(project_id=execution.project_id, function=execution.function_name),
        )
    except Exception as error:  # the platform failed, not the user's code: record it, retry if allowed
        logger.exception("sandbox failed for execution %s", execution.id)
        from functions.sandbox import SandboxResult

        return SandboxResult(status="failed", error={"type": "SandboxError", "message": str(error)[:500]})
