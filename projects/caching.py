"""Cached lookups of keys and access tokens, on the hot path of every request.

Entries live in the shared cache (Redis in services mode) and, for a few seconds, in
the process, so a steady stream of requests with one key costs no database or network
round trip. Revoking deletes the shared entry at once; the process-local copy lives at
most ``LOCAL_TTL`` seconds, which bounds how long a revoked key keeps working on other
processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from projects.models import ApiKey, Membership, PersonalAccessToken

SHARED_TTL = 300
LOCAL_TTL = 2.0
_MISSING = "-"

_local: dict[str, tuple[float, Any]] = {}


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    key_id: int
    project_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class ResolvedAccessToken:
    token_id: int
    user_id: int


def _local_get(key: str) -> Any:
    entry = _local.get(key)
    if entry is not None and entry[0] > time.monotonic():
        return entry[1]
    return None


def _local_put(key: str, value: Any) -> None:
    if len(_local) > 10_000:
        _local.clear()
    _local[key] = (time.monotonic() + LOCAL_TTL, value)


def local_clear() -> None:
    _local.clear()


def api_key_resolve(key_hash: str) -> ResolvedKey | None:
    cache_key = f"apikey:{key_hash}"
    found = _local_get(cache_key)
    if found is None:
        found = cache.get(cache_key)
        if found is None:
            row = (
                ApiKey.objects.unscoped()
                .filter(key_hash=key_hash, revoked_at__isnull=True)
                .values_list("pk", "project_id", "kind")
                .first()
            )
            found = ResolvedKey(*row) if row else _MISSING
            cache.set(cache_key, found, SHARED_TTL if row else 10)
        _local_put(cache_key, found)
    return None if found == _MISSING else found


def api_key_peek(key_hash: str) -> ResolvedKey | None | bool:
    """The process cache only (no I/O, safe on an event loop): the key, None for a known
    bad key, or False when the process has not seen it lately."""
    found = _local_get(f"apikey:{key_hash}")
    if found is None:
        return False
    return None if found == _MISSING else found


def api_key_forget(key_hash: str) -> None:
    cache.delete(f"apikey:{key_hash}")
    _local.pop(f"apikey:{key_hash}", None)


def access_token_resolve(token_hash: str) -> ResolvedAccessToken | None:
    cache_key = f"pat:{token_hash}"
    found = _local_get(cache_key)
    if found is None:
        found = cache.get(cache_key)
        if found is None:
            row = (
                PersonalAccessToken.objects.filter(token_hash=token_hash, revoked_at__isnull=True)
                .exclude(expires_at__lt=timezone.now())
                .values_list("pk", "user_id", "expires_at")
                .first()
            )
            found = ResolvedAccessToken(row[0], row[1]) if row else _MISSING
            ttl = SHARED_TTL
            if row and row[2] is not None:
                ttl = max(1, min(ttl, int((row[2] - timezone.now()).total_seconds())))
            cache.set(cache_key, found, ttl if row else 10)
        _local_put(cache_key, found)
    return None if found == _MISSING else found


def access_token_forget(token_hash: str) -> None:
    cache.delete(f"pat:{token_hash}")
    _local.pop(f"pat:{token_hash}", None)


def member_role(project_id: str, user_id: int) -> str | None:
    """Not cached: membership changes must apply to the next request."""
    return (
        Membership.objects.for_project(project_id)
        .filter(user_id=user_id)
        .values_list("role", flat=True)
        .first()
    )
