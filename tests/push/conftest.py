"""Push fixtures: a service account whose key the fake FCM server verifies, the fake on
loopback, and a real job worker (the embedded worker thread, or a Celery worker process
in services mode) pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.conftest import MODE
from tests.push import support
from tests.push.fake_fcm import FakeFCM

FINAL = {"sent", "partially_failed", "failed", "dry_run"}


@pytest.fixture(scope="session")
def service_account() -> dict[str, str]:
    private_pem = support.fcm_key().private_bytes(
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


@pytest.fixture
def fake_fcm(settings: Any) -> Iterator[FakeFCM]:
    from projects.push import fcm

    fake = support.fake_fcm_server()
    settings.BAAS_FCM_ENDPOINT = fake.url
    settings.BAAS_PUSH_RETRY_BASE_SECONDS = float(support.WORKER_ENV["BAAS_PUSH_RETRY_BASE_SECONDS"])
    settings.BAAS_PUSH_MAX_ATTEMPTS = int(support.WORKER_ENV["BAAS_PUSH_MAX_ATTEMPTS"])
    fake.reset()
    yield fake
    for project_id in list(fcm._apps):
        fcm.messaging_app_drop(project_id)


@pytest.fixture(scope="session", autouse=True)
def _stop_worker_at_the_end(django_db_setup: Any) -> Iterator[None]:
    """Set up after the test database, so torn down (the worker stopped) before it is dropped."""
    yield
    support.worker_stop()


@pytest.fixture
def push_worker(transactional_db: Any, fake_fcm: FakeFCM) -> Any:
    """Jobs run outside the test, for real: after-commit enqueue, broker, worker (the
    embedded worker thread, or in services mode a Celery worker process)."""
    if MODE == "services":
        return support.worker_process()
    from baas.jobs import embedded_worker_start

    assert embedded_worker_start() is not None
    return None


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
        raise AssertionError(f"message still {body.get('status')} after {timeout}s\n{support.worker_log(push_worker)}")

    return wait
