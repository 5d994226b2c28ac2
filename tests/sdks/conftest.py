"""SDK fixtures: the JavaScript SDK built once per run (npm ci, npm run build), and a live
server whose public URL is its own (signed URLs point at it) with short-lived access
tokens, so refreshes happen within a test."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, LiveServer, server_env, stop_process
from tests.services import free_port

SDK = ROOT / "sdks" / "js"
TOKEN_LIFETIME = 5  # seconds: refreshed every ~3.3 s


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    """The built SDK (sdks/js/dist); node and npm are required, never skipped."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the JavaScript SDK tests need Node.js 20+ and npm")
    run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], SDK)
    run(["npm", "run", "build"], SDK)
    assert (SDK / "dist" / "index.js").is_file() and (SDK / "dist" / "index.d.ts").is_file()
    return SDK


@dataclass
class SdkTarget:
    server: LiveServer
    project_id: str
    publishable_key: str
    secret_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def env(self) -> dict[str, str]:
        return {
            "BAAS_URL": self.url,
            "BAAS_PROJECT_ID": self.project_id,
            "BAAS_PUBLISHABLE_KEY": self.publishable_key,
            "BAAS_SECRET_KEY": self.secret_key,
            "BAAS_TOKEN_LIFETIME": str(TOKEN_LIFETIME),
        }


@pytest.fixture
def sdk_target(transactional_db: Any, tmp_path: Path, project: Any, other_project: Any) -> Iterator[SdkTarget]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    env = server_env(
        BAAS_PUBLIC_URL=url,
        BAAS_AUTH_ACCESS_TOKEN_LIFETIME=str(TOKEN_LIFETIME),
        BAAS_STORAGE_LOCAL_DIR=str(tmp_path / "objects"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "baas.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text()}")
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield SdkTarget(LiveServer(url, process, log_path), "alpha-app", project.publishable_key, project.secret_key)
    finally:
        stop_process(process)
