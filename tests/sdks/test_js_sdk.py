"""The JavaScript SDK's own tests (sdks/js/test, node's built-in runner) against a live
server: auth, documents, queries, realtime (resume across cut connections, token refresh
mid-subscription), storage, functions."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stop_process
from tests.functions.conftest import SERVICES, worker_start
from tests.sdks.conftest import SdkTarget


@pytest.fixture
def job_runner(transactional_db: Any, tmp_path: Path) -> Iterator[None]:
    """Function calls run on the job runner: the server's embedded worker, or in services
    mode a Celery worker process."""
    if not SERVICES:
        yield
        return
    worker = worker_start(tmp_path)
    yield
    stop_process(worker.process)  # type: ignore[arg-type]


def test_node_suite(js_sdk: Path, sdk_target: SdkTarget, job_runner: None) -> None:
    result = subprocess.run(
        ["node", "--experimental-websocket", "--test", "--test-concurrency=1", "--test-reporter=tap", "test/"],
        cwd=js_sdk,
        env={**os.environ, **sdk_target.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node's tests failed:\n{output}\n--- server log ---\n{sdk_target.server.log()[-5000:]}"
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)
    assert passed and failed, output
    assert int(failed.group(1)) == 0
    assert int(passed.group(1)) >= 30, output  # every test file ran
