"""The warm pool's life: per OS process, not shared across fork, gone with its owner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.functions_sandbox.conftest import processes_of_uid, run

pytestmark = pytest.mark.django_db


def test_a_pool_is_not_shared_across_a_fork(settings: Any) -> None:
    from functions import pool

    settings.BAAS_FUNCTIONS_POOL_SIZE = 2
    parent_pool = pool.pool_get(allow_network=True)
    assert parent_pool is not None and parent_pool.wait_ready(30)
    parent_pids = sorted(runtime.pid for runtime in parent_pool.ready)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child reports through the pipe
        status: dict[str, Any] = {}
        try:
            status["pools_after_fork"] = len(pool._pools)
            result = run("def handler(event, ctx):\n    return event.data * 2\n", event={"data": 21})
            child_pool = pool.pool_get(allow_network=True)
            status.update(
                result=result.result,
                same_pool=child_pool is parent_pool,
                took_parents=sorted(set(parent_pids) & {runtime.pid for runtime in child_pool.ready}),
            )
        except BaseException as exc:
            status["error"] = repr(exc)
        finally:
            os.write(write_end, json.dumps(status).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        status = json.loads(reader.read() or b"{}")
    os.waitpid(child, 0)
    assert status == {"pools_after_fork": 0, "result": 42, "same_pool": False, "took_parents": []}
    # The parent's warm processes were neither used nor harmed by the child.
    assert sorted(runtime.pid for runtime in parent_pool.ready) == parent_pids
    assert all(runtime.alive() for runtime in parent_pool.ready)
    again = run("def handler(event, ctx):\n    return 'warm'\n")
    assert again.status == "succeeded" and again.result == "warm"


OWNER = """
import os, sys, time
os.environ["DJANGO_SETTINGS_MODULE"] = "baas.settings"
import django
django.setup()
from functions import pool
warm = pool.pool_get(allow_network=True)
assert warm.wait_ready(30)
print(" ".join(str(runtime.uid) for runtime in warm.ready), flush=True)
time.sleep(120)
"""


def test_warm_processes_die_with_the_process_that_owns_them(isolation: str) -> None:
    env = {**os.environ, "BAAS_FUNCTIONS_SANDBOX": isolation, "BAAS_FUNCTIONS_POOL_SIZE": "2"}
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(OWNER)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert owner.stdout is not None
        uids = [int(uid) for uid in owner.stdout.readline().split()]
        assert len(uids) == 2 and all(uid >= 1_000_000_000 for uid in uids)
        assert all(processes_of_uid(uid) for uid in uids)  # the warm runtimes are up
    finally:
        owner.kill()  # SIGKILL: no atexit, no clean-up of its own
        owner.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(processes_of_uid(uid) for uid in uids):
        time.sleep(0.05)
    assert [processes_of_uid(uid) for uid in uids] == [[], []]


def test_pool_size_zero_starts_a_process_per_run(settings: Any) -> None:
    from functions import pool

    settings.BAAS_FUNCTIONS_POOL_SIZE = 0
    assert pool.pool_get(allow_network=True) is None
    uids = {run("import os\n\ndef handler(event, ctx):\n    return os.getuid()\n").result for _ in range(3)}
    assert len(uids) == 3


def test_an_unknown_isolation_setting_is_refused(settings: Any) -> None:
    from functions.pool import SandboxUnavailable

    settings.BAAS_FUNCTIONS_SANDBOX = "docker"
    with pytest.raises(SandboxUnavailable) as caught:
        run("def handler(event, ctx):\n    return 1\n")
    assert "auto, bwrap or process" in str(caught.value)


def test_prepare_fills_the_pool_before_the_first_run(settings: Any) -> None:
    from functions import pool
    from functions.sandbox import sandbox_prepare

    settings.BAAS_FUNCTIONS_POOL_SIZE = 2
    sandbox_prepare()
    prepared = pool.pool_get(allow_network=True)
    assert prepared is not None and prepared.wait_ready(30)
    warm_pids = {runtime.pid for runtime in prepared.ready}
    assert len(warm_pids) == 2
    result = run("import os\n\ndef handler(event, ctx):\n    return os.getuid()\n")
    # The run used one of the prepared processes: its uid is the base plus that pid.
    assert result.result - 1_000_000_000 in warm_pids
