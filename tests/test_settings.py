"""Settings come from the environment, in both runtime modes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import MODE, ROOT

PROBE = """
import json, django
django.setup()
from django.conf import settings
from baas.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": {k: str(v) for k, v in db.get("OPTIONS", {}).items()},
    "cache": settings.CACHES["default"]["BACKEND"], "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": app.conf.broker_url, "embedded_worker": settings.BAAS_EMBEDDED_WORKER, "debug": settings.DEBUG,
    "services": settings.SERVICES_MODE, "hosts": settings.ALLOWED_HOSTS, "data_dir": str(settings.DATA_DIR),
    "secret_key": settings.SECRET_KEY, "queue": app.conf.task_default_queue,
}))
"""

SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "DEBUG")


def probe(tmp_path: Path, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    clean.update(BAAS_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="baas.settings", **env)
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults(tmp_path: Path) -> None:
    result = probe(tmp_path)
    assert result["engine"] == "django.db.backends.sqlite3"
    assert result["name"] == str(tmp_path / "data" / "db.sqlite3")
    assert "journal_mode=WAL" in result["options"]["init_command"]
    assert result["options"]["transaction_mode"] == "IMMEDIATE"
    assert result["cache"].endswith("LocMemCache")
    assert result["layer"] == "channels.layers.InMemoryChannelLayer"
    assert result["broker"].startswith("memory://")
    assert result["embedded_worker"] is True and result["services"] is False
    assert result["debug"] is False
    # A generated secret key is kept in the data dir, so restarts keep it.
    assert (tmp_path / "data" / "secret_key").read_text().strip() == result["secret_key"]
    assert probe(tmp_path)["secret_key"] == result["secret_key"]


def test_services_settings(tmp_path: Path) -> None:
    result = probe(
        tmp_path,
        DATABASE_URL="postgres://app:pw@db.internal:5433/appdb",
        REDIS_URL="redis://cache.internal:6380/2",
        SECRET_KEY="from-env",
        ALLOWED_HOSTS="api.example.com,example.com",
        DEBUG="true",
        BAAS_KEY_PREFIX="tenant-a",
    )
    assert result["engine"] == "django.db.backends.postgresql"
    assert result["name"] == "appdb"
    assert "max_size" in result["options"]["pool"]
    assert result["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert result["layer"] == "channels_redis.core.RedisChannelLayer"
    assert result["broker"] == "redis://cache.internal:6380/2"
    assert result["embedded_worker"] is False and result["services"] is True
    assert result["secret_key"] == "from-env" and result["debug"] is True
    assert result["hosts"] == ["api.example.com", "example.com"]
    assert result["queue"] == "tenant-a.jobs"


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("mounted-secret\n")
    assert probe(tmp_path, SECRET_KEY_FILE=str(secret_file))["secret_key"] == "mounted-secret"


def test_deploy_checks_pass_with_debug_off(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    clean.update(BAAS_DATA_DIR=str(tmp_path / "data"), SECRET_KEY="k3y-" + uuid.uuid4().hex + uuid.uuid4().hex, ALLOWED_HOSTS="api.example.com")
    for extra in ({}, {"BAAS_BEHIND_TLS": "1"}):
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=ROOT, env={**clean, **extra}, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout


def test_this_run_uses_the_mode_it_claims(db: Any) -> None:
    if MODE == "services":
        assert connection.vendor == "postgresql"
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    else:
        assert connection.vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


@pytest.mark.embedded
def test_embedded_run_has_no_service_urls() -> None:
    assert not settings.REDIS_URL and not settings.DATABASE_URL
