"""Fixtures for cloud functions: a real job runner (a Celery worker process with beat in
services mode; the embedded worker, sequencer and feed pump in this process otherwise)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Api, server_env, stop_process

SERVICES = os.environ.get("BAAS_TEST_MODE") == "services"


@dataclass
class Worker:
    process: subprocess.Popen[bytes] | None
    log_path: Path | None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def worker_start(tmp_path: Path, name: str = "worker", **env: str) -> Worker:
    log_path = tmp_path / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads", "--concurrency=4", "-B",
         "-s", str(tmp_path / f"{name}-beat-schedule"), "-l", "info", "-n", f"{name}@%h",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=server_env(BAAS_FUNCTIONS_LEASE_GRACE_SECONDS="1", **env),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from baas.celery import app

    node = f"{name}@{socket.gethostname()}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{log_path.read_text()}")
        if app.control.ping([node], timeout=0.5):
            return Worker(process, log_path)
    stop_process(process)
    raise RuntimeError(f"worker not ready within 30s:\n{log_path.read_text()}")


@pytest.fixture
def functions_worker(transactional_db: Any, tmp_path: Path, settings: Any) -> Iterator[Worker]:
    """A worker process per test in services mode: one shared by several tests would be
    sequencing and polling while the test database is flushed between them, and
    PostgreSQL's TRUNCATE can deadlock with that."""
    if SERVICES:
        worker = worker_start(tmp_path)
        yield worker
        stop_process(worker.process)  # type: ignore[arg-type]
        return
    from baas.jobs import embedded_worker_start
    from projects.documents import changelog, feeds

    settings.BAAS_FUNCTIONS_LEASE_GRACE_SECONDS = 1
    assert embedded_worker_start() is not None
    changelog.sequencer.start()
    feeds.pump_start()
    yield Worker(None, None)
    feeds.pump.stop()
    changelog.sequencer.stop()


def wait_for(check: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def deploy(secret_api: Api) -> Callable[..., Any]:
    def deploy(name: str, source: str, **fields: Any) -> dict[str, Any]:
        response = secret_api.post("/v1/projects/alpha-app/functions", {"name": name, "source": source, **fields})
        assert response.status == 201, response.body
        return response.body

    return deploy
