"""What user code can see and reach: environment, files, privileges, network."""

from __future__ import annotations

import glob
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from tests.conftest import ROOT
from tests.functions_sandbox.conftest import run

pytestmark = pytest.mark.django_db

PLATFORM_VARIABLES = {
    "DATABASE_URL": "postgres://platform:hunter2@db.internal/baas",
    "SECRET_KEY": "platform-secret-key-value",
    "REDIS_URL": "redis://:hunter2@redis.internal:6379/0",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
    "BAAS_S3_SECRET_ACCESS_KEY": "s3-secret-value",
    "BAAS_SOMETHING": "platform-only",
}

PROBE = """
import importlib.util, os, sys

def attempt(path):
    try:
        with open(path, "rb") as handle:
            return "read:" + str(len(handle.read()))
    except OSError as exc:
        return type(exc).__name__

def listing(path):
    try:
        return "listed:" + str(len(os.listdir(path)))
    except OSError as exc:
        return type(exc).__name__

def handler(event, ctx):
    paths = event.data
    return {
        "environ": dict(os.environ),
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "django": importlib.util.find_spec("django") is not None,
        "baas": importlib.util.find_spec("baas") is not None,
        "modules": sorted(name for name in sys.modules if name.split(".")[0] in ("django", "baas", "projects")),
        "secret_key_file": attempt(paths["secret_key_file"]),
        "database": attempt(paths["database"]) if paths["database"] else None,
        "data_dir": listing(paths["data_dir"]),
        "checkout_file": attempt(paths["checkout_file"]),
        "shadow": attempt("/etc/shadow"),
        "own_code_write": attempt_write("main.py"),
        "work_write": write_and_read(),
        "cwd": os.getcwd(),
        "proc_pids": len([name for name in os.listdir("/proc") if name.isdigit()]),
    }

def attempt_write(name):
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    try:
        with open(target, "a") as handle:
            handle.write("# changed")
        return "written"
    except OSError as exc:
        return type(exc).__name__

def write_and_read():
    with open("scratch.txt", "w") as handle:
        handle.write("scratch")
    with open(os.path.join(os.environ["TMPDIR"], "scratch.txt")) as handle:
        return handle.read()
"""


def _paths() -> dict[str, Any]:
    database = django_settings.DATABASES["default"]
    return {
        "secret_key_file": str(Path(django_settings.DATA_DIR) / "secret_key"),
        "database": database["NAME"] if database["ENGINE"].endswith("sqlite3") else None,
        "data_dir": str(django_settings.DATA_DIR),
        "checkout_file": str(ROOT / "pyproject.toml"),
    }


@pytest.fixture
def platform_environment(monkeypatch: Any) -> dict[str, str]:
    """The platform's own secrets in os.environ, set before any sandbox process starts."""
    for name, value in PLATFORM_VARIABLES.items():
        monkeypatch.setenv(name, value)
    return PLATFORM_VARIABLES


def test_user_code_sees_only_its_own_environment_and_no_platform_files(
    isolation: str, platform_environment: dict[str, str]
) -> None:
    assert (Path(django_settings.DATA_DIR) / "secret_key").exists() or os.environ.get("SECRET_KEY")
    result = run(PROBE, event={"data": _paths()}, env={"STRIPE_KEY": "sk_test_1", "MODE": "live"})
    assert result.status == "succeeded", result.error
    seen = result.result
    environ = seen["environ"]
    assert set(environ) == {"PATH", "HOME", "TMPDIR", "LANG", "STRIPE_KEY", "MODE"}
    assert environ["STRIPE_KEY"] == "sk_test_1" and environ["MODE"] == "live"
    assert environ["HOME"] == environ["TMPDIR"] == seen["cwd"]
    dumped = json.dumps(result.result) + result.stdout + result.stderr
    for value in [*platform_environment.values(), django_settings.SECRET_KEY]:
        assert value not in dumped
    # The platform's packages are not importable, and none was imported.
    assert seen["django"] is False and seen["baas"] is False and seen["modules"] == []
    # Unprivileged: a uid and group of its own, no supplementary groups.
    assert seen["uid"] == seen["euid"] >= 1_000_000_000
    assert seen["gid"] == seen["uid"] and seen["groups"] == []
    assert seen["shadow"] in ("PermissionError", "FileNotFoundError")
    # The platform's data dir (SQLite database, generated SECRET_KEY) is out of reach.
    assert seen["secret_key_file"] in ("PermissionError", "FileNotFoundError")
    assert seen["data_dir"] in ("PermissionError", "FileNotFoundError")
    if seen["database"] is not None:
        assert seen["database"] in ("PermissionError", "FileNotFoundError")
    # Its code is read-only; its temp dir is its own.
    assert seen["own_code_write"] in ("PermissionError", "OSError")
    assert seen["work_write"] == "scratch"
    if isolation == "bwrap":
        # Outside the sandbox's root nothing exists: not the data dir, not the checkout.
        assert seen["secret_key_file"] == "FileNotFoundError"
        assert seen["data_dir"] == "FileNotFoundError"
        assert seen["checkout_file"] == "FileNotFoundError"
        if seen["database"] is not None:
            assert seen["database"] == "FileNotFoundError"
        assert seen["cwd"] == "/tmp"
        assert seen["proc_pids"] <= 3  # its own PID namespace: bwrap's init, the runtime, nothing else
    else:
        # Without namespaces, files readable by any user stay readable (docs/functions-sandbox.md).
        assert seen["checkout_file"].startswith("read:")
        assert seen["secret_key_file"] == "PermissionError"


def test_the_sqlite_database_is_invisible_under_bwrap(settings: Any) -> None:
    settings.BAAS_FUNCTIONS_SANDBOX = "bwrap"
    database = Path(django_settings.DATA_DIR) / "db.sqlite3"
    names = [str(database), str(database.parent), "/proc/1/root" + str(database)]
    result = run(
        """
        import os

        def handler(event, ctx):
            return {path: os.path.exists(path) for path in event.data}
        """,
        event={"data": names},
    )
    assert result.status == "succeeded", result.error
    assert result.result == {name: False for name in names}


def test_the_temp_dir_is_deleted_after_the_run(isolation: str, settings: Any) -> None:
    settings.BAAS_FUNCTIONS_POOL_SIZE = 0
    before = set(glob.glob("/tmp/baas-fn-*"))
    result = run(
        """
        import os

        def handler(event, ctx):
            with open("big.bin", "wb") as handle:
                handle.write(b"x" * 100000)
            os.mkdir("private")
            os.chmod("private", 0)
            return os.listdir(".")
        """
    )
    assert result.status == "succeeded", result.error
    assert sorted(result.result) == ["big.bin", "private"]
    from functions.pool import sweep_wait

    assert sweep_wait(10)  # deleted off the caller's path, at once
    assert set(glob.glob("/tmp/baas-fn-*")) - before == set()


def test_a_file_past_the_size_limit_fails_the_write(settings: Any) -> None:
    settings.BAAS_FUNCTIONS_FILE_SIZE_LIMIT = 1024 * 1024
    result = run(
        """
        def handler(event, ctx):
            with open("big.bin", "wb") as handle:
                handle.write(b"x" * (2 * 1024 * 1024))
        """
    )
    assert result.status == "failed"
    assert result.error["type"] == "OSError"
    assert "File too large" in result.error["message"]


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A loopback TCP server that answers every connection with b"pong"."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"pong")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


NETWORK_PROBE = """
import socket, subprocess, sys

CHILD = (
    "import socket, sys\\n"
    "try:\\n"
    "    print(socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3).recv(4).decode())\\n"
    "except OSError as exc:\\n"
    "    print(type(exc).__name__)\\n"
)

def handler(event, ctx):
    port = event.data
    try:
        direct = socket.create_connection(("127.0.0.1", port), timeout=3).recv(4).decode()
    except OSError as exc:
        direct = type(exc).__name__
    # A child program is not bound by anything the runtime does inside Python.
    child = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, str(port)], capture_output=True, text=True, timeout=10)
    return {"direct": direct, "child": child.stdout.strip() or child.stderr.strip()}
"""


def test_outbound_network_is_allowed_by_default(isolation: str, tcp_server: int) -> None:
    result = run(NETWORK_PROBE, event={"data": tcp_server})
    assert result.status == "succeeded", result.error
    assert result.result == {"direct": "pong", "child": "pong"}


def test_the_operator_can_deny_the_network(isolation: str, settings: Any, tcp_server: int) -> None:
    settings.BAAS_FUNCTIONS_ALLOW_NETWORK = False
    result = run(NETWORK_PROBE, event={"data": tcp_server})
    assert result.status == "succeeded", result.error
    # In its own network namespace the loopback is down: nothing connects, child or not.
    assert result.result["direct"] in ("PermissionError", "OSError", "ConnectionRefusedError")
    assert result.result["child"] in ("OSError", "ConnectionRefusedError")


def test_a_caller_cannot_turn_the_network_back_on(settings: Any, tcp_server: int) -> None:
    from functions.sandbox import Limits

    settings.BAAS_FUNCTIONS_ALLOW_NETWORK = False
    result = run(NETWORK_PROBE, event={"data": tcp_server}, limits=Limits(allow_network=True))
    assert result.status == "succeeded", result.error
    assert result.result["direct"] != "pong" and result.result["child"] != "pong"


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _runtime_pids() -> list[int]:
    """Host pids of this test process's sandbox runtimes (under a sandbox uid, running
    the runtime, descended from us: other processes on the machine run sandboxes too)."""
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid < 1_000_000_000 or b"baas_runtime.py" not in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                continue
            ancestor = int(entry.name)
            while ancestor > 1 and ancestor != os.getpid():
                ancestor = _parent_of(ancestor)
        except (OSError, ValueError, IndexError):
            continue
        if ancestor == os.getpid():
            pids.append(int(entry.name))
    return pids


def test_sandboxes_cannot_touch_each_other(isolation: str, settings: Any) -> None:
    """Two sandboxes alive at once: neither can signal the other or look into its /proc."""
    settings.BAAS_FUNCTIONS_POOL_SIZE = 0
    outcome: dict[str, Any] = {}
    holder_code = """
    import os, time

    def handler(event, ctx):
        deadline = time.time() + 20
        while time.time() < deadline and not os.path.exists("release"):
            time.sleep(0.02)
        return "held"
    """
    thread = threading.Thread(target=lambda: outcome.update(holder=run(holder_code, env={"HOLDER_SECRET": "s3cr3t"})))
    thread.start()
    deadline = time.monotonic() + 15
    holders: list[int] = []
    while time.monotonic() < deadline and not holders:
        holders = _runtime_pids()
        time.sleep(0.05)
    assert len(holders) == 1
    prober = run(
        """
        import os, signal

        def handler(event, ctx):
            pid = event.data
            answers = {}
            try:
                os.kill(pid, signal.SIGKILL)
                answers["kill"] = "sent"
            except OSError as exc:
                answers["kill"] = type(exc).__name__
            for name in ("environ", "mem", "cwd/release"):
                try:
                    open(f"/proc/{pid}/{name}", "rb").read(16)
                    answers[name] = "read"
                except OSError as exc:
                    answers[name] = type(exc).__name__
            return answers
        """,
        event={"data": holders[0]},
    )
    holder_uid = os.stat(f"/proc/{holders[0]}").st_uid
    released = [Path(path, "release") for path in glob.glob("/tmp/baas-fn-*/work") if os.stat(path).st_uid == holder_uid]
    assert len(released) == 1  # the holder's temp dir, owned by its uid
    released[0].touch()
    thread.join(30)
    assert prober.status == "succeeded", prober.error
    if isolation == "bwrap":
        # Its own PID namespace: the other sandbox's pid names nothing.
        assert prober.result == {"kill": "ProcessLookupError", "environ": "FileNotFoundError", "mem": "FileNotFoundError",
                                 "cwd/release": "FileNotFoundError"}
    else:
        # Another uid: no signals, no /proc entries beyond the public ones.
        assert prober.result == {"kill": "PermissionError", "environ": "PermissionError", "mem": "PermissionError",
                                 "cwd/release": "PermissionError"}
    assert outcome["holder"].status == "succeeded" and outcome["holder"].result == "held"


CONTAINED_PLATFORM = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "baas.settings"
import django
django.setup()
from functions import pool
from functions.sandbox import Limits, sandbox_run
from tests.functions_sandbox.test_isolation import NETWORK_PROBE
from tests.functions_sandbox.conftest import source
result = sandbox_run(files=source(NETWORK_PROBE), entrypoint="main:handler", event={"data": int(sys.argv[1])}, env={},
                     context={}, limits=Limits(timeout_seconds=20), bridge=None)
print(json.dumps({"mode": pool.sandbox_mode(), "status": result.status, "result": result.result, "error": result.error}))
"""


def test_without_namespaces_a_denied_network_keeps_only_the_python_guard(tcp_server: int) -> None:
    """A root platform without CAP_SYS_ADMIN (a container's default): bubblewrap cannot
    start, the network namespace cannot be left; Python sockets are refused, a child
    program is not (the documented limit of process mode)."""
    env = {**os.environ, "BAAS_FUNCTIONS_SANDBOX": "auto", "BAAS_FUNCTIONS_ALLOW_NETWORK": "0", "BAAS_FUNCTIONS_POOL_SIZE": "0"}
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", sys.executable, "-c", CONTAINED_PLATFORM, str(tcp_server)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["mode"] == "process"
    assert outcome["status"] == "succeeded", outcome["error"]
    assert outcome["result"] == {"direct": "PermissionError", "child": "pong"}
    assert "functions run without bubblewrap" in done.stderr
    assert "only a Python-level guard stops them" in done.stderr
