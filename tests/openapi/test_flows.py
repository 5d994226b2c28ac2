"""Answers that the fuzzer in test_conformance.py cannot reach (they need a deployed
function, an end user's session, a registered device, a webhook endpoint) checked
against the document too: each call's real response must match the schema documented
for its operation and status."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis

from tests.conftest import stop_process
from tests.functions.conftest import worker_start
from tests.openapi.conftest import P

ECHO = "def handler(event, ctx):\n    print('called')\n    return {'echo': event.data}\n"


@pytest.fixture
def runner(server: Any, tmp_path: Path) -> Iterator[None]:
    """Embedded servers run jobs in their own process; in services mode a Celery worker does."""
    if os.environ.get("BAAS_TEST_MODE") != "services":
        yield
        return
    worker = worker_start(tmp_path)
    yield
    stop_process(worker.process)  # type: ignore[arg-type]


def test_stateful_answers_match_their_documented_schemas(server: Any, project: Any, runner: None) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/v1/openapi.json")
    base = f"{server.url}/v1/projects/{P}"
    secret = {"X-Api-Key": project.secret_key}
    checked: list[tuple[str, int]] = []

    def call(operation_id: str, method: str, path: str, status: int, headers: dict[str, str] = secret, **kwargs: Any) -> Any:
        response = requests.request(method, base + path, headers=headers, timeout=60, **kwargs)
        assert response.status_code == status, (operation_id, response.status_code, response.text)
        schema.find_operation_by_id(operation_id).validate_response(response)  # raises FailureGroup on a mismatch
        checked.append((operation_id, status))
        return response.json() if response.content else None

    # End-user sessions: sign-up, login, refresh, custom tokens, the user's own record.
    account = {"email": "flow@example.com", "password": "correct horse battery"}
    app = {"X-Api-Key": project.publishable_key}
    call("auth_signup", "POST", "/auth/signup", 201, app, json=account)
    session = call("auth_login", "POST", "/auth/login", 200, app, json=account)
    session = call("auth_refresh", "POST", "/auth/refresh", 200, app, json={"refreshToken": session["refreshToken"]})
    user = {**app, "Authorization": f"Bearer {session['accessToken']}"}
    call("auth_me_update", "PATCH", "/auth/me", 200, user, json={"displayName": "Flow", "data": {"plan": "free"}})
    call("auth_verify_email", "POST", "/auth/verify-email", 202, user)
    token = call("auth_custom_token", "POST", "/auth/custom-token", 200, json={"uid": "custom-1", "claims": {"role": "admin"}})
    call("auth_custom_token_exchange", "POST", "/auth/custom-token/exchange", 200, app, json={"token": token["token"]})
    call("auth_config_get", "GET", "/auth/config", 200)
    call("auth_jwks", "GET", "/auth/jwks.json", 200, {})
    call("users_update", "PATCH", f"/users/{session['user']['uid']}", 200, json={"claims": {"tier": 2}})

    # Keys: the created key's value is shown once.
    key = call("keys_create", "POST", "/keys", 201, json={"kind": "publishable", "name": "flow"})
    assert key["key"].startswith("pk_")
    call("keys_list", "GET", "/keys", 200)
    call("members_list", "GET", "/members", 200)
    call("project_get", "GET", "", 200)

    # Functions: deploy, call as the user, then the execution record and the versions.
    call("functions_deploy", "POST", "/functions", 201, json={"name": "echo", "source": ECHO})
    result = call("function_call", "POST", "/functions/echo:call", 200, user, json={"data": {"n": 1}})
    assert result == {"result": {"echo": {"n": 1}}}
    executions = call("function_executions", "GET", "/functions/echo/executions", 200)
    call("function_execution_get", "GET", f"/functions/echo/executions/{executions['executions'][0]['id']}", 200)
    call("function_versions", "GET", "/functions/echo/versions", 200)
    call("function_version_get", "GET", "/functions/echo/versions/1", 200)
    call("functions_list", "GET", "/functions", 200)

    # Push: the user's device, topics, a message (dry run without credentials) and its deliveries.
    call("push_devices_register", "POST", "/push/devices", 201, user, json={"token": "device-token-1", "platform": "web"})
    call("push_topic_subscribe", "PUT", "/push/devices/device-token-1/topics/news", 200, user)
    call("push_devices_list", "GET", "/push/devices", 200, user)
    message = call("push_messages_send", "POST", "/push/messages", 202, json={"target": {"topic": "news"},
                   "notification": {"title": "Hi", "body": "there"}})  # fmt: skip
    call("push_message_get", "GET", f"/push/messages/{message['id']}", 200)
    call("push_message_deliveries", "GET", f"/push/messages/{message['id']}/deliveries", 200)
    call("push_credentials_get", "GET", "/push/credentials", 200)

    # Webhooks: the endpoint (its secret shown once), a rotation, the delivery log.
    endpoint = call("webhooks_create", "POST", "/webhooks", 201, json={"url": "http://127.0.0.1:9/hook", "events": ["user.created"]})
    call("webhook_update", "PATCH", f"/webhooks/{endpoint['id']}", 200, json={"enabled": False})
    call("webhook_secret_rotate", "POST", f"/webhooks/{endpoint['id']}:rotateSecret", 200)
    call("webhook_deliveries", "GET", f"/webhooks/{endpoint['id']}/deliveries", 200)

    # Storage: a signed URL and the object's metadata.
    call("buckets_create", "POST", "/buckets", 201, json={"name": "files", "maxFileSize": 1024})
    call("object_upload", "PUT", "/buckets/files/objects/a/b.txt", 201, headers={**secret, "X-Baas-Meta-Kind": "note"}, data=b"hi")
    call("object_sign", "POST", "/buckets/files/objects/a/b.txt:sign", 200, json={"expiresIn": 60})
    meta = call("object_download", "GET", "/buckets/files/objects/a/b.txt?meta=1", 200)
    assert meta["metadata"] == {"kind": "note"}
    call("storage_usage", "GET", "/storage/usage", 200)
    assert len(checked) == 37
