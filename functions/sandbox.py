"""Running user code: one job in one sandbox process, then the process is gone.

``sandbox_run`` runs a function's entrypoint with an event and answers a
``SandboxResult``; ``sandbox_discover`` imports a deploy's modules and lists the
functions its decorators declared. Both take a process from the warm pool
(functions/pool.py) or start one, write the code into it read-only, send the job over the
control socket, serve the function's ``ctx`` calls through ``bridge`` in the calling
thread, and kill the whole process group when the result arrives or the wall-clock
timeout passes. Isolation and its limits are described in docs/functions-sandbox.md.
"""

from __future__ import annotations

import codecs
import logging
import math
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from django.conf import settings

from baas.api.errors import ApplicationError
from functions.pool import RuntimeProcess, SandboxUnavailable, base_environ, pool_get, runtime_start, runtime_take
from functions.runtime.baas_functions import _wire

logger = logging.getLogger("baas.functions.sandbox")

Bridge = Callable[[str, dict[str, Any]], Any]
Status = Literal["succeeded", "failed", "timeout"]

PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
ENTRYPOINT = re.compile(rf"^{IDENTIFIER}(\.{IDENTIFIER})*:{IDENTIFIER}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
OPEN_FILES = 256
PROCESSES = 64  # per sandbox uid: threads and child processes together
START_ACK_SECONDS = 10.0


def _network_default() -> bool:
    return bool(settings.BAAS_FUNCTIONS_ALLOW_NETWORK)


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 10
    memory_mb: int = 256
    cpu_seconds: int | None = None  # RLIMIT_CPU; default: the timeout rounded up, plus 1
    allow_network: bool = field(default_factory=_network_default)

    @property
    def cpu_limit(self) -> int:
        return self.cpu_seconds if self.cpu_seconds is not None else math.ceil(self.timeout_seconds) + 1

    @property
    def network_allowed(self) -> bool:
        """The operator's switch wins over a caller asking for the network."""
        return self.allow_network and bool(settings.BAAS_FUNCTIONS_ALLOW_NETWORK)


@dataclass
class SandboxResult:
    status: Status
    result: Any = None
    error: dict[str, Any] | None = None  # {"type", "message", "traceback"}
    stdout: str = ""
    stderr: str = ""
    duration_ms: float = 0
    memory_peak_kb: int = 0


class DeployError(Exception):
    """The code cannot be deployed: it does not import (syntax error, import error, an
    exception or a timeout at import). ``traceback`` names the function's own files."""

    def __init__(self, message: str, traceback: str = "") -> None:
        super().__init__(message)
        self.message, self.traceback = message, traceback


# --- input checks (the deploy API validates first; these guard the host) ---------------------


def files_check(files: dict[str, str]) -> dict[str, str]:
    """Relative paths of plain segments only: nothing can land outside the code folder."""
    if not isinstance(files, dict) or not files:
        raise ValueError("files is a non-empty mapping of relative path to source text")
    for path, text in files.items():
        if not isinstance(path, str) or not isinstance(text, str):
            raise ValueError("files maps path strings to text")
        segments = path.split("/")
        if any(not PATH_SEGMENT.match(segment) or segment in (".", "..") for segment in segments) or len(segments) > 16:
            raise ValueError(f"invalid file path {path!r}: relative, '/'-separated names without '..'")
    return files


def entrypoint_check(entrypoint: str) -> tuple[str, str]:
    if not isinstance(entrypoint, str) or not ENTRYPOINT.match(entrypoint):
        raise ValueError(f"invalid entrypoint {entrypoint!r}: expected 'module:function' or 'package.module:function'")
    module, _, function = entrypoint.partition(":")
    return module, function


def env_check(env: dict[str, str]) -> dict[str, str]:
    if not isinstance(env, dict):
        raise ValueError("env is a mapping of names to strings")
    for name, value in env.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"environment variable {name} must be a string without NUL")
    return env


def top_level_modules(files: dict[str, str]) -> list[str]:
    """``main.py`` → main, ``pkg/__init__.py`` → pkg."""
    names: set[str] = set()
    identifier = re.compile(rf"^{IDENTIFIER}$")
    for path in files:
        segments = path.split("/")
        if len(segments) == 1 and path.endswith(".py") and identifier.match(path[:-3]):
            names.add(path[:-3])
        elif len(segments) == 2 and segments[1] == "__init__.py" and identifier.match(segments[0]):
            names.add(segments[0])
    return sorted(names)


# --- one job ----------------------------------------------------------------------------------


def _code_write(runtime: RuntimeProcess, files: dict[str, str]) -> None:
    """Write the code, then make it read-only to the sandbox: owned by root and readable
    through the sandbox's group when we run as root, else merely without write bits."""
    root = runtime.code_dir
    directories = {root}
    for path, text in files.items():
        target = root / path
        for parent in reversed(target.relative_to(root).parents):
            directories.add(root / parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        _protect(target, runtime.gid, 0o440)
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        _protect(directory, runtime.gid, 0o550)


def _protect(path: Path, gid: int | None, mode: int) -> None:
    if gid is not None:
        os.chown(path, 0, gid)
        os.chmod(path, mode)
    else:
        os.chmod(path, mode | ((mode & 0o400) >> 4))  # readable by all, writable by none


def _limits_message(limits: Limits, runtime: RuntimeProcess) -> dict[str, Any]:
    unique_uid = runtime.uid is not None and runtime.uid >= 1_000_000_000
    return {
        "memoryBytes": int(limits.memory_mb) * 1024 * 1024,
        "cpuSeconds": limits.cpu_limit,
        "fileBytes": int(settings.BAAS_FUNCTIONS_FILE_SIZE_LIMIT),
        "openFiles": OPEN_FILES,
        # RLIMIT_NPROC counts every process of the uid: only meaningful for a uid of its own.
        "processes": PROCESSES if unique_uid else None,
    }


def _job(op: str, runtime: RuntimeProcess, limits: Limits, **fields: Any) -> dict[str, Any]:
    env = fields.get("env") or {}
    return {
        "type": "job",
        "op": op,
        "limits": _limits_message(limits, runtime),
        "environ": {**base_environ(runtime.inside_work_dir), **env},
        # bwrap's empty network namespace needs no help; a plain process gets a guard too.
        "denyNetwork": not limits.network_allowed and runtime.mode == "process",
        **fields,
    }


def _error_reply(call_id: Any, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "reply", "id": call_id, "ok": False, "error": {"code": code, "message": message, "details": details or {}}}


def _bridge_answer(bridge: Bridge | None, message: dict[str, Any], limit: int) -> bytes:
    """The encoded reply to one ``ctx`` call: the bridge's value or its ApplicationError."""
    call_id, op, args = message.get("id"), message.get("op"), message.get("args")
    if bridge is None:
        reply = _error_reply(call_id, "failed_precondition", "ctx.db, ctx.storage and ctx.push are not available here.")
    elif not isinstance(op, str) or not isinstance(args, dict):
        reply = _error_reply(call_id, "invalid_argument", "A call names an operation and passes an object of arguments.")
    else:
        try:
            reply = {"type": "reply", "id": call_id, "ok": True, "result": bridge(op, args)}
        except ApplicationError as error:
            reply = _error_reply(call_id, error.code, error.message, error.details)
        except Exception:
            logger.exception("a function's %s call failed", op)
            reply = _error_reply(call_id, "internal", "Internal error.")
    try:
        return _wire.encode(reply, limit)
    except _wire.MessageTooLarge as exc:
        return _wire.encode(_error_reply(
            call_id, "payload_too_large", f"The answer is {exc.size} bytes, over the limit of {exc.limit}.", {"limitBytes": exc.limit}
        ), limit)
    except (TypeError, ValueError):
        logger.error("a function's %s call answered a value that is not JSON", op)
        return _wire.encode(_error_reply(call_id, "internal", "Internal error."), limit)


def _converse(runtime: RuntimeProcess, bridge: Bridge | None, deadline: float) -> dict[str, Any] | None:
    """Serve calls until the final message; None when the process ended without one.
    Raises TimeoutError past the deadline and WireError on a broken protocol."""
    limit = settings.BAAS_FUNCTIONS_MESSAGE_LIMIT
    while True:
        message = runtime.reader.read(deadline)
        if message is None:
            return None
        kind = message.get("type")
        if kind == "call":
            answer = _bridge_answer(bridge, message, limit)
            if time.monotonic() > deadline:
                raise TimeoutError
            runtime.sock.sendall(answer)
        elif kind in ("result", "discovered"):
            return message
        else:
            raise _wire.WireError(f"unexpected message {kind!r}")


def _tree_peak_kb(pid: int) -> int:
    """The largest peak resident size among ``pid`` and its descendants (read before a kill)."""
    peak, pending, seen = 0, [pid], set()
    while pending and len(seen) < 64:
        current = pending.pop()
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, ValueError):
            continue
        pending.extend(int(child) for child in children if int(child) not in seen)
    return peak


def _exit_description(runtime: RuntimeProcess, limits: Limits) -> str:
    try:
        code = runtime.process.wait(2)
    except Exception:
        code = None
    if code is None:
        return "The function's process stopped answering."
    number = -code if code < 0 else (code - 128 if runtime.mode == "bwrap" and code > 128 else None)
    if number is not None:
        if number == signal.SIGXCPU:
            return f"The function used more than its CPU time limit of {limits.cpu_limit} seconds."
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGKILL:
            return f"The function's process was killed ({name}): CPU or memory limit."
        return f"The function's process died ({name})."
    return f"The function's process exited with status {code} before returning."


def _output(handle: IO[bytes]) -> str:
    """The first BAAS_FUNCTIONS_LOG_LIMIT bytes, cut at a character boundary, and a marker
    saying how much was left out."""
    limit = int(settings.BAAS_FUNCTIONS_LOG_LIMIT)
    try:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(0)
        data = handle.read(limit)
    except (OSError, ValueError):
        return ""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=size <= limit)
    if size > limit:
        text += f"\n[output truncated: {size - len(data)} more bytes]\n"
    return text


def _hand_over(*, op: str, files: dict[str, str], limits: Limits, fields: dict[str, Any]) -> tuple[RuntimeProcess, bool, float]:
    """A process holding the code and the job: a warm one if the pool has it, else a new
    one (also when a warm one turns out to have died while waiting). Answers the process,
    whether it was warm, and when the job was handed over."""
    limit = settings.BAAS_FUNCTIONS_MESSAGE_LIMIT
    for attempt in range(2):
        if attempt == 0:
            runtime, warm = runtime_take(allow_network=limits.network_allowed)
        else:
            runtime, warm = runtime_start(mode=runtime.mode, allow_network=limits.network_allowed), False
        try:
            _code_write(runtime, files)
            try:
                job = _wire.encode(_job(op, runtime, limits, **fields), limit)
            except _wire.MessageTooLarge as exc:
                raise ValueError(f"the job (event, env, context) is {exc.size} bytes, over the limit of {exc.limit}") from None
            except (TypeError, ValueError) as exc:
                raise ValueError(f"the event and context must be JSON values: {exc}") from None
            runtime.sock.sendall(job)
            handed_over = time.monotonic()
            # The runtime acknowledges before any user code runs: a process that dies
            # before that (a warm one killed while waiting) can be replaced safely.
            ack = runtime.reader.read(handed_over + START_ACK_SECONDS)
            if ack is None or ack.get("type") != "started":
                raise ConnectionError("the sandbox process did not take the job")
            return runtime, warm, handed_over
        except (OSError, TimeoutError, _wire.WireError) as exc:
            output = _output(runtime.stderr).strip()
            runtime.close()
            if not warm:
                raise SandboxUnavailable(f"the sandbox process did not take its job ({exc!r}): {output or 'no output'}") from None
            logger.warning("a warm sandbox process was gone when its job came; starting another")
        except BaseException:
            runtime.close()
            raise
    raise AssertionError("unreachable")


def _execute(
    *, op: str, files: dict[str, str], limits: Limits, bridge: Bridge | None, **fields: Any
) -> tuple[Status, dict[str, Any] | None, SandboxResult]:
    """Run one job in a fresh sandbox process and kill it afterwards, whatever happened."""
    runtime, warm, started = _hand_over(op=op, files=files, limits=limits, fields=fields)
    deadline = started + float(limits.timeout_seconds)
    final: dict[str, Any] | None = None
    status: Status = "failed"
    error: dict[str, Any] | None = None
    peak = 0
    try:
        try:
            final = _converse(runtime, bridge, deadline)
        except TimeoutError:
            status = "timeout"
            peak = _tree_peak_kb(runtime.pid)
            error = {
                "type": "TimeoutError",
                "message": f"The function did not finish within its timeout of {limits.timeout_seconds:g} seconds.",
                "traceback": "",
            }
        except _wire.WireError as exc:
            error = {"type": "ProtocolError", "message": f"The function's process broke the control protocol: {exc}", "traceback": ""}
        except OSError:
            pass  # the process closed its end or died: described below from its exit status
        duration = (time.monotonic() - started) * 1000
        if final is not None:
            # It answered after flushing its output: read it now, reap the process later.
            result = SandboxResult(status="failed", stdout=_output(runtime.stdout), stderr=_output(runtime.stderr), duration_ms=duration)
            runtime.retire()
        else:
            # A timeout or a crash: nothing of it is left when this returns.
            runtime.kill()
            if status != "timeout" and error is None:
                error = {"type": "ProcessExited", "message": _exit_description(runtime, limits), "traceback": ""}
            result = SandboxResult(status="failed", stdout=_output(runtime.stdout), stderr=_output(runtime.stderr), duration_ms=duration)
    finally:
        if not runtime.finished:
            runtime.close()
    if final is not None:
        peak = int(final.get("memoryPeakKb") or 0)
        if final.get("status", "succeeded") == "succeeded":
            status = "succeeded"
        else:
            error = final.get("error") or {"type": "Error", "message": "", "traceback": ""}
    result.status, result.error, result.memory_peak_kb = status, error, peak
    logger.debug("sandbox %s %s in %.1f ms (%s)", op, status, result.duration_ms, "warm" if warm else "cold")
    return status, final, result


def sandbox_run(
    *,
    files: dict[str, str],
    entrypoint: str,
    event: dict[str, Any],
    env: dict[str, str],
    context: dict[str, Any],
    limits: Limits,
    bridge: Bridge | None,
) -> SandboxResult:
    """Call ``entrypoint(event, ctx)`` in a fresh sandbox process.

    ``bridge(op, args)`` serves the function's ctx.db/storage/push calls in this thread;
    it answers JSON or raises ApplicationError, which the function sees as ApiError.
    Raises ValueError for malformed files/entrypoint/env (the deploy API's checks come
    first) or an event that is not JSON, and pool.SandboxUnavailable when no sandbox
    process can start.
    """
    files_check(files)
    entrypoint_check(entrypoint)
    env_check(env)
    status, final, result = _execute(
        op="run", files=files, limits=limits, bridge=bridge, entrypoint=entrypoint, event=event, env=env, context=context
    )
    if status == "succeeded" and final is not None:
        result.result = final.get("result")
    return result


def sandbox_discover(*, files: dict[str, str], limits: Limits) -> list[dict[str, Any]]:
    """Import every top-level module of ``files`` in a sandbox and list the decorated
    functions: ``[{"entrypoint": "main:handler", "name": "handler", "triggers": [...]}]``.
    Raises DeployError when the import fails or does not finish within the timeout."""
    files_check(files)
    modules = top_level_modules(files)
    if not modules:
        raise DeployError("No Python module at the top level of the files (such as main.py or a package/__init__.py).")
    status, final, result = _execute(op="discover", files=files, limits=limits, bridge=None, modules=modules)
    if status == "timeout":
        raise DeployError(f"Importing the code did not finish within {limits.timeout_seconds:g} seconds.")
    if status != "succeeded" or final is None or final.get("type") != "discovered":
        error = result.error or {}
        kind, message = error.get("type", "Error"), error.get("message", "")
        text = f"{kind}: {message}" if message else kind
        raise DeployError(text, error.get("traceback", "") or result.stderr)
    functions = final.get("functions")
    if not isinstance(functions, list):
        raise DeployError("The code's import answered an unexpected result.")
    return functions


def sandbox_prepare() -> None:
    """Decide the isolation (probing bubblewrap) and start filling this process's warm
    pool now, for a worker's start-up (after any fork): its first invocation then finds
    a process ready instead of paying for both. A setup that cannot start sandboxes is
    logged here and raised again at the first invocation."""
    try:
        pool_get(allow_network=bool(settings.BAAS_FUNCTIONS_ALLOW_NETWORK))
    except SandboxUnavailable:
        logger.exception("function sandboxes cannot start on this worker")
