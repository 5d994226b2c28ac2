"""Cloud function calls through the SDK: results with the caller's auth, a raising
function as ``FunctionError``, a slow one as ``DeadlineExceeded``, and isolation."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from baas_client import AsyncClient, Client, DeadlineExceeded, FunctionError, NotFound, Unauthenticated

from tests.conftest import stop_process
from tests.functions.conftest import worker_start

P = "alpha-app"
ECHO = """
def handler(event, ctx):
    return {"echo": event.data, "uid": (event.auth or {}).get("uid")}
"""
FAILS = """
def handler(event, ctx):
    raise ValueError("no such order: " + str(event.data))
"""
SLEEPS = """
import time
def handler(event, ctx):
    time.sleep(30)
"""


@pytest.fixture
def runner(server: Any, tmp_path: Path) -> Iterator[None]:
    """Embedded servers run jobs in their own process; in services mode a Celery worker does."""
    if os.environ.get("BAAS_TEST_MODE") != "services":
        yield
        return
    worker = worker_start(tmp_path)
    yield
    stop_process(worker.process)  # type: ignore[arg-type]


def deploy(server: Any, project: Any, name: str, source: str, **fields: Any) -> None:
    response = httpx.post(f"{server.url}/v1/projects/{P}/functions", json={"name": name, "source": source, **fields},
                          headers={"X-Api-Key": project.secret_key}, timeout=60)
    assert response.status_code == 201, response.text


def test_calls_results_and_typed_errors(server: Any, project: Any, runner: None, app: Client) -> None:
    deploy(server, project, "echo", ECHO)
    deploy(server, project, "fails", FAILS)
    deploy(server, project, "sleeps", SLEEPS, timeoutSeconds=1)
    assert app.functions.call("echo", {"n": 1}) == {"echo": {"n": 1}, "uid": None}
    uid = app.auth.sign_in_anonymously()["uid"]
    assert app.functions.call("echo", [1, "two"]) == {"echo": [1, "two"], "uid": uid}
    with pytest.raises(FunctionError) as failed:
        app.functions.call("fails", 42)
    assert failed.value.status == 422 and "no such order: 42" in failed.value.message + str(failed.value.details)
    with pytest.raises(DeadlineExceeded) as late:
        app.functions.call("sleeps")
    assert late.value.status == 504
    with pytest.raises(NotFound):
        app.functions.call("missing")

    async def call_async() -> Any:
        async with AsyncClient(server.url, P, project.publishable_key) as client:
            return await client.functions.call("echo", "async")

    assert asyncio.run(call_async()) == {"echo": "async", "uid": None}


def test_another_projects_key_calls_nothing(server: Any, project: Any, runner: None, other_project: Any,
                                            make_client: Any) -> None:
    deploy(server, project, "echo", ECHO)
    intruder = make_client(server, other_project.publishable_key)
    with pytest.raises(Unauthenticated):
        intruder.functions.call("echo", 1)
