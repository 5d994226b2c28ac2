"""At least once across a worker's death: a worker killed mid-execution leaves a running
execution whose lease runs out; another worker's sweep requeues it, and the function runs
again with the same event id. No other worker runs in this module."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import Api, stop_process
from tests.functions.conftest import wait_for, worker_start
from tests.functions.test_triggers import _document, _executions


@pytest.mark.services
def test_a_worker_killed_mid_execution_does_not_lose_the_event(
    transactional_db: Any, secret_api: Api, deploy: Callable[..., Any], tmp_path: Path
) -> None:
    deploy("slow", """
from baas_functions import on_document_created
import time

@on_document_created("slow")
def handler(event, ctx):
    ctx.db.collection("started").doc(str(time.time_ns())).set({"eventId": event.id})
    time.sleep(1.5)
    ctx.db.collection("finished").doc(event.subject).set({"eventId": event.id})
""", timeoutSeconds=3)
    first = worker_start(tmp_path, "first")
    try:
        assert secret_api.put("/v1/projects/alpha-app/collections/slow/documents/s1", {"data": {}}).status in (200, 201)
        wait_for(lambda: (rows := _executions("slow")) and rows[0].status == "running", what="the first attempt")
        os.killpg(first.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
        first.process.wait(5)  # type: ignore[union-attr]
    finally:
        stop_process(first.process)  # type: ignore[arg-type]
    assert _document("finished", "s1") is None
    second = worker_start(tmp_path, "second")
    try:
        finished = wait_for(lambda: _document("finished", "s1"), timeout=40, what="the retried run")
    finally:
        stop_process(second.process)  # type: ignore[arg-type]
    execution = _executions("slow")[0]
    assert finished == {"eventId": execution.event_id} and execution.status == "succeeded" and execution.attempt == 2
    assert len(_executions("slow")) == 1
