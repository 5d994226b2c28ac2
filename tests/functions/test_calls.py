"""Calling functions over HTTP through a real job runner: results, the caller's auth,
user errors, timeouts, memory limits, a scrubbed environment, and ctx scoped to the
function's own project."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from baas.api.context import RequestContext
from functions.models import Execution
from projects.documents.selectors import document_get
from tests.conftest import Api, session_database_url
from tests.functions.conftest import Worker

BASE = "/v1/projects/alpha-app/functions"

ECHO = """
def handler(event, ctx):
    print("called with", event.data)
    return {"echo": event.data, "uid": (event.auth or {}).get("uid"), "project": ctx.project_id}
"""
FAILS = """
def handler(event, ctx):
    raise ValueError("no such order: " + str(event.data))
"""
SLEEPS = """
import time
def handler(event, ctx):
    time.sleep(30)
"""
GREEDY = """
def handler(event, ctx):
    if event.data == "big":
        block = bytearray(2 * 1024 * 1024 * 1024)
        return len(block)
    return "fine"
"""
ENVIRONMENT = """
import os
def handler(event, ctx):
    return {"environ": dict(os.environ), "ctx_env": dict(ctx.env)}
"""
WRITES = """
def handler(event, ctx):
    ctx.db.collection("audit").doc("a1").set({"by": "function", "n": event.data})
    return ctx.db.collection("audit").doc("a1").get()
"""


def _call(api: Api, name: str, data: Any) -> Any:
    return api.post(f"{BASE}/{name}:call", {"data": data})


def test_a_call_returns_the_result_with_the_callers_auth(
    functions_worker: Worker, public_api: Api, project: Any, enduser_token: Any, deploy: Callable[..., Any]
) -> None:
    deploy("echo", ECHO)
    response = _call(public_api.with_bearer(enduser_token(project, "user-7")), "echo", {"n": 1})
    assert response.status == 200, (response.body, functions_worker.log())
    assert response.body == {"result": {"echo": {"n": 1}, "uid": "user-7", "project": "alpha-app"}}
    anonymous = _call(public_api, "echo", [1, 2])
    assert anonymous.body == {"result": {"echo": [1, 2], "uid": None, "project": "alpha-app"}}
    execution = Execution.objects.for_project("alpha-app").filter(function_name="echo").order_by("created_at").first()
    assert execution is not None and execution.status == "succeeded" and execution.trigger == "http"
    assert "called with {'n': 1}" in execution.stdout and execution.duration_ms is not None


def test_user_errors_are_422_and_recorded(functions_worker: Worker, public_api: Api, secret_api: Api, deploy: Callable[..., Any]) -> None:
    deploy("fails", FAILS)
    response = _call(public_api, "fails", "o-9")
    assert response.status == 422 and response.error_code == "function_error"
    assert response.body["error"]["message"] == "no such order: o-9"
    execution_id = response.body["error"]["details"]["executionId"]
    detail = secret_api.get(f"{BASE}/fails/executions/{execution_id}").body
    assert detail["status"] == "failed" and detail["error"]["type"] == "ValueError"
    assert "Traceback" in detail["error"]["traceback"] and "no such order" in detail["error"]["traceback"]
    listed = secret_api.get(f"{BASE}/fails/executions?status=failed").body
    assert [e["id"] for e in listed["executions"]] == [execution_id]


def test_a_call_past_its_timeout_is_504_and_the_code_is_stopped(
    functions_worker: Worker, public_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("sleeps", SLEEPS, timeoutSeconds=1)
    response = _call(public_api, "sleeps", None)
    assert response.status == 504 and response.error_code == "deadline_exceeded"
    execution = Execution.objects.for_project("alpha-app").get(function_name="sleeps")
    assert execution.status == "timeout" and execution.duration_ms is not None and execution.duration_ms < 5000


def test_a_function_over_its_memory_fails_and_the_worker_runs_the_next(
    functions_worker: Worker, public_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("greedy", GREEDY, memoryMb=256)
    response = _call(public_api, "greedy", "big")
    assert response.status == 422 and response.error_code == "function_error"
    assert Execution.objects.for_project("alpha-app").get(id=response.body["error"]["details"]["executionId"]).error["type"] == "MemoryError"
    assert _call(public_api, "greedy", "small").body == {"result": "fine"}


def test_the_function_sees_only_its_own_variables(
    functions_worker: Worker, public_api: Api, secret_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("environment", ENVIRONMENT, env={"GREETING": "hi"}, secrets={"STRIPE_KEY": "sk_live_x"})
    result = _call(public_api, "environment", None).body["result"]
    assert result["ctx_env"] == {"GREETING": "hi", "STRIPE_KEY": "sk_live_x"}
    seen = set(result["environ"])
    for platform_variable in ("DATABASE_URL", "SECRET_KEY", "REDIS_URL", "CELERY_BROKER_URL", "BAAS_DATA_DIR",
                              "BAAS_KEY_PREFIX", "DJANGO_SETTINGS_MODULE", "AWS_SECRET_ACCESS_KEY"):
        assert platform_variable not in seen
    assert not any(name.startswith(("BAAS_", "AWS_", "CELERY_")) for name in seen)
    from django.conf import settings

    assert settings.SECRET_KEY not in repr(result)
    assert session_database_url() not in repr(result)
    # The secret's value is not in the API's answers about the function.
    assert "sk_live_x" not in repr(secret_api.get(f"{BASE}/environment").body)


def test_ctx_writes_land_in_the_functions_own_project_only(
    functions_worker: Worker, public_api: Api, other_project: Any, deploy: Callable[..., Any]
) -> None:
    deploy("writes", WRITES)
    response = _call(public_api, "writes", 5)
    assert response.status == 200, (response.body, functions_worker.log())
    assert response.body["result"]["data"] == {"by": "function", "n": 5}
    mine = document_get(ctx=RequestContext(project_id="alpha-app", key_kind="secret"), collection="audit", doc_id="a1")
    assert mine.data == {"by": "function", "n": 5}
    from baas.api.errors import NotFound

    with pytest.raises(NotFound):  # the function's write did not reach another project
        document_get(ctx=RequestContext(project_id="beta-app", key_kind="secret"), collection="audit", doc_id="a1")


def test_a_function_without_an_http_trigger_cannot_be_called(
    functions_worker: Worker, public_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("onlyevents", ECHO, triggers=[{"type": "document", "collection": "orders"}])
    response = _call(public_api, "onlyevents", 1)
    assert response.status == 412 and response.error_code == "failed_precondition"
    assert _call(public_api, "echo", 1).error_code == "not_found"
    assert public_api.post(f"{BASE}/onlyevents:call", {"data": 1, "extra": 2}).error_code == "invalid_argument"


def test_a_call_runs_once_however_often_its_message_is_delivered(project: Any, deploy: Callable[..., Any]) -> None:
    from functions import runner, services

    deploy("writes", WRITES)
    call = services.call_prepare(ctx=RequestContext(project_id="alpha-app", key_kind="publishable"), name="writes", data=3)
    first = runner.call_run(call)
    assert first is not None and first["status"] == "succeeded" and first["result"]["data"] == {"by": "function", "n": 3}
    assert runner.call_run(call) is None  # a redelivered message finds the execution taken
    executions = Execution.objects.for_project("alpha-app").filter(function_name="writes")
    assert [(e.id, e.status, e.attempt, e.trigger) for e in executions] == [(call["id"], "succeeded", 1, "http")]
    audit = document_get(ctx=RequestContext(project_id="alpha-app", key_kind="secret"), collection="audit", doc_id="a1")
    assert audit.version == 1


def test_a_call_delivered_after_its_caller_gave_up_is_recorded_and_not_run(project: Any, deploy: Callable[..., Any]) -> None:
    from datetime import datetime, timedelta, timezone

    from baas.api.errors import NotFound
    from functions import runner, services

    deploy("writes", WRITES)
    call = services.call_prepare(ctx=RequestContext(project_id="alpha-app", key_kind="publishable"), name="writes", data=4)
    call["deadline"] = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    assert runner.call_run(call) is None
    execution = Execution.objects.for_project("alpha-app").get(id=call["id"])
    assert execution.status == "timeout" and execution.started_at is None
    assert execution.error == {"type": "DeadlineExceeded", "message": "The call was not started before its caller gave up."}
    with pytest.raises(NotFound):  # the function never ran
        document_get(ctx=RequestContext(project_id="alpha-app", key_kind="secret"), collection="audit", doc_id="a1")
