"""Event and schedule triggers end to end through a real job runner: a document write
makes the function write another document; sign-ups, uploads and schedules run functions;
failures are retried, dead-lettered and replayed; a worker killed mid-run does not lose
the event."""

from __future__ import annotations

import time
from typing import Any, Callable


from baas.api.context import RequestContext
from functions.models import Execution
from projects.documents.selectors import document_get
from tests.conftest import Api
from tests.functions.conftest import Worker, wait_for

BASE = "/v1/projects/alpha-app/functions"
SECRET = RequestContext(project_id="alpha-app", key_kind="secret")


def _document(collection: str, doc_id: str) -> dict[str, Any] | None:
    from baas.api.errors import NotFound

    try:
        return document_get(ctx=SECRET, collection=collection, doc_id=doc_id).data
    except NotFound:
        return None


def _executions(name: str) -> list[Execution]:
    return list(Execution.objects.for_project("alpha-app").filter(function_name=name).order_by("created_at", "seq"))


ON_ORDER = """
from baas_functions import on_document_written

@on_document_written("orders")
def handler(event, ctx):
    after = event.after or {}
    ctx.db.collection("receipts").doc(event.subject).set({
        "total": after.get("total"), "eventId": event.id, "type": event.type,
        "before": (event.before or {}).get("total"),
    })
"""


def test_a_document_write_runs_the_function_which_writes_another(
    functions_worker: Worker, secret_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("receipts", ON_ORDER)
    assert secret_api.put("/v1/projects/alpha-app/collections/orders/documents/o1", {"data": {"total": 12}}).status in (200, 201)
    receipt = wait_for(lambda: _document("receipts", "o1"), what="the receipt")
    assert receipt["total"] == 12 and receipt["type"] == "document.created" and receipt["before"] is None
    assert receipt["eventId"].startswith("alpha-app:")
    assert secret_api.patch("/v1/projects/alpha-app/collections/orders/documents/o1", {"data": {"total": 15}}).status == 200
    updated = wait_for(lambda: (doc := _document("receipts", "o1")) and doc["total"] == 15 and doc, what="the update")
    assert updated["type"] == "document.updated" and updated["before"] == 12
    # The function's own write (receipts) triggers nothing: only orders are watched.
    executions = wait_for(
        lambda: (rows := _executions("receipts")) and all(e.status == "succeeded" for e in rows) and rows,
        what="both executions recorded",
    )
    assert [e.event["type"] for e in executions] == ["document.created", "document.updated"]
    assert all(e.status == "succeeded" and e.trigger == "document" for e in executions)
    assert executions[0].seq < executions[1].seq


def test_events_of_one_document_run_in_order(
    functions_worker: Worker, secret_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("log", """
from baas_functions import on_document_updated
import time

@on_document_updated("counters")
def handler(event, ctx):
    time.sleep(0.05 if event.after["n"] % 2 else 0)
    ctx.db.collection("seen").doc(str(event.seq)).set({"n": event.after["n"], "at": time.time()})
""")
    path = "/v1/projects/alpha-app/collections/counters/documents/c"
    assert secret_api.put(path, {"data": {"n": 0}}).status in (200, 201)
    for n in range(1, 7):
        assert secret_api.patch(path, {"data": {"n": n}}).status == 200
    wait_for(lambda: len([e for e in _executions("log") if e.status == "succeeded"]) == 6, what="six runs")
    runs = sorted(_executions("log"), key=lambda e: e.started_at)
    assert [e.event["data"]["n"] for e in runs] == [1, 2, 3, 4, 5, 6]


def test_a_sign_up_runs_the_auth_trigger(
    functions_worker: Worker, public_api: Api, deploy: Callable[..., Any]
) -> None:
    deploy("welcome", """
from baas_functions import on_user_created

@on_user_created
def handler(event, ctx):
    ctx.db.collection("welcomed").doc(event.subject).set({"email": event.data["email"]})
""")
    response = public_api.post("/v1/projects/alpha-app/auth/signup", {"email": "ana@example.com", "password": "a-Long-pass-42"})
    assert response.status in (200, 201), response.body
    uid = response.body["user"]["uid"]
    assert wait_for(lambda: _document("welcomed", uid), what="the welcome") == {"email": "ana@example.com"}
    assert _executions("welcome")[0].trigger == "auth"


def test_an_upload_runs_the_storage_trigger(
    functions_worker: Worker, secret_api: Api, deploy: Callable[..., Any]
) -> None:
    assert secret_api.post("/v1/projects/alpha-app/buckets", {"name": "avatars"}).status == 201
    deploy("thumbs", """
from baas_functions import on_object_finalized

@on_object_finalized("avatars")
def handler(event, ctx):
    ctx.db.collection("thumbs").doc("last").set({"path": event.subject, "size": event.data["size"]})
""")
    uploaded = secret_api.put("/v1/projects/alpha-app/buckets/avatars/objects/u1/me.png", raw=b"\x89PNG....",
                              content_type="image/png")
    assert uploaded.status in (200, 201), uploaded.body
    assert wait_for(lambda: _document("thumbs", "last"), what="the thumbnail") == {"path": "u1/me.png", "size": 8}


def test_a_schedule_fires_and_a_changed_schedule_takes_effect(
    functions_worker: Worker, secret_api: Api, deploy: Callable[..., Any]
) -> None:
    ticking = """
from baas_functions import on_schedule

@on_schedule("* * * * * *", timezone="Europe/Paris")
def handler(event, ctx):
    ctx.db.collection("ticks").doc(event.time.replace(":", "-")).set({"cron": event.cron})
"""
    deploy("ticker", ticking)
    wait_for(lambda: len([e for e in _executions("ticker") if e.status == "succeeded"]) >= 2, timeout=20, what="two ticks")
    ids = [e.event_id for e in _executions("ticker")]
    assert len(ids) == len(set(ids))  # each tick once
    # A deploy with a far-away schedule stops the per-second one, without a restart.
    deploy("ticker", ticking.replace("* * * * * *", "0 0 1 1 *"))
    time.sleep(2.5)
    settled = len(_executions("ticker"))
    time.sleep(2.5)
    assert len(_executions("ticker")) == settled


def test_failures_are_retried_then_dead_lettered_and_can_be_replayed(
    functions_worker: Worker, secret_api: Api, deploy: Callable[..., Any], settings: Any
) -> None:
    deploy("flaky", """
from baas_functions import on_document_created

@on_document_created("jobs")
def handler(event, ctx):
    raise RuntimeError("attempt failed")
""", retry={"maxAttempts": 3})
    assert secret_api.put("/v1/projects/alpha-app/collections/jobs/documents/j1", {"data": {}}).status in (200, 201)
    execution = wait_for(
        lambda: (rows := _executions("flaky")) and rows[0].status == "failed" and rows[0], timeout=40, what="dead letter"
    )
    assert execution.attempt == 3 and execution.dead_letter and execution.error["message"] == "attempt failed"
    listed = secret_api.get(f"{BASE}/flaky/executions").body["executions"]
    assert listed[0]["deadLetter"] is True and listed[0]["attempt"] == 3

    deploy("flaky", """
from baas_functions import on_document_created

@on_document_created("jobs")
def handler(event, ctx):
    ctx.db.collection("done").doc(event.subject).set({"eventId": event.id})
""")
    replay = secret_api.post(f"{BASE}/flaky/executions/{execution.id}:replay")
    assert replay.status == 202 and replay.body["replayOf"] == execution.id
    done = wait_for(lambda: _document("done", "j1"), what="the replay")
    assert done == {"eventId": execution.event_id}
    assert secret_api.post(f"{BASE}/flaky/executions/ex_missing:replay").error_code == "not_found"
