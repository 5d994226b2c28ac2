"""Fixed-window rate limits on a shared counter (Redis in services mode).

Every web process must see one count per key, but a Redis round trip on every request
costs more than the rest of a cached read. So each process counts locally and adds its
count to Redis (INCRBY, one pipelined round trip for all of a request's limits) only
when its unsynced share reaches 1% of the limit or 200 ms have passed; the decision uses
the last global count plus the local share. A limit can be overshot by at most 1% per
process; small limits (under 100) sync on every request and are exact.

DRF's throttles keep a list per client and rewrite it, which loses counts under
concurrency. Embedded mode counts in process memory only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.conf import settings

from baas.api.errors import ResourceExhausted
from baas.redis import key as redis_key
from baas.redis import redis_client

SYNC_INTERVAL = 0.2


@dataclass(frozen=True, slots=True)
class Limit:
    bucket: str
    limit: int


@dataclass
class _Counter:
    window_start: int
    global_count: int = 0  # what Redis said at the last sync (includes our synced hits)
    unsynced: int = 0
    synced_at: float = 0.0


_counters: dict[str, _Counter] = {}
_lock = threading.Lock()


def _counter(name: str, window_start: int) -> _Counter:
    counter = _counters.get(name)
    if counter is None or counter.window_start != window_start:
        if len(_counters) > 100_000:
            _counters.clear()
        counter = _counters[name] = _Counter(window_start)
    return counter


def rate_limit_hits(limits: list[Limit], *, window_seconds: int | None = None, now: float | None = None) -> None:
    """Count one hit in each bucket; raise ResourceExhausted if any is past its limit."""
    active = [limit for limit in limits if limit.limit > 0]
    if not active:
        return
    window = window_seconds or settings.BAAS_RATE_LIMIT_WINDOW
    current = now if now is not None else time.time()
    window_start = int(current) - int(current) % window
    namespace = settings.BAAS_RATE_LIMIT_NAMESPACE
    client = redis_client()
    monotonic = time.monotonic()
    to_sync: list[tuple[str, _Counter, int]] = []
    with _lock:
        counters = []
        for limit in active:
            name = f"{namespace}:{limit.bucket}"
            counter = _counter(name, window_start)
            counter.unsynced += 1
            counters.append(counter)
            if client is not None and (
                counter.unsynced >= max(1, limit.limit // 100) or monotonic - counter.synced_at > SYNC_INTERVAL
            ):
                to_sync.append((name, counter, counter.unsynced))
                counter.unsynced = 0
                counter.synced_at = monotonic
    if to_sync and client is not None:
        pipe = client.pipeline(transaction=False)
        for name, _, delta in to_sync:
            key = redis_key("rl", name, window_start)
            pipe.incrby(key, delta)
            pipe.expire(key, window + 1, nx=True)
        totals = pipe.execute()[::2]
        with _lock:
            for (_, counter, _), total in zip(to_sync, totals, strict=True):
                counter.global_count = max(counter.global_count, int(total))
    for limit, counter in zip(active, counters, strict=True):
        if counter.global_count + counter.unsynced > limit.limit:
            raise ResourceExhausted(
                f"Rate limit of {limit.limit} requests per {window}s exceeded.",
                retry_after=window_start + window - int(current),
                details={"scope": limit.bucket.split(":", 1)[0]},
            )
