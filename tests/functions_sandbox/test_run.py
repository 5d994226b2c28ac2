"""sandbox_run end to end: results, output, failures, limits, concurrency, the warm pool."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import pytest

from tests.functions_sandbox.conftest import processes_of_uid, run

pytestmark = pytest.mark.django_db


def test_a_trivial_handler_returns_its_result(isolation: str) -> None:
    result = run(
        """
        def handler(event, ctx):
            return {"echo": event.data, "id": event.id, "missing": event.before, "project": ctx.project_id,
                    "function": list(ctx.function), "execution": ctx.execution_id, "env": ctx.env}
        """,
        event={"id": "ev-1", "type": "call", "data": {"n": 41, "tags": ["a", "é"]}},
        env={"GREETING": "hi"},
    )
    assert result.status == "succeeded", result.error
    assert result.result == {
        "echo": {"n": 41, "tags": ["a", "é"]},
        "id": "ev-1",
        "missing": None,
        "project": "alpha-app",
        "function": ["handler", 1],
        "execution": "ex-1",
        "env": {"GREETING": "hi"},
    }
    assert result.error is None
    assert result.stdout == "" and result.stderr == ""
    assert result.duration_ms > 0
    assert result.memory_peak_kb > 1000  # an interpreter's resident size, in KiB


def test_prints_and_logs_are_captured(isolation: str) -> None:
    result = run(
        """
        import sys

        def handler(event, ctx):
            print("to stdout", 1)
            print("to stderr", file=sys.stderr)
            ctx.log("order placed", orderId="o1")
            ctx.log.error("card declined", code=402)
            return None
        """
    )
    assert result.status == "succeeded"
    assert result.result is None
    assert result.stdout == (
        "to stdout 1\n"
        '{"severity": "INFO", "message": "order placed", "orderId": "o1"}\n'
        '{"severity": "ERROR", "message": "card declined", "code": 402}\n'
    )
    assert result.stderr == "to stderr\n"


def test_output_is_truncated_with_a_marker(settings: Any) -> None:
    settings.BAAS_FUNCTIONS_LOG_LIMIT = 1000
    result = run(
        """
        import sys

        def handler(event, ctx):
            sys.stdout.write("x" * 5000)
            sys.stderr.write("a" + "é" * 600)  # 1201 bytes: the cut falls inside a character
            return "done"
        """
    )
    assert result.status == "succeeded"
    assert result.result == "done"
    assert result.stdout == "x" * 1000 + "\n[output truncated: 4000 more bytes]\n"
    assert result.stderr == "a" + "é" * 499 + "\n[output truncated: 201 more bytes]\n"


def test_an_exception_fails_with_its_message_and_traceback(isolation: str) -> None:
    result = run(
        """
        def check(order):
            if order["total"] < 0:
                raise ValueError(f"negative total {order['total']}")

        def handler(event, ctx):
            check(event.data)
        """,
        event={"data": {"total": -5}},
    )
    assert result.status == "failed"
    assert result.result is None
    assert result.error["type"] == "ValueError"
    assert result.error["message"] == "negative total -5"
    traceback = result.error["traceback"]
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert 'File "main.py", line 6, in handler' in traceback
    assert 'File "main.py", line 3, in check' in traceback
    assert traceback.rstrip().endswith("ValueError: negative total -5")
    # The function's own files only: no runtime frames, no host paths.
    assert "baas_runtime" not in traceback and "/sandbox/" not in traceback and "baas-fn-" not in traceback


def test_a_non_json_return_value_fails() -> None:
    result = run(
        """
        def handler(event, ctx):
            return {"when": {1, 2}}
        """
    )
    assert result.status == "failed"
    assert result.error["type"] == "TypeError"
    assert result.error["message"].startswith("The return value is not JSON-serialisable:")
    assert "set" in result.error["message"]
    nan = run("def handler(event, ctx):\n    return float('nan')\n")
    assert nan.status == "failed"
    assert nan.error["type"] == "TypeError"


def test_a_missing_entrypoint_fails_like_an_exception() -> None:
    result = run("def other(event, ctx):\n    return 1\n")
    assert result.status == "failed"
    assert result.error["type"] == "AttributeError"
    assert "handler" in result.error["message"]


def test_sleeping_past_the_timeout_is_killed_with_its_children(isolation: str, settings: Any) -> None:
    from functions.sandbox import Limits

    settings.BAAS_FUNCTIONS_POOL_SIZE = 0
    started = time.monotonic()
    result = run(
        """
        import os, subprocess, time

        def handler(event, ctx):
            child = subprocess.Popen(["sleep", "60"], start_new_session=True)
            print(os.getuid(), child.pid, flush=True)
            time.sleep(60)
        """,
        limits=Limits(timeout_seconds=1),
    )
    elapsed = time.monotonic() - started
    assert result.status == "timeout", (result.error, result.stderr)
    assert result.error["type"] == "TimeoutError"
    assert result.error["message"] == "The function did not finish within its timeout of 1 seconds."
    assert 1.0 <= elapsed < 5
    assert 1000 <= result.duration_ms < 5000
    uid = int(result.stdout.split()[0])
    # Running as root, every sandbox has a uid of its own: the base plus its host pid.
    assert uid >= 1_000_000_000
    sandbox_pid = uid - 1_000_000_000
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(sandbox_pid, 0)
    # The sleeping grandchild in its own session too (SIGKILL is delivered at once; the
    # kernel may take a moment to finish tearing a process down).
    deadline = time.monotonic() + 2
    while processes_of_uid(uid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_of_uid(uid) == []


def test_allocating_2_gb_fails_and_the_next_run_works(isolation: str) -> None:
    from functions.sandbox import Limits

    result = run(
        """
        def handler(event, ctx):
            blob = bytearray(2 * 1024 ** 3)
            return len(blob)
        """,
        limits=Limits(timeout_seconds=10, memory_mb=256),
    )
    assert result.status == "failed"
    assert result.error["type"] == "MemoryError"
    assert result.error["message"] == "The function ran out of memory (its memory limit)."
    assert result.memory_peak_kb < 256 * 1024
    again = run("def handler(event, ctx):\n    return sum(range(10))\n")
    assert again.status == "succeeded"
    assert again.result == 45


def test_growing_until_the_limit_still_reports_the_memory_error() -> None:
    from functions.sandbox import Limits

    result = run(
        """
        def handler(event, ctx):
            chunks = []
            while True:
                chunks.append(bytearray(1024 * 1024))
        """,
        limits=Limits(timeout_seconds=20, memory_mb=128),
    )
    assert result.status == "failed"
    assert result.error["type"] == "MemoryError"
    assert 'File "main.py", line 4, in handler' in result.error["traceback"]


def test_the_cpu_limit_stops_a_busy_loop() -> None:
    from functions.sandbox import Limits

    result = run(
        """
        def handler(event, ctx):
            while True:
                pass
        """,
        limits=Limits(timeout_seconds=20, cpu_seconds=1),
    )
    assert result.status == "failed"
    assert result.error["type"] == "ProcessExited"
    assert result.error["message"] == "The function used more than its CPU time limit of 1 seconds."
    assert result.duration_ms < 15000


def test_exiting_the_process_is_a_failure() -> None:
    result = run(
        """
        import os

        def handler(event, ctx):
            print("bye", flush=True)
            os._exit(3)
        """
    )
    assert result.status == "failed"
    assert result.error == {
        "type": "ProcessExited",
        "message": "The function's process exited with status 3 before returning.",
        "traceback": "",
    }
    assert result.stdout == "bye\n"


def test_sys_exit_is_reported_as_a_failure() -> None:
    result = run("import sys\n\ndef handler(event, ctx):\n    sys.exit(2)\n")
    assert result.status == "failed"
    assert result.error["type"] == "SystemExit"
    assert result.error["message"] == "SystemExit(2)"


def test_concurrent_runs_from_threads_do_not_mix(settings: Any) -> None:
    settings.BAAS_FUNCTIONS_POOL_SIZE = 2
    code = """
    import os, time

    def handler(event, ctx):
        time.sleep(event.data["sleep"])
        print("run", event.data["n"])
        return {"n": event.data["n"], "env": os.environ["RUN"], "pid": os.getpid(), "uid": os.getuid()}
    """
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            results[n] = run(code, event={"data": {"n": n, "sleep": (n % 3) * 0.05}}, env={"RUN": f"run-{n}"})
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == list(range(12))
    for n, result in results.items():
        assert result.status == "succeeded", result.error
        assert result.result["n"] == n
        assert result.result["env"] == f"run-{n}"
        assert result.stdout == f"run {n}\n"
    # One process per run: no two runs shared a sandbox uid.
    assert len({result.result["uid"] for result in results.values()}) == 12


def test_warm_runs_reuse_the_pool_and_are_faster_than_cold_starts(settings: Any) -> None:
    from functions import pool

    code = "def handler(event, ctx):\n    return event.data\n"

    def timed() -> float:
        started = time.perf_counter()
        result = run(code, event={"data": 7})
        assert result.status == "succeeded" and result.result == 7
        return (time.perf_counter() - started) * 1000

    settings.BAAS_FUNCTIONS_POOL_SIZE = 0
    cold = [timed() for _ in range(5)]
    settings.BAAS_FUNCTIONS_POOL_SIZE = 2
    warm_pool = pool.pool_get(allow_network=True)
    assert warm_pool is not None
    warm = []
    for _ in range(5):
        assert warm_pool.wait_ready(30)
        ready_before = len(warm_pool.ready)
        warm.append(timed())
        # The run took one of the warm processes (the refill starts another).
        assert len(warm_pool.ready) + warm_pool.starting <= ready_before + 1
    print(f"\nsandbox_run cold p50 {statistics.median(cold):.1f} ms, warm p50 {statistics.median(warm):.1f} ms")


def test_bad_files_and_entrypoints_are_refused_before_anything_runs() -> None:
    from functions.sandbox import Limits, sandbox_run

    def attempt(files: Any, entrypoint: str = "main:handler", env: Any = None) -> None:
        sandbox_run(files=files, entrypoint=entrypoint, event={}, env=env or {}, context={}, limits=Limits(), bridge=None)

    for files in ({"../main.py": "x"}, {"/etc/main.py": "x"}, {"a//b.py": "x"}, {"a/./b.py": "x"}, {}, {"main.py": b"x"}):
        with pytest.raises(ValueError):
            attempt(files)
    for entrypoint in ("main", "main:", ":handler", "main:handler:x", "../main:handler", "main:han dler"):
        with pytest.raises(ValueError):
            attempt({"main.py": "def handler(e, c): pass"}, entrypoint)
    for env in ({"A=B": "x"}, {"A": 1}, {"A": "x\0y"}):
        with pytest.raises(ValueError):
            attempt({"main.py": "def handler(e, c): pass"}, env=env)


def test_an_event_that_is_not_json_is_refused() -> None:
    import datetime

    with pytest.raises(ValueError) as caught:
        run("def handler(event, ctx):\n    return 1\n", event={"time": datetime.datetime.now()})
    assert "JSON" in str(caught.value)


def test_a_warm_process_that_died_while_waiting_is_replaced(settings: Any) -> None:
    import os
    import signal

    from functions import pool

    settings.BAAS_FUNCTIONS_POOL_SIZE = 1
    warm_pool = pool.pool_get(allow_network=True)
    assert warm_pool is not None and warm_pool.wait_ready(30)
    victim = warm_pool.ready[0]
    # Killed from outside (an operator, the OOM killer) while waiting, and gone for good.
    assert victim.uid is not None
    os.killpg(victim.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes_of_uid(victim.uid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_of_uid(victim.uid) == []
    result = run("def handler(event, ctx):\n    return 'fine'\n")
    assert result.status == "succeeded" and result.result == "fine", result


def test_user_code_breaking_the_control_channel_only_fails_itself() -> None:
    closed = run(
        """
        import os, socket

        def handler(event, ctx):
            for fd in range(3, 64):
                try:
                    if socket.socket(fileno=os.dup(fd)).family == socket.AF_UNIX:
                        os.close(fd)
                except OSError:
                    pass
            return "unreachable"
        """
    )
    assert closed.status == "failed"
    assert closed.error["type"] in ("ProcessExited", "ProtocolError")
    garbage = run(
        """
        import os, socket, struct

        def handler(event, ctx):
            for fd in range(3, 64):
                try:
                    probe = socket.socket(fileno=os.dup(fd))
                except OSError:
                    continue
                if probe.family == socket.AF_UNIX:
                    os.write(fd, struct.pack("!I", 2**31) + b"{")
            return "written"
        """
    )
    assert garbage.status == "failed"
    assert garbage.error["type"] == "ProtocolError"
    assert "exceeds the limit" in garbage.error["message"]
    after = run("def handler(event, ctx):\n    return 'still fine'\n")
    assert after.status == "succeeded" and after.result == "still fine"


def test_a_fork_bomb_hits_the_process_limit_and_leaves_nothing(isolation: str) -> None:
    from functions.pool import sweep_wait

    result = run(
        """
        import os, subprocess

        def handler(event, ctx):
            print(os.getuid(), flush=True)
            children = []
            for _ in range(500):
                children.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
            return len(children)
        """
    )
    assert result.status == "failed"
    assert result.error["type"] == "BlockingIOError"
    assert "Resource temporarily unavailable" in result.error["message"]
    uid = int(result.stdout.split()[0])
    assert sweep_wait(10)
    deadline = time.monotonic() + 2
    while processes_of_uid(uid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_of_uid(uid) == []


def test_open_files_are_limited() -> None:
    result = run(
        """
        def handler(event, ctx):
            handles = [open("/dev/null") for _ in range(1000)]
            return len(handles)
        """
    )
    assert result.status == "failed"
    assert result.error["type"] == "OSError"
    assert "Too many open files" in result.error["message"]
