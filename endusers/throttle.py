"""Failed sign-in limits per account and per client IP.

The request rate limits (baas/api/ratelimit.py) count every request; these count only
failures, and a success clears the account's count, so a user who mistypes once is not
held to the attacker's budget. Counts live in Redis in services mode (one count for all
web processes) and in process memory in embedded mode, in fixed windows.

The account bucket is keyed by the email as typed (case-folded), whether or not such an
account exists: a limit that tripped only for real accounts would tell which exist.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from baas.api.errors import ResourceExhausted
from baas.redis import key as redis_key
from baas.redis import redis_client

_memory: dict[str, tuple[int, int]] = {}  # name -> (window_start, count)
_lock = threading.Lock()


def _window() -> tuple[int, int, int]:
    size = int(settings.BAAS_AUTH_LOGIN_FAILURE_WINDOW)
    now = int(time.time())
    return size, now - now % size, now


def _names(project_id: str, account: str, ip: str) -> list[tuple[str, int, str]]:
    namespace = settings.BAAS_RATE_LIMIT_NAMESPACE
    return [
        (f"{namespace}:acct:{project_id}:{account}", int(settings.BAAS_AUTH_LOGIN_FAILURES_PER_ACCOUNT), "account"),
        (f"{namespace}:ip:{project_id}:{ip}", int(settings.BAAS_AUTH_LOGIN_FAILURES_PER_IP), "ip"),
    ]


def _counts(names: list[str], window_start: int) -> list[int]:
    client = redis_client()
    if client is not None:
        values = client.mget([redis_key("lf", name, window_start) for name in names])
        return [int(v or 0) for v in values]
    with _lock:
        return [count if start == window_start else 0 for start, count in (_memory.get(n, (0, 0)) for n in names)]


def login_guard(*, project_id: str, account: str, ip: str) -> None:
    """429 before any password work when either bucket is spent."""
    size, window_start, now = _window()
    buckets = _names(project_id, account, ip)
    for (name, limit, scope), count in zip(buckets, _counts([b[0] for b in buckets], window_start), strict=True):
        if limit > 0 and count >= limit:
            raise ResourceExhausted(
                "Too many failed sign-in attempts; try again later.",
                retry_after=window_start + size - now,
                details={"scope": scope},
            )


def login_failed(*, project_id: str, account: str, ip: str) -> None:
    size, window_start, _ = _window()
    names = [name for name, _, _ in _names(project_id, account, ip)]
    client = redis_client()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for name in names:
            key = redis_key("lf", name, window_start)
            pipe.incr(key)
            pipe.expire(key, size + 1, nx=True)
        pipe.execute()
        return
    with _lock:
        if len(_memory) > 100_000:
            _memory.clear()
        for name in names:
            start, count = _memory.get(name, (window_start, 0))
            _memory[name] = (window_start, count + 1 if start == window_start else 1)


def login_succeeded(*, project_id: str, account: str) -> None:
    """The account's count starts over; the IP's does not (one good password must not
    reset an attacker's budget across many accounts)."""
    _, window_start, _ = _window()
    name = _names(project_id, account, "")[0][0]
    client = redis_client()
    if client is not None:
        client.delete(redis_key("lf", name, window_start))
        return
    with _lock:
        _memory.pop(name, None)
