"""One Redis client per process (services mode); None in embedded mode."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def redis_client() -> redis.Redis | None:
    return _client(settings.REDIS_URL) if settings.REDIS_URL else None


def key(*parts: object) -> str:
    """Keys carry the deployment prefix, so deployments and test runs can share a Redis."""
    return ":".join((settings.KEY_PREFIX, *(str(p) for p in parts)))
