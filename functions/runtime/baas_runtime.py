"""The program a sandbox process runs: ``python -I -S -B -u -X utf8 baas_runtime.py FD LIMIT``.

It starts with the standard library only (no site-packages, no PYTHON* variables), loads
the SDK, then talks to the platform over the socket ``FD`` (never stdin/stdout, which
capture the user's prints):

1. ``init``: drop privileges (a uid of its own when started as root), optionally leave
   the network, answer ``ready``. A warm process waits here, already loaded.
2. one ``job``: resource limits, the function's environment, then ``run`` (call the
   entrypoint with the event and a context) or ``discover`` (import the modules, list the
   decorated functions). Every ``ctx.db/storage/push`` call is a ``call`` message answered
   by a ``reply`` from the platform.
3. the ``result``, then exit: a process serves one job only.
"""

from __future__ import annotations

import os
import sys

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, RUNTIME_DIR)

import ctypes  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import mmap  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from types import TracebackType  # noqa: E402
from typing import Any  # noqa: E402

import baas_functions  # noqa: E402
from baas_functions import (  # noqa: E402
    ApiError,
    Context,
    Event,
    _wire,  # noqa: E402
)

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
FRAMEWORK_FILES = ("<frozen importlib", RUNTIME_DIR + os.sep, os.path.dirname(importlib.__file__) + os.sep)
# Address space freed before a MemoryError is reported (RLIMIT_AS is the memory limit), so
# the report itself has room to be written. An anonymous mapping that is never touched
# costs no page faults and no resident memory; a bytearray would zero 4 MiB per job.
RESERVE_BYTES = 4 * 1024 * 1024


class Channel:
    """The control socket: one request at a time, even if user code calls from threads."""

    def __init__(self, fd: int, limit: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.limit = limit
        self.reader = _wire.Reader(self.sock, limit)
        self.lock = threading.Lock()
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        _wire.send(self.sock, message, self.limit)

    def read(self) -> dict[str, Any]:
        try:
            message = self.reader.read()
        except OSError:
            message = None
        if message is None:  # the platform went away: nobody is waiting for a result
            os._exit(0)
        return message

    def call(self, op: str, args: dict[str, Any]) -> Any:
        """A platform call; raises ApiError with the platform's error."""
        with self.lock:
            self.next_id += 1
            request = {"type": "call", "id": self.next_id, "op": op, "args": args}
            try:
                data = _wire.encode(request, self.limit)
            except _wire.MessageTooLarge as exc:
                raise ApiError("payload_too_large", f"The call's arguments are {exc.size} bytes, over the limit of {exc.limit}.",
                               {"limitBytes": exc.limit}) from None
            except (TypeError, ValueError) as exc:
                raise TypeError(f"arguments of {op} must be JSON values: {exc}") from None
            self.sock.sendall(data)
            reply = self.read()
        if reply.get("ok"):
            return reply.get("result")
        error = reply.get("error") or {}
        raise ApiError(str(error.get("code", "internal")), str(error.get("message", "")), error.get("details") or {})


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if _libc().prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def setup(init: dict[str, Any]) -> dict[str, Any]:
    """Everything before user code: leave the network, drop privileges, settle in.
    Answers what the platform should know about how that went."""
    report: dict[str, Any] = {}
    if init.get("parentDeathSignal"):
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != init.get("parentPid"):
            os._exit(0)  # the platform died before the signal was armed
    if init.get("unshareNetwork"):
        # Needs CAP_SYS_ADMIN, which a container may withhold even from root: then only
        # the Python-level guard remains, and the platform says so.
        if _libc().unshare(CLONE_NEWNET) != 0:
            report["networkNamespace"] = f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    work_dir = init["workDir"]
    uid, gid = init.get("uid"), init.get("gid")
    if uid is not None and gid is not None:
        os.chown(work_dir, uid, gid)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # from root to another uid: every capability goes too
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # no setuid binary can give them back
    os.umask(0o077)
    os.chdir(work_dir)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past RLIMIT_FSIZE fails with EFBIG instead of killing
    code_dir = init["codeDir"]
    sys.path[:] = [code_dir, RUNTIME_DIR] + [entry for entry in sys.path if entry not in (code_dir, RUNTIME_DIR, "")]
    sys.dont_write_bytecode = True
    return report


def apply_limits(limits: dict[str, Any]) -> None:
    def limit(kind: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(kind, (soft, soft if hard is None else hard))

    limit(resource.RLIMIT_CORE, 0)
    if limits.get("memoryBytes"):
        limit(resource.RLIMIT_AS, int(limits["memoryBytes"]))
    if limits.get("cpuSeconds"):
        cpu = int(limits["cpuSeconds"])
        limit(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL a second later
    if limits.get("fileBytes"):
        limit(resource.RLIMIT_FSIZE, int(limits["fileBytes"]))
    if limits.get("openFiles"):
        limit(resource.RLIMIT_NOFILE, int(limits["openFiles"]))
    if limits.get("processes"):
        limit(resource.RLIMIT_NPROC, int(limits["processes"]))


def deny_network() -> None:
    """Refuse internet sockets from Python code. Only a speed bump: ctypes or a child
    program gets past it, which is why bubblewrap or a network namespace is preferred."""
    families = {socket.AF_INET, socket.AF_INET6}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.__new__" and len(args) > 1 and args[1] in families:
            raise PermissionError("Network access is disabled for functions on this server.")
        if event == "socket.getaddrinfo":
            raise PermissionError("Network access is disabled for functions on this server.")

    sys.addaudithook(hook)


def _user_traceback(exc: BaseException, code_dir: str) -> str:
    """The traceback from the first frame outside the runtime and importlib, with the
    code folder's path removed so it names the function's own files."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(FRAMEWORK_FILES):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return text.replace(code_dir.rstrip(os.sep) + os.sep, "")


def _error(exc: BaseException, code_dir: str) -> dict[str, Any]:
    message = str(exc) if not isinstance(exc, SystemExit) else f"SystemExit({exc.code!r})"
    if isinstance(exc, MemoryError) and not message:
        message = "The function ran out of memory (its memory limit)."
    return {"type": type(exc).__name__, "message": message, "traceback": _user_traceback(exc, code_dir)}


def _memory_peak_kb() -> int:
    """Peak resident size of this process (VmHWM: ru_maxrss would include the platform
    process this one was forked from) or of its largest child."""
    own = 0
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    own = int(line.split()[1])
    except (OSError, ValueError):
        pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(max(own, children))


def _flush() -> None:
    """User code may have closed or replaced the streams; what it wrote is then its own
    business, and the result must still go back."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            continue


def run(job: dict[str, Any], channel: Channel, code_dir: str) -> dict[str, Any]:
    module_name, _, attribute = str(job["entrypoint"]).partition(":")
    context = job.get("context") or {}
    reserve = mmap.mmap(-1, RESERVE_BYTES)  # held while user code runs, released to report a MemoryError
    try:
        module = importlib.import_module(module_name)
        handler = getattr(module, attribute)
        if not callable(handler):
            raise TypeError(f"{job['entrypoint']} is not a function")
        ctx = Context(
            call=channel.call,
            env=job.get("env") or {},
            project_id=str(context.get("projectId", "")),
            function=str(context.get("function", attribute)),
            version=context.get("version"),
            execution_id=context.get("executionId"),
        )
        value = handler(Event(job.get("event") or {}), ctx)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the function's failures too
        reserve.close()
        gc.collect()
        return {"type": "result", "status": "failed", "error": _error(exc, code_dir)}
    reserve.close()
    return {"type": "result", "status": "succeeded", "result": value}


def discover(job: dict[str, Any], code_dir: str) -> dict[str, Any]:
    try:
        for name in job["modules"]:
            importlib.import_module(name)
    except BaseException as exc:
        return {"type": "result", "status": "failed", "error": _error(exc, code_dir)}
    found: list[dict[str, Any]] = []
    prefix = code_dir.rstrip(os.sep) + os.sep
    for module_name, module in sorted(sys.modules.items()):
        if not str(getattr(module, "__file__", None) or "").startswith(prefix):
            continue
        for attribute, value in sorted(vars(module).items()):
            try:
                triggers = baas_functions.triggers_of(value) if callable(value) else []
                defined_here = getattr(value, "__module__", None) == module_name
            except Exception:
                continue
            if triggers and defined_here:
                found.append({"entrypoint": f"{module_name}:{attribute}", "name": attribute, "triggers": triggers})
    return {"type": "discovered", "functions": found}


def main() -> None:
    fd, limit = int(sys.argv[1]), int(sys.argv[2])
    channel = Channel(fd, limit)
    init = channel.read()
    report = setup(init)
    channel.send({"type": "ready", "pid": os.getpid(), **report})
    job = channel.read()
    channel.send({"type": "started"})  # from here on, user code may run: no retry
    importlib.invalidate_caches()  # the code was written after the path was scanned
    started = time.monotonic()
    apply_limits(job.get("limits") or {})
    os.environ.clear()
    os.environ.update(job.get("environ") or {})
    if job.get("denyNetwork"):
        deny_network()
    code_dir = init["codeDir"]
    answer = discover(job, code_dir) if job.get("op") == "discover" else run(job, channel, code_dir)
    _flush()
    answer["memoryPeakKb"] = _memory_peak_kb()
    answer["runMs"] = (time.monotonic() - started) * 1000
    try:
        data = _wire.encode(answer, limit)
    except _wire.MessageTooLarge as exc:
        answer = {"type": "result", "status": "failed", "memoryPeakKb": answer["memoryPeakKb"], "error": {
            "type": "ValueError",
            "message": f"The return value is {exc.size} bytes of JSON, over the limit of {exc.limit} bytes.",
            "traceback": ""}}
        data = _wire.encode(answer, limit)
    except (TypeError, ValueError) as exc:
        answer = {"type": "result", "status": "failed", "memoryPeakKb": answer["memoryPeakKb"], "error": {
            "type": "TypeError",
            "message": f"The return value is not JSON-serialisable: {exc}",
            "traceback": ""}}
        data = _wire.encode(answer, limit)
    channel.sock.sendall(data)
    if init.get("killAllOnExit"):
        # Under a uid of its own (or in a PID namespace), -1 reaches exactly what the
        # function started, in whatever session: nothing outlives the job.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
