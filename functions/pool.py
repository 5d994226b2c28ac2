"""Runtime processes for function sandboxes: how one is started, and the warm pool.

A runtime process is a Python interpreter already running ``functions/runtime/baas_runtime.py``
with the SDK loaded and privileges dropped, waiting on its control socket for the one job
it will ever run. ``runtime_take`` hands out a warm one when the pool has it (a few
milliseconds to the first line of user code) and starts one otherwise; background
threads keep each pool topped up to ``BAAS_FUNCTIONS_POOL_SIZE``.

Pools belong to one OS process: a fork gets empty pools of its own (the warm processes
and their sockets stay with the parent), and a pool starts only when first used.

Isolation (see docs/functions-sandbox.md for the threat model):

- ``bwrap``: bubblewrap gives the process its own mount, PID, IPC and UTS namespaces, a
  root made of read-only system folders, the Python installation, the runtime, the
  function's code (read-only) and its temp dir; with the network denied, its own empty
  network namespace too.
- ``process``: the same process without namespaces; as root it runs under a uid of its
  own (so files the platform keeps private stay unreadable, and it cannot signal or
  inspect other sandboxes), and with the network denied it leaves the network namespace
  when it can.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings

from functions.runtime import RUNTIME_DIR, RUNTIME_SCRIPT
from functions.runtime.baas_functions import _wire

logger = logging.getLogger("baas.functions.sandbox")

Mode = Literal["bwrap", "process"]
BWRAP = "/usr/bin/bwrap"
# Sandbox uids are this plus the pid of the process started: unique among live sandboxes.
SANDBOX_UID_BASE = 1_000_000_000
NOBODY = 65534
START_TIMEOUT_SECONDS = 15.0
FOLDER_PREFIX = "baas-fn-"
# A warm job takes a few milliseconds: starting its replacement right away would slow it down.
REFILL_PAUSE_SECONDS = 0.02
REFILL_THREADS = 2
# Inside a bwrap sandbox everything sits at fixed paths, whatever the host's layout.
SANDBOX_RUNTIME_DIR = "/sandbox/runtime"
SANDBOX_CODE_DIR = "/sandbox/code"
SANDBOX_WORK_DIR = "/tmp"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/localtime",
    "/etc/ld.so.cache", "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/alternatives", "/etc/mime.types",
)


class SandboxUnavailable(RuntimeError):
    """No sandbox process could be started (misconfiguration, bwrap forced but broken)."""


# --- how to start one -----------------------------------------------------------------------


def base_python() -> str:
    """The platform's base interpreter, outside any virtualenv: none of the platform's
    packages are importable from it (the runtime also starts it without site-packages)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


_python_cache: dict[Mode, str] = {}


def python_executable(mode: Mode | None = None) -> str:
    """The interpreter user code runs on: BAAS_FUNCTIONS_PYTHON, else the base interpreter,
    else (in process mode, when an unprivileged uid cannot read the base one, as with a
    Python under /root) the system's python3."""
    configured = getattr(settings, "BAAS_FUNCTIONS_PYTHON", "")
    if configured:
        return str(configured)
    return _python_cache.get(mode or sandbox_mode(), base_python())


# What the runtime needs from the standard library after it has dropped privileges.
PROBE_IMPORTS = "import json, traceback, subprocess, socket, importlib, base64"


def _python_for_unprivileged() -> str:
    """The first interpreter whose standard library an unprivileged uid can import."""
    candidates = [base_python()]
    for name in ("python3",):
        found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
        if found and os.path.realpath(found) not in candidates:
            candidates.append(os.path.realpath(found))
    problems = []
    for candidate in candidates:
        try:
            done = subprocess.run(
                [candidate, "-I", "-S", "-c", PROBE_IMPORTS], user=NOBODY, group=NOBODY, extra_groups=[],
                capture_output=True, timeout=20, env=base_environ("/"), cwd="/",
            )
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"{candidate}: {exc}")
            continue
        if done.returncode == 0:
            return candidate
        problems.append(f"{candidate}: {done.stderr.decode('utf-8', 'replace').strip().splitlines()[-1:]}")
    raise SandboxUnavailable(
        "no Python interpreter is readable by an unprivileged uid (set BAAS_FUNCTIONS_PYTHON): " + "; ".join(problems)
    )


def is_root() -> bool:
    return os.geteuid() == 0


def _uid_mapped(uid: int) -> bool:
    """Whether ``uid`` exists in this user namespace (containers may map only a range)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return True
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and int(parts[0]) <= uid < int(parts[0]) + int(parts[2]):
            return True
    return False


def sandbox_uid(pid: int) -> int:
    """A uid no other live sandbox has: processes under one uid could signal each other
    and read each other's /proc entries (environment variables included)."""
    uid = SANDBOX_UID_BASE + pid
    return uid if _uid_mapped(uid) else NOBODY


def _bind_sources() -> list[str]:
    """The Python installation, when it lives outside the system folders."""
    sources: list[str] = []
    executable = getattr(settings, "BAAS_FUNCTIONS_PYTHON", "") or base_python()
    for path in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(executable))):
        real = os.path.realpath(path)
        if real == "/" or any(real == d or real.startswith(d + "/") for d in SYSTEM_DIRS) or real in sources:
            continue
        sources.append(real)
    return sources


def bwrap_command(*, code_dir: Path, work_dir: Path, allow_network: bool) -> list[str]:
    command = [
        BWRAP,
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        "--hostname", "sandbox",
    ]
    if not allow_network:
        command.append("--unshare-net")
    if not is_root():
        command.append("--unshare-user")  # an unprivileged bwrap needs a user namespace
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            command += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            command += ["--ro-bind", directory, directory]
    for path in ETC_FILES:
        command += ["--ro-bind-try", path, path]
    sources = _bind_sources()
    # bwrap would give the folders it creates on the way the modes of the host's (/root: 0700).
    made: set[str] = set()
    for destination in [*sources, SANDBOX_RUNTIME_DIR, SANDBOX_CODE_DIR]:
        for parent in reversed(Path(destination).parents):
            if str(parent) != "/" and str(parent) not in made:
                made.add(str(parent))
                command += ["--perms", "0755", "--dir", str(parent)]
    for source in sources:
        command += ["--ro-bind", source, source]
    command += [
        "--ro-bind", str(RUNTIME_DIR), SANDBOX_RUNTIME_DIR,
        "--ro-bind", str(code_dir), SANDBOX_CODE_DIR,
        "--bind", str(work_dir), SANDBOX_WORK_DIR,
        "--proc", "/proc",
        "--dev", "/dev",
        "--chdir", SANDBOX_WORK_DIR,
        "--",
    ]
    return command


def base_environ(work_dir: str) -> dict[str, str]:
    """All a sandbox process inherits: nothing of the platform's own environment."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work_dir, "TMPDIR": work_dir, "LANG": "C.UTF-8"}


@dataclass
class RuntimeProcess:
    """One started sandbox process and the host folders it owns."""

    mode: Mode
    allow_network: bool
    process: subprocess.Popen[bytes]
    sock: socket.socket
    reader: _wire.Reader
    base_dir: Path
    code_dir: Path  # host path; the process sees it at ``inside_code_dir``
    inside_code_dir: str
    inside_work_dir: str
    stdout: IO[bytes]
    stderr: IO[bytes]
    uid: int | None
    gid: int | None
    closed: bool = False
    killed: bool = False
    finished: bool = False  # it answered its job (and cleared up what it started)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, *, finished: bool = False) -> None:
        """Kill everything the function started, then the process group, and reap.

        ``finished``: the runtime answered and is exiting, having killed whatever the
        function started itself (kill(-1) under its own uid or PID namespace), so it is
        waited for first. Then every process under the sandbox's own uid goes,
        whatever session it made for itself; bubblewrap then sees its command die, reaps
        it and exits, so nothing is left as a zombie for the host's init."""
        if self.killed:
            return
        self.killed = True
        if finished:
            try:
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                finished = False
        # In process mode the runtime's own clean-up ran after user code, which could have
        # disarmed it: the uid sweep is ours. Under bwrap, its PID namespace died with it.
        if (self.mode == "process" or not finished) and self.uid is not None and self.uid != NOBODY and is_root():
            _kill_uid(self.uid)
            try:
                self.process.wait(1)
            except subprocess.TimeoutExpired:
                pass
        for target in (lambda: os.killpg(self.process.pid, signal.SIGKILL), lambda: self.process.kill()):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            logger.error("sandbox process %s did not die after SIGKILL", self.process.pid)

    def close(self) -> None:
        """Kill, reap and delete everything: the process is used once."""
        if self.closed:
            return
        self.closed = True
        self.kill(finished=self.finished)
        for handle in (self.sock, self.stdout, self.stderr):
            try:
                handle.close()
            except OSError:
                pass
        _sweeper.submit(lambda: _remove_tree(self.base_dir))

    def retire(self) -> None:
        """``close`` on the sweeper's thread: for a process that has answered, whose
        output is complete, so nothing the caller needs waits for it."""
        self.finished = True
        _sweeper.submit(self.close)

    def forget(self) -> None:
        """Close this side's handles without touching the process (a forked child's copy
        of the parent's pool: the process belongs to the parent)."""
        self.closed = True
        for handle in (self.sock, self.stdout, self.stderr):
            try:
                handle.close()
            except OSError:
                pass


def _kill_uid(uid: int) -> None:
    try:
        entries = os.scandir("/proc")
    except OSError:
        return
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat(follow_symlinks=False).st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                continue


def _remove_tree(path: Path) -> None:
    def unlock(function: Any, target: str, _exc: Any) -> None:
        # A function may leave folders it made unreadable; it cannot stop its owner.
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            function(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=unlock)


class _Sweeper:
    """Finishes off used sandboxes on a thread of its own: waiting for bubblewrap to tear
    its namespaces down, and deleting folders on a journaling disk (a millisecond an
    unlink), take longer than a warm call should."""

    def __init__(self) -> None:
        self.queue: collections.deque[Callable[[], None]] = collections.deque()
        self.condition = threading.Condition()
        self.busy = False
        self.thread: threading.Thread | None = None

    def submit(self, task: Callable[[], None]) -> None:
        with self.condition:
            self.queue.append(task)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="functions-sweeper", daemon=True)
                self.thread.start()
            self.condition.notify_all()

    def _run(self) -> None:
        while True:
            with self.condition:
                while not self.queue:
                    self.busy = False
                    self.condition.notify_all()
                    self.condition.wait()
                task = self.queue.popleft()
                self.busy = True
            try:
                task()
            except Exception:
                logger.exception("could not clean up after a sandbox")

    def wait(self, timeout: float) -> bool:
        """True once everything handed over so far is done."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while self.queue or self.busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.condition.wait(remaining)
            return True

    def drain(self) -> None:
        """At exit: do what is left from this thread."""
        with self.condition:
            pending, self.queue = list(self.queue), collections.deque()
        for task in pending:
            try:
                task()
            except Exception:
                logger.exception("could not clean up after a sandbox")


_sweeper = _Sweeper()


def sweep_wait(timeout: float = 10.0) -> bool:
    """Wait until used sandboxes are reaped and their folders deleted (tests, benchmarks)."""
    return _sweeper.wait(timeout)


def stale_folders_remove() -> int:
    """Delete sandbox folders whose owning process is gone (a worker killed before it
    could clean up); answers how many were handed to the sweeper."""
    removed = 0
    root = Path(tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{FOLDER_PREFIX}*-*"))
    except OSError:
        return 0
    for entry in entries:
        owner = entry.name[len(FOLDER_PREFIX):].split("-", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
            continue  # alive (or a pid reused since, left alone just in case)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        _sweeper.submit(lambda path=entry: _remove_tree(path))
        removed += 1
    return removed


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def runtime_start(*, mode: Mode, allow_network: bool) -> RuntimeProcess:
    """Start one sandbox process and wait until it is ready for its job."""
    # The owner's pid in the name lets a later process remove what a killed one left.
    base_dir = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    try:
        os.chmod(base_dir, 0o711)  # the sandbox's uid may pass through, not list
        code_dir, work_dir = base_dir / "code", base_dir / "work"
        code_dir.mkdir(mode=0o755)
        work_dir.mkdir(mode=0o700)
        # Private to the platform: another sandbox must not read this one's output.
        stdout = open(base_dir / "stdout", "w+b", opener=_private)  # noqa: SIM115 - open for the process's life
        stderr = open(base_dir / "stderr", "w+b", opener=_private)  # noqa: SIM115
    except BaseException:
        _remove_tree(base_dir)
        raise
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    limit = settings.BAAS_FUNCTIONS_MESSAGE_LIMIT
    if mode == "bwrap":
        inside_code, inside_work, script = SANDBOX_CODE_DIR, SANDBOX_WORK_DIR, f"{SANDBOX_RUNTIME_DIR}/{RUNTIME_SCRIPT.name}"
        prefix = bwrap_command(code_dir=code_dir, work_dir=work_dir, allow_network=allow_network)
    else:
        inside_code, inside_work, script = str(code_dir), str(work_dir), str(RUNTIME_SCRIPT)
        prefix = []
    command = prefix + [python_executable(mode), "-I", "-S", "-B", "-u", "-X", "utf8", script, str(child_sock.fileno()), str(limit)]
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            pass_fds=(child_sock.fileno(),),
            env=base_environ(inside_work),
            cwd=str(work_dir),
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        for handle in (parent_sock, child_sock, stdout, stderr):
            handle.close()
        _remove_tree(base_dir)
        raise
    finally:
        child_sock.close()
    uid = gid = None
    if is_root():
        uid = gid = sandbox_uid(process.pid)
    runtime = RuntimeProcess(
        mode=mode, allow_network=allow_network, process=process, sock=parent_sock,
        reader=_wire.Reader(parent_sock, limit), base_dir=base_dir, code_dir=code_dir,
        inside_code_dir=inside_code, inside_work_dir=inside_work, stdout=stdout, stderr=stderr, uid=uid, gid=gid,
    )
    try:
        _wire.send(parent_sock, {
            "type": "init",
            "uid": uid,
            "gid": gid,
            "workDir": inside_work,
            "codeDir": inside_code,
            "parentPid": os.getpid(),
            # bwrap's --die-with-parent covers its sandbox; a plain process arms its own.
            "parentDeathSignal": mode == "process",
            "unshareNetwork": mode == "process" and not allow_network and is_root(),
            # kill(-1) is safe where it cannot reach the platform: a uid of its own, or bwrap's PID namespace.
            "killAllOnExit": mode == "bwrap" or (uid is not None and uid != NOBODY),
        }, limit)
        ready = runtime.reader.read(time.monotonic() + START_TIMEOUT_SECONDS)
        if not ready or ready.get("type") != "ready":
            raise SandboxUnavailable(f"the sandbox process did not start: {_startup_output(runtime)}")
        if ready.get("networkNamespace"):
            _warn_once(f"functions denied the network keep the host's network namespace ({ready['networkNamespace']}): "
                       "only a Python-level guard stops them; use bubblewrap")
    except (OSError, TimeoutError, _wire.WireError) as exc:
        output = _startup_output(runtime)
        runtime.close()
        raise SandboxUnavailable(f"the sandbox process did not start ({type(exc).__name__}): {output}") from None
    except BaseException:
        runtime.close()
        raise
    return runtime


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def _startup_output(runtime: RuntimeProcess) -> str:
    try:
        runtime.stderr.seek(0)
        return runtime.stderr.read(4000).decode("utf-8", "replace").strip() or "no output"
    except OSError:
        return "no output"


# --- which isolation ------------------------------------------------------------------------

_mode_lock = threading.Lock()
_mode_cache: dict[str, Mode] = {}


def sandbox_mode() -> Mode:
    """The isolation in use, decided once per process: ``BAAS_FUNCTIONS_SANDBOX`` is
    ``bwrap`` (required), ``process``, or ``auto`` (bwrap when it works here)."""
    wanted = settings.BAAS_FUNCTIONS_SANDBOX
    with _mode_lock:
        if wanted in _mode_cache:
            return _mode_cache[wanted]
        if wanted not in ("auto", "bwrap", "process"):
            raise SandboxUnavailable(f"BAAS_FUNCTIONS_SANDBOX is auto, bwrap or process, not {wanted!r}")
        mode: Mode = "process"
        if wanted in ("auto", "bwrap"):
            problem = _bwrap_problem()
            if problem is None:
                mode = "bwrap"
            elif wanted == "bwrap":
                raise SandboxUnavailable(f"BAAS_FUNCTIONS_SANDBOX=bwrap but bubblewrap does not work here: {problem}")
            else:
                logger.warning("functions run without bubblewrap (process isolation only): %s", problem)
        if mode == "process":
            if is_root() and not getattr(settings, "BAAS_FUNCTIONS_PYTHON", ""):
                python = _python_for_unprivileged()
                if python != base_python():
                    logger.warning("functions run on %s: an unprivileged uid cannot read %s", python, base_python())
                _python_cache[mode] = python
            _warn_if_exposed()
        _mode_cache[wanted] = mode
        return mode


def _bwrap_problem() -> str | None:
    """None when bwrap can start the runtime's interpreter here; else why not."""
    if not os.path.exists(BWRAP):
        return f"{BWRAP} is not installed (Debian package bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="baas-fn-probe-") as probe:
        code, work = Path(probe) / "code", Path(probe) / "work"
        code.mkdir()
        work.mkdir()
        # As the runtime will: drop to another uid first, then import from the stdlib.
        drop = "import os; os.setgroups([]); os.setgid(65534); os.setuid(65534); " if is_root() else ""
        command = bwrap_command(code_dir=code, work_dir=work, allow_network=False) + [
            base_python(), "-I", "-S", "-c", drop + PROBE_IMPORTS,
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=20, env=base_environ(SANDBOX_WORK_DIR))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        return done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
    return None


def _warn_if_exposed() -> None:
    """In process mode a function reads whatever its uid can: say so when the platform's
    data folders are open to other users."""
    candidates = {Path(settings.DATA_DIR)}
    storage_dir = getattr(settings, "BAAS_STORAGE_LOCAL_DIR", None)
    if storage_dir:
        candidates.add(Path(storage_dir))
    if not is_root():
        logger.warning("functions run under the platform's own uid (not started as root): they can read its files")
        return
    for path in sorted(candidates):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if mode & 0o005:
            logger.warning("%s is readable by other users, functions included in process mode: chmod o-rwx it", path)


def mode_reset() -> None:
    """Forget the decided mode (tests switch settings)."""
    with _mode_lock:
        _mode_cache.clear()
        _python_cache.clear()


# --- the warm pool --------------------------------------------------------------------------


class Pool:
    """Warm runtime processes of one kind (mode, network), topped up by up to two threads.

    The refill threads live as long as the pool: bwrap's --die-with-parent and the
    parent-death signal fire when the *thread* that started a process exits.
    """

    def __init__(self, *, mode: Mode, allow_network: bool, size: int) -> None:
        self.mode, self.allow_network, self.size = mode, allow_network, size
        self.ready: collections.deque[RuntimeProcess] = collections.deque()
        self.starting = 0
        self.condition = threading.Condition()
        self.failures = 0
        self.stopped = False
        self.last_take = 0.0
        self.waiting = 0  # callers waiting for a process being started
        # Two starters when the pool holds two or more: back-to-back calls drain it faster
        # than one interpreter start at a time refills it, and the machine has cores to spare.
        self.threads = [
            threading.Thread(target=self._refill, name=f"functions-pool-{mode}-{n}", daemon=True)
            for n in range(min(size, REFILL_THREADS))
        ]
        for thread in self.threads:
            thread.start()

    def take(self) -> RuntimeProcess | None:
        """A warm process; None when none is ready and none is starting for this caller.

        A process already being started that no other caller waits for is waited for
        rather than started again beside it: on a busy machine two interpreters starting
        at once each take about twice as long."""
        with self.condition:
            self.last_take = time.monotonic()
            claimed = False
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            try:
                while True:
                    while self.ready:
                        runtime = self.ready.popleft()
                        self.condition.notify_all()
                        if runtime.alive():
                            return runtime
                        runtime.close()
                    if not claimed:
                        if self.starting <= self.waiting:
                            self.condition.notify_all()
                            return None
                        claimed = True
                        self.waiting += 1
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self.stopped or self.starting == 0:
                        return None
                    self.condition.wait(remaining)
            finally:
                if claimed:
                    self.waiting -= 1

    def wait_ready(self, timeout: float) -> bool:
        """Block until the pool is full (benchmarks and tests)."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.ready) < self.size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.condition.wait(remaining)
            return True

    def _refill(self) -> None:
        while True:
            with self.condition:
                while not self.stopped and len(self.ready) + self.starting >= self.size:
                    self.condition.wait()
                if self.stopped:
                    return
                self.starting += 1
                # Let the job that just took a process run before competing for a core.
                pause = self.last_take + REFILL_PAUSE_SECONDS - time.monotonic()
                if pause > 0:
                    self.condition.wait(pause)
                if self.stopped:
                    self.starting -= 1
                    self.condition.notify_all()
                    return
            try:
                runtime = runtime_start(mode=self.mode, allow_network=self.allow_network)
            except Exception:
                logger.exception("could not start a warm sandbox process")
                runtime = None
            with self.condition:
                self.starting -= 1
                if runtime is not None:
                    self.failures = 0
                    if self.stopped:
                        runtime.close()
                    else:
                        self.ready.append(runtime)
                else:
                    self.failures += 1
                self.condition.notify_all()
                if runtime is None and not self.stopped:  # back off instead of spinning on a broken setup
                    self.condition.wait(min(30.0, 0.5 * 2 ** min(self.failures, 6)))

    def stop(self) -> None:
        """Kill the warm processes; a process being started is waited for and killed too,
        so nothing of this pool outlives the call."""
        with self.condition:
            self.stopped = True
            ready, self.ready = list(self.ready), collections.deque()
            self.condition.notify_all()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(START_TIMEOUT_SECONDS + 5)
        with self.condition:
            ready += list(self.ready)
            self.ready.clear()
        for runtime in ready:
            runtime.close()

    def forget(self) -> None:
        """After fork, in the child: drop the parent's processes without touching them."""
        for runtime in self.ready:
            runtime.forget()
        self.ready.clear()
        self.stopped = True


_pools: dict[tuple[Mode, bool], Pool] = {}
_pools_lock = threading.Lock()
_pools_pid = os.getpid()


def pool_get(*, allow_network: bool) -> Pool | None:
    """This process's pool for the mode in use; None when pooling is off (size 0)."""
    size = int(settings.BAAS_FUNCTIONS_POOL_SIZE)
    if size <= 0:
        return None
    mode = sandbox_mode()
    key = (mode, allow_network)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None or pool.stopped:
            if not _pools:
                stale_folders_remove()
            pool = _pools[key] = Pool(mode=mode, allow_network=allow_network, size=size)
        return pool


def runtime_take(*, allow_network: bool) -> tuple[RuntimeProcess, bool]:
    """A runtime process for one job and whether it was warm."""
    pool = pool_get(allow_network=allow_network)
    if pool is not None:
        runtime = pool.take()
        if runtime is not None:
            return runtime, True
    return runtime_start(mode=sandbox_mode(), allow_network=allow_network), False


def pools_stop() -> None:
    """Kill every warm process of this OS process (at exit; tests switching settings)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.stop()


def _after_fork_in_child() -> None:
    global _pools_lock, _mode_lock, _pools_pid, _sweeper
    _sweeper = _Sweeper()  # the parent's sweeper (and its folders) stay with the parent
    _pools_lock = threading.Lock()
    _mode_lock = threading.Lock()
    _pools_pid = os.getpid()
    for pool in list(_pools.values()):
        pool.forget()
    _pools.clear()


def _at_exit() -> None:
    if os.getpid() == _pools_pid:
        pools_stop()
        _sweeper.drain()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)
