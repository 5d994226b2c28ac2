"""Handing a call's outcome from the process that ran it to the request waiting for it.

The runner publishes the outcome of every finished ``http`` execution, whichever task ran
it (the first one or a sweep's requeue); the waiting request wakes as soon as it lands:

- services mode: a Redis list per execution, ``RPUSH`` by the worker and ``BLPOP`` by the
  request (no polling, one round trip each; the list expires if nobody waits any more);
- embedded worker (same process): an in-memory queue per waiting call;
- neither (a broker other than Redis, no Redis configured): the execution's row, polled.

The execution's row stays the record: a missed wake-up only costs the wait until the
call's deadline, after which the caller reads the row.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from django.conf import settings

from baas.redis import key as redis_key
from baas.redis import redis_client

logger = logging.getLogger("baas.functions")

# Below the Redis client's socket timeout, so a long wait is several short blocking reads.
BLOCK_SECONDS = 2
OUTCOME_TTL_SECONDS = 60
ROW_POLL_SECONDS = 0.02

_waiting: dict[str, queue.SimpleQueue[dict[str, Any]]] = {}
_waiting_lock = threading.Lock()


def _list_key(execution_id: str) -> str:
    return redis_key("functions", "outcome", execution_id)


def _uses_local() -> bool:
    return bool(settings.BAAS_EMBEDDED_WORKER)


def outcome_publish(execution_id: str, outcome: dict[str, Any]) -> None:
    """Wake the request waiting for ``execution_id`` (if any) with its outcome."""
    if _uses_local():
        with _waiting_lock:
            slot = _waiting.get(execution_id)
        if slot is not None:
            slot.put(outcome)
        return
    client = redis_client()
    if client is None:
        return  # the waiter reads the row
    name = _list_key(execution_id)
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.rpush(name, json.dumps(outcome, separators=(",", ":")))
            pipe.expire(name, OUTCOME_TTL_SECONDS)
            pipe.execute()
    except redis.RedisError:
        logger.warning("could not hand the outcome of %s to its caller; it reads the row", execution_id, exc_info=True)


@contextmanager
def outcome_waiter(execution_id: str) -> Iterator[Any]:
    """Register interest before the execution is queued (so an outcome published at once
    is not missed) and answer ``wait(timeout)``: the outcome, or None past ``timeout``."""
    if _uses_local():
        slot: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        with _waiting_lock:
            _waiting[execution_id] = slot

        def wait_local(timeout: float) -> dict[str, Any] | None:
            try:
                return slot.get(timeout=max(timeout, 0.0))
            except queue.Empty:
                return None

        try:
            yield wait_local
        finally:
            with _waiting_lock:
                _waiting.pop(execution_id, None)
        return
    client = redis_client()
    if client is None:
        yield lambda timeout: _row_poll(execution_id, timeout)
        return
    name = _list_key(execution_id)
    received = False

    def wait_redis(timeout: float) -> dict[str, Any] | None:
        nonlocal received
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # BLPOP's timeout is in seconds (fractions allowed since Redis 6).
            popped = client.blpop([name], timeout=min(BLOCK_SECONDS, max(remaining, 0.01)))
            if popped is not None:
                received = True  # the pop emptied the list, which removes its key
                return json.loads(popped[1])  # type: ignore[no-any-return]

    try:
        yield wait_redis
    finally:
        if not received:
            client.delete(name)  # an outcome published after the caller gave up


def _row_poll(execution_id: str, timeout: float) -> dict[str, Any] | None:
    from functions.models import FINAL_STATUSES, Execution
    from functions.runner import execution_json

    deadline = time.monotonic() + timeout
    while True:
        row = Execution.objects.unscoped().filter(id=execution_id).first()
        if row is not None and row.status in FINAL_STATUSES:
            return execution_json(row, with_logs=False)
        if time.monotonic() >= deadline:
            return None
        time.sleep(ROW_POLL_SECONDS)
