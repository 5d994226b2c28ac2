"""Sandbox fixtures: each test starts with no warm processes, and isolation-sensitive
tests run under both isolations (bubblewrap and plain processes)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _fresh_pools(settings: Any) -> Iterator[None]:
    from functions import pool

    pool.pools_stop()
    pool.mode_reset()
    yield
    pool.pools_stop()
    pool.mode_reset()


@pytest.fixture(params=["bwrap", "process"])
def isolation(request: Any, settings: Any) -> str:
    """Run the test under each isolation; ``bwrap`` is required, never a silent fallback."""
    settings.BAAS_FUNCTIONS_SANDBOX = request.param
    return str(request.param)


def source(text: str) -> dict[str, str]:
    """``{"main.py": text}`` with the test's indentation removed."""
    return {"main.py": textwrap.dedent(text).lstrip("\n")}


def run(code: str | dict[str, str], *, event: dict[str, Any] | None = None, env: dict[str, str] | None = None,
        limits: Any = None, bridge: Any = None, entrypoint: str = "main:handler",
        context: dict[str, Any] | None = None) -> Any:
    from functions.sandbox import Limits, sandbox_run

    files = source(code) if isinstance(code, str) else code
    return sandbox_run(
        files=files,
        entrypoint=entrypoint,
        event=event if event is not None else {},
        env=env or {},
        context=context or {"projectId": "alpha-app", "function": "handler", "version": 1, "executionId": "ex-1"},
        limits=limits or Limits(timeout_seconds=10),
        bridge=bridge,
    )


def processes_of_uid(uid: int) -> list[int]:
    """Host pids of live processes under ``uid`` (a zombie is dead, waiting for whichever
    init adopted it to reap it)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                with open(f"/proc/{entry.name}/stat") as stat:
                    state = stat.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                found.append(int(entry.name))
    return found
