"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = {"migrate", "web", "worker", "beat"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_matches_the_compose_spec_schema() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout


def test_compose_names_every_service_and_wires_them() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "redis", "web", "lb", "worker", "beat", "migrate"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on undefined {dependency}"
        if name not in {"migrate"}:
            assert "healthcheck" in service, f"{name} has no healthcheck"
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert "SECRET_KEY" in env and env["BAAS_TRUST_X_FORWARDED_FOR"] == "1"
        assert any(volume.endswith(":/data") for volume in services[name]["volumes"])
    assert services["web"]["deploy"]["replicas"] >= 2
    assert services["web"]["command"][:2] == ["baas", "serve"]
    assert "celery" in services["worker"]["command"] and "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    assert services["postgres"]["volumes"] and services["redis"]["volumes"]
    assert set(compose["volumes"]) >= {"pgdata", "redisdata", "files"}


def test_load_balancer_passes_websocket_upgrades() -> None:
    lb = _compose()["services"]["lb"]
    mount = next(v for v in lb["volumes"] if "nginx.conf" in v)
    config = (ROOT / mount.split(":")[0]).read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in config
    assert "proxy_set_header Connection $connection_upgrade;" in config
    assert "server web:8000" in config


def test_dockerfile_installs_the_project_and_serves_asgi() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "collectstatic" in dockerfile
    assert '"baas", "serve"' in dockerfile
    for folder in ("baas", "projects", "realtime", "functions", "dashboard"):
        assert f"COPY {folder} ./{folder}" in dockerfile
