"""Fixed-window rate limits on the shared cache (Redis in services mode).

Counting with the cache's atomic ``incr`` keeps every web process on one count; DRF's
throttles keep a list per client and rewrite it, which loses counts under concurrency.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from baas.api.errors import ResourceExhausted


def rate_limit_hit(*, bucket: str, limit: int, window_seconds: int, now: float | None = None) -> int:
    """Count one hit in ``bucket``; raise ResourceExhausted past ``limit`` in this window."""
    if limit <= 0:
        return 0
    current = int(now if now is not None else time.time())
    window_start = current - current % window_seconds
    key = f"rl:{settings.BAAS_RATE_LIMIT_NAMESPACE}:{bucket}:{window_start}"
    if cache.add(key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window_seconds + 1)
            count = 1
    if count > limit:
        raise ResourceExhausted(
            f"Rate limit of {limit} requests per {window_seconds}s exceeded.",
            retry_after=window_start + window_seconds - current,
        )
    return count


def rate_limit_reset(*, bucket: str, window_seconds: int) -> None:
    current = int(time.time())
    cache.delete(f"rl:{settings.BAAS_RATE_LIMIT_NAMESPACE}:{bucket}:{current - current % window_seconds}")
