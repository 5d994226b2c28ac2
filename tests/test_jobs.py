"""Background jobs run outside the request: a Celery worker process in services mode,
the in-process worker thread in embedded mode."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from projects.models import ApiKey
from tests.conftest import ROOT, server_env, stop_process


def _wait_for_last_used(key: ApiKey, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        key.refresh_from_db()
        if key.last_used_at is not None:
            return
        time.sleep(0.05)
    raise AssertionError("the key's last use was never recorded")


@pytest.mark.services
def test_task_from_a_request_runs_in_a_worker_process(transactional_db: Any, api: Any, tmp_path: Path) -> None:
    from projects.services import project_create

    created = project_create(project_id="jobs-app")
    key = ApiKey.objects.for_project("jobs-app").get(kind="secret")
    assert api.with_key(created.secret_key).get("/v1/projects/jobs-app").status == 200
    # Nothing in this process runs jobs: the update waits for a worker.
    time.sleep(0.5)
    key.refresh_from_db()
    assert key.last_used_at is None
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=solo", "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=server_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_last_used(key)
    finally:
        stop_process(worker)
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()


@pytest.mark.embedded
def test_task_from_a_request_runs_on_the_embedded_worker(transactional_db: Any, api: Any) -> None:
    from baas.jobs import embedded_worker_start
    from projects.services import project_create

    worker = embedded_worker_start()
    assert worker is not None
    created = project_create(project_id="jobs-app")
    key = ApiKey.objects.for_project("jobs-app").get(kind="publishable")
    started = time.monotonic()
    assert api.with_key(created.publishable_key).get("/v1/projects/jobs-app").status == 200
    _wait_for_last_used(key, timeout=10)
    assert time.monotonic() - started < 10
