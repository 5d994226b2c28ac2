"""Shared by the push and webhooks tests: one fake FCM server and, in services mode, one
Celery worker process per test run, started on first use. A single worker serves
both folders, so no job of one lands on a worker configured for the other."""

from __future__ import annotations

import atexit
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import ROOT, server_env, stop_process
from tests.push.fake_fcm import FakeFCM

WORKER_ENV = {
    "BAAS_PUSH_RETRY_BASE_SECONDS": "0.05",
    "BAAS_PUSH_MAX_ATTEMPTS": "3",
    "BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
    "BAAS_WEBHOOKS_RETRY_BASE_SECONDS": "0.05",
    "BAAS_WEBHOOKS_MAX_ATTEMPTS": "3",
    "BAAS_WEBHOOKS_TIMEOUT": "1",
}

_state: dict[str, Any] = {}


def fcm_key() -> rsa.RSAPrivateKey:
    if "key" not in _state:
        _state["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _state["key"]


def fake_fcm_server() -> FakeFCM:
    if "fake" not in _state:
        public_pem = fcm_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _state["fake"] = FakeFCM(public_pem)
        atexit.register(_state["fake"].close)
    return _state["fake"]


def worker_process() -> subprocess.Popen[bytes]:
    """The test run's Celery worker process (services mode). Call with database access."""
    process = _state.get("worker")
    if process is not None and process.poll() is None:
        return process
    env = server_env(BAAS_FCM_ENDPOINT=fake_fcm_server().url, **WORKER_ENV)
    log_path = Path(tempfile.mkdtemp(prefix="baas-push-worker-")) / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads", "--concurrency=4", "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    process.log_path = log_path  # type: ignore[attr-defined]
    _state["worker"] = process
    return process


def worker_stop() -> None:
    process = _state.pop("worker", None)
    if process is not None:
        stop_process(process)


def worker_log(worker: Any) -> str:
    return worker.log_path.read_text(errors="replace") if worker is not None else ""
