"""Celery tasks of cloud functions. They take ids (a call: its description, since it has
no row yet) and call the runner or a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from functions import runner, services


@shared_task(name="functions.execution_run", ignore_result=True)
def execution_run_task(execution_id: str) -> None:
    runner.execution_run(execution_id)


@shared_task(name="functions.call", ignore_result=True)
def call_task(call: dict[str, Any]) -> None:
    """A call (``services.call_prepare``): recorded and run here; its outcome reaches the
    waiting request through functions/outcomes.py."""
    runner.call_run(call)


@shared_task(name="functions.call_run", ignore_result=True)
def call_run_task(execution_id: str) -> None:
    """Calls queued (as rows) by an earlier release."""
    runner.execution_run(execution_id)


@shared_task(name="functions.tick", ignore_result=True)
def functions_tick() -> None:
    """Fire due schedules and requeue executions a dead worker or a lost message left."""
    services.schedules_fire()
    services.executions_sweep()


@shared_task(name="functions.executions_purge", ignore_result=True)
def executions_purge_task() -> None:
    services.executions_purge()
