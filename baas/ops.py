"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    from baas.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readiness() -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    probes = [("database", _check_database)]
    if settings.REDIS_URL:
        probes.append(("redis", lambda: _check_redis(settings.REDIS_URL)))
    if not settings.BAAS_EMBEDDED_WORKER:
        probes.append(("broker", _check_broker))
    ready = True
    for name, probe in probes:
        started = time.perf_counter()
        try:
            probe()
            checks[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # any failure means not ready; say which
            ready = False
            checks[name] = {"status": "error", "error": type(exc).__name__}
    return ready, checks


def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
