"""Calls on a live server: each waits for its function on a thread of the edge's waiting
pool, so calls in flight neither queue behind each other nor hold up document writes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import stop_process
from tests.functions.conftest import worker_start

SLOW = """
import time
def handler(event, ctx):
    time.sleep(2)
    return event.data
"""


def test_calls_in_flight_wait_apart_from_each_other_and_from_writes(
    asgi_server_factory: Any, project: Any, tmp_path: Path
) -> None:
    server = asgi_server_factory(BAAS_EDGE_WRITE_THREADS="1", BAAS_FUNCTIONS_POOL_SIZE="2")
    worker = worker_start(tmp_path) if os.environ.get("BAAS_TEST_MODE") == "services" else None
    try:
        base = f"{server.url}/v1/projects/alpha-app"
        secret = {"X-Api-Key": project.secret_key}
        deployed = httpx.post(f"{base}/functions", json={"name": "slow", "source": SLOW, "timeoutSeconds": 10},
                              headers=secret, timeout=60)
        assert deployed.status_code == 201, deployed.text
        answers: dict[int, tuple[int, Any]] = {}

        def call(n: int) -> None:
            response = httpx.post(f"{base}/functions/slow:call", json={"data": n},
                                  headers={"X-Api-Key": project.publishable_key}, timeout=30)
            answers[n] = (response.status_code, response.json())

        started = time.monotonic()
        callers = [threading.Thread(target=call, args=(n,)) for n in (1, 2)]
        for caller in callers:
            caller.start()
        time.sleep(0.5)
        written = httpx.put(f"{base}/collections/notes/documents/n1", json={"data": {"ok": True}}, headers=secret, timeout=30)
        assert written.status_code in (200, 201), written.text
        assert not answers  # the write did not wait for the calls in flight
        for caller in callers:
            caller.join(30)
        elapsed = time.monotonic() - started
        assert answers == {1: (200, {"result": 1}), 2: (200, {"result": 2})}, server.log()
        assert elapsed < 3.8  # side by side: one after the other takes over 4 s
    finally:
        if worker is not None:
            stop_process(worker.process)  # type: ignore[arg-type]
