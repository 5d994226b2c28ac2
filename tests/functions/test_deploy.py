"""Deploying functions over HTTP: versions, rollback, delete, discovery from decorators,
refused sources, bad input, secrets never shown, and tenant isolation."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from functions.models import Function, FunctionSchedule, FunctionTrigger
from tests.conftest import Api

BASE = "/v1/projects/alpha-app/functions"
HELLO = "def handler(event, ctx):\n    return {'hello': event.data}\n"
DECORATED = """
from baas_functions import on_call, on_document_created, on_schedule, on_user_created

@on_document_created("orders")
def order_created(event, ctx):
    return None

@on_schedule("*/5 * * * *", timezone="Europe/Paris")
def every_five(event, ctx):
    return None

@on_user_created
def welcome(event, ctx):
    return None

@on_call
def handler(event, ctx):
    return 1
"""


def test_deploy_versions_rollback_delete(secret_api: Api, deploy: Callable[..., Any]) -> None:
    first = deploy("hello", HELLO, env={"GREETING": "hi"}, secrets={"API_TOKEN": "s3cr3t-value"})
    assert first["name"] == "hello" and first["activeVersion"] == 1
    assert first["triggers"] == [{"type": "http"}]
    assert first["timeoutSeconds"] == 10 and first["memoryMb"] == 256 and first["entrypoint"] == "main:handler"
    assert first["env"] == ["GREETING"] and first["secrets"] == ["API_TOKEN"]
    second = deploy("hello", HELLO.replace("hello", "bonjour"), timeoutSeconds=30)
    assert second["activeVersion"] == 2 and second["timeoutSeconds"] == 30

    listed = secret_api.get(BASE)
    assert listed.status == 200 and [f["name"] for f in listed.body["functions"]] == ["hello"]
    versions = secret_api.get(f"{BASE}/hello/versions").body["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    one = secret_api.get(f"{BASE}/hello/versions/1")
    assert one.status == 200 and one.body["source"] == {"main.py": HELLO}
    # Secrets never come back, anywhere.
    for response in (listed, secret_api.get(f"{BASE}/hello"), secret_api.get(f"{BASE}/hello/versions"), one):
        assert b"s3cr3t-value" not in repr(response.body).encode()

    rolled = secret_api.post(f"{BASE}/hello/rollback", {"version": 1})
    assert rolled.status == 200 and rolled.body["activeVersion"] == 1 and rolled.body["timeoutSeconds"] == 10
    assert secret_api.post(f"{BASE}/hello/rollback", {"version": 7}).error_code == "not_found"
    assert secret_api.post(f"{BASE}/hello/rollback", {"version": "1"}).error_code == "invalid_argument"

    assert secret_api.delete(f"{BASE}/hello").status == 204
    assert secret_api.get(f"{BASE}/hello").error_code == "not_found"
    assert not Function.objects.for_project("alpha-app").exists()


def test_triggers_come_from_the_decorators(secret_api: Api, deploy: Callable[..., Any]) -> None:
    discovered = secret_api.post(f"{BASE}:discover", {"source": DECORATED})
    assert discovered.status == 200
    by_name = {item["name"]: item for item in discovered.body["functions"]}
    assert set(by_name) == {"order_created", "every_five", "welcome", "handler"}
    assert by_name["order_created"]["triggers"] == [
        {"type": "document", "collection": "orders", "events": ["create"]}
    ]
    assert by_name["every_five"]["triggers"] == [{"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Paris"}]

    deployed = deploy("orders", DECORATED, entrypoint="main:order_created")
    assert deployed["triggers"] == [{"type": "document", "collection": "orders", "events": ["create"]}]
    assert list(FunctionTrigger.objects.for_project("alpha-app").values_list("source", "collection", "event_types")) == [
        ("document", "orders", ["document.created"])
    ]
    scheduled = deploy("tick", DECORATED, entrypoint="main:every_five")
    assert scheduled["triggers"][0]["type"] == "schedule"
    schedule = FunctionSchedule.objects.for_project("alpha-app").get()
    assert schedule.next_run_at.minute % 5 == 0
    # Explicit triggers win over the decorators.
    explicit = deploy("orders", DECORATED, entrypoint="main:order_created",
                      triggers=[{"type": "auth", "events": ["user.deleted"]}])
    assert explicit["activeVersion"] == 2 and explicit["triggers"] == [{"type": "auth", "events": ["user.deleted"]}]


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("def handler(event, ctx)\n    return 1\n", "SyntaxError"),
        ("import no_such_module_here\n", "ModuleNotFoundError"),
        ("raise RuntimeError('boom at import')\n", "boom at import"),
    ],
)
def test_a_broken_source_is_refused_and_the_previous_version_keeps_serving(
    secret_api: Api, deploy: Callable[..., Any], source: str, needle: str
) -> None:
    deploy("hello", HELLO)
    response = secret_api.post(BASE, {"name": "hello", "source": source})
    assert response.status == 400 and response.error_code == "invalid_argument"
    assert needle in response.body["error"]["details"]["traceback"]
    current = secret_api.get(f"{BASE}/hello").body
    assert current["activeVersion"] == 1
    assert [v["version"] for v in secret_api.get(f"{BASE}/hello/versions").body["versions"]] == [1]


@pytest.mark.parametrize(
    "body",
    [
        {"source": HELLO},
        {"name": "1bad", "source": HELLO},
        {"name": "a" * 64, "source": HELLO},
        {"name": "ok"},
        {"name": "ok", "source": HELLO, "files": {"main.py": HELLO}},
        {"name": "ok", "files": {"../main.py": HELLO}},
        {"name": "ok", "files": {"/abs.py": HELLO}},
        {"name": "ok", "files": {"main.py": 42}},
        {"name": "ok", "files": []},
        {"name": "ok", "files": {"README.txt": "hi"}},
        {"name": "ok", "source": HELLO, "entrypoint": "main"},
        {"name": "ok", "source": HELLO, "entrypoint": "other:handler"},
        {"name": "ok", "source": HELLO, "timeoutSeconds": 0},
        {"name": "ok", "source": HELLO, "timeoutSeconds": 541},
        {"name": "ok", "source": HELLO, "timeoutSeconds": True},
        {"name": "ok", "source": HELLO, "memoryMb": 10},
        {"name": "ok", "source": HELLO, "env": {"1X": "y"}},
        {"name": "ok", "source": HELLO, "env": {"X": 1}},
        {"name": "ok", "source": HELLO, "secrets": []},
        {"name": "ok", "source": HELLO, "retry": {"maxAttempts": 0}},
        {"name": "ok", "source": HELLO, "retry": "yes"},
        {"name": "ok", "source": HELLO, "triggers": []},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "cron"}]},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "document"}]},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "document", "collection": "o", "events": ["created"]}]},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "schedule", "cron": "every minute"}]},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "schedule", "cron": "* * * * *", "timezone": "Mars/Base"}]},
        {"name": "ok", "source": HELLO, "triggers": [{"type": "storage", "bucket": "../x"}]},
        {"name": "ok", "source": HELLO, "surprise": 1},
        [1, 2],
    ],
)
def test_bad_deploys_are_400_and_change_nothing(secret_api: Api, body: Any) -> None:
    response = secret_api.post(BASE, body)
    assert response.status == 400, response.body
    assert response.error_code == "invalid_argument" and response.body["error"]["message"]
    assert not Function.objects.for_project("alpha-app").exists()


def test_a_source_over_the_limit_is_413(secret_api: Api, settings: Any) -> None:
    settings.BAAS_FUNCTIONS_MAX_SOURCE_BYTES = 1000
    response = secret_api.post(BASE, {"name": "big", "source": HELLO + "#" * 2000})
    assert response.status == 413 and response.error_code == "payload_too_large"


def test_unknown_names_and_versions_are_404(secret_api: Api, deploy: Callable[..., Any]) -> None:
    deploy("hello", HELLO)
    for path in ("/nope", "/nope/versions", "/nope/executions", "/hello/versions/9", "/hello/executions/ex_nope"):
        assert secret_api.get(BASE + path).error_code == "not_found", path
    assert secret_api.get(f"{BASE}/hello/versions/x").error_code == "invalid_argument"
    assert secret_api.get(f"{BASE}/hello/executions?status=weird").error_code == "invalid_argument"
    assert secret_api.get(f"{BASE}/hello/executions?cursor=%%%").error_code == "invalid_argument"
    assert secret_api.post(f"{BASE}/nope:call", {"data": 1}).error_code == "not_found"


def test_publishable_keys_cannot_manage_functions(public_api: Api, deploy: Callable[..., Any]) -> None:
    deploy("hello", HELLO)
    assert public_api.post(BASE, {"name": "x", "source": HELLO}).status == 403
    assert public_api.get(BASE).status == 403
    assert public_api.get(f"{BASE}/hello/executions").status == 403
    assert public_api.delete(f"{BASE}/hello").status == 403
    assert public_api.post(f"{BASE}/hello/rollback", {"version": 1}).status == 403
    assert Function.objects.for_project("alpha-app").get().active_version == 1


def test_another_project_sees_and_changes_nothing(
    api: Api, secret_api: Api, other_project: Any, deploy: Callable[..., Any]
) -> None:
    deploy("hello", HELLO)
    other = api.with_key(other_project.secret_key)
    # Its key on our project: 401. Our function under its project: 404.
    assert other.get(BASE).status == 401
    assert other.post(f"{BASE}/hello:call", {"data": 1}).status == 401
    theirs = "/v1/projects/beta-app/functions"
    assert other.get(theirs).body == {"functions": []}
    for method, path, body in (
        ("get", "/hello", None), ("delete", "/hello", None), ("post", "/hello/rollback", {"version": 1}),
        ("get", "/hello/versions/1", None), ("post", "/hello:call", {"data": 1}), ("get", "/hello/executions", None),
    ):
        response = other.request(method.upper(), theirs + path, body)
        assert response.error_code == "not_found", (method, path, response.body)
    assert Function.objects.for_project("alpha-app").get().active_version == 1
    assert not Function.objects.for_project("beta-app").exists()
