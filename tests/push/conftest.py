"""Push fixtures: a service account whose key the fake FCM server verifies, the fake on
loopback, and a real job worker (the embedded worker thread, or a Celery worker process
in services mode) pointed at it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import MODE, ROOT, server_env, stop_process
from tests.push.fake_fcm import FakeFCM

FINAL = {"sent", "partially_failed", "failed", "dry_run"}
WORKER_ENV = {"BAAS_PUSH_RETRY_BASE_SECONDS": "0.05", "BAAS_PUSH_MAX_ATTEMPTS": "3"}


@pytest.fixture(scope="session")
def fcm_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def service_account(fcm_key: rsa.RSAPrivateKey) -> dict[str, str]:
    private_pem = fcm_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "demo-fcm",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_pem,
        "client_email": "push@demo-fcm.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


@pytest.fixture(scope="session")
def fake_fcm_server(fcm_key: rsa.RSAPrivateKey) -> Iterator[FakeFCM]:
    public_pem = fcm_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = FakeFCM(public_pem)
    yield fake
    fake.close()


@pytest.fixture
def fake_fcm(fake_fcm_server: FakeFCM, settings: Any) -> Iterator[FakeFCM]:
    from projects.push import fcm

    settings.BAAS_FCM_ENDPOINT = fake_fcm_server.url
    settings.BAAS_PUSH_RETRY_BASE_SECONDS = float(WORKER_ENV["BAAS_PUSH_RETRY_BASE_SECONDS"])
    settings.BAAS_PUSH_MAX_ATTEMPTS = int(WORKER_ENV["BAAS_PUSH_MAX_ATTEMPTS"])
    fake_fcm_server.reset()
    yield fake_fcm_server
    for project_id in list(fcm._apps):
        fcm.messaging_app_drop(project_id)


@pytest.fixture(scope="session")
def _worker_process(django_db_setup: Any, django_db_blocker: Any, fake_fcm_server: FakeFCM,
                    tmp_path_factory: Any) -> Iterator[subprocess.Popen[bytes] | None]:
    """Services mode: one Celery worker process for the session (the database is emptied
    between tests, the process stays). Embedded mode: none, the worker thread runs jobs."""
    if MODE != "services":
        yield None
        return
    with django_db_blocker.unblock():
        env = server_env(BAAS_FCM_ENDPOINT=fake_fcm_server.url, **WORKER_ENV)
    log_path = Path(tmp_path_factory.mktemp("push-worker")) / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads", "--concurrency=4", "-l", "warning",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT,
    )
    process.log_path = log_path  # type: ignore[attr-defined]
    yield process
    stop_process(process)


@pytest.fixture
def push_worker(transactional_db: Any, fake_fcm: FakeFCM, _worker_process: Any) -> Any:
    """Jobs run outside the test, for real: after-commit enqueue, broker, worker."""
    if _worker_process is None:
        from baas.jobs import embedded_worker_start

        assert embedded_worker_start() is not None
    return _worker_process


def worker_log(worker: Any) -> str:
    return worker.log_path.read_text(errors="replace") if worker is not None else ""


@pytest.fixture
def wait_message(secret_api: Any, push_worker: Any) -> Callable[..., dict[str, Any]]:
    def wait(message_id: str, *, statuses: set[str] = FINAL, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = secret_api.get(f"/v1/projects/alpha-app/push/messages/{message_id}")
            assert response.status == 200, response.body
            body = response.body
            if body["status"] in statuses:
                return body
            time.sleep(0.1)
        raise AssertionError(f"message still {body.get('status')} after {timeout}s\n{worker_log(push_worker)}")

    return wait
