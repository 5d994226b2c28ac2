"""Deliveries: events from the feed, signed, retried, logged, redelivered; on a real
worker (the embedded worker thread, or a Celery worker process in services mode)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone as dt_timezone
from typing import Any, Callable

import orjson
from django.db import transaction
from django.utils import timezone

from baas.api.context import RequestContext
from projects.documents import feeds
from projects.documents.changelog import changelog_sequence
from projects.documents.events import system_event_append
from projects.documents.services import document_create
from projects.webhooks import services, targets
from projects.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from projects.webhooks.signing import signature, signature_verify

HOOKS = "/v1/projects/alpha-app/webhooks"
SECRET = RequestContext(project_id="alpha-app", key_kind="secret")


def _hook(client: Any, url: str, events: list[str] | None = None, **extra: Any) -> tuple[str, str]:
    response = client.post(HOOKS, {"url": url, "events": events or ["*"], **extra})
    assert response.status == 201, response.body
    return response.body["id"], response.body["secret"]


def _emit(ctx: RequestContext = SECRET, collection: str = "orders", doc_id: str = "o1", data: dict[str, Any] | None = None) -> None:
    document_create(ctx=ctx, collection=collection, data=data or {"total": 5}, doc_id=doc_id)
    changelog_sequence()
    feeds.feeds_pump()


def _status(hook: str) -> list[tuple[str, int]]:
    return list(WebhookDelivery.objects.unscoped().filter(endpoint_id=hook).order_by("created_at").values_list("status", "attempts"))


def test_a_document_event_arrives_signed(secret_api: Any, receiver: Any, wait_for: Callable[..., None]) -> None:
    hook, secret = _hook(secret_api, receiver.url + "/ok", ["document.*"])
    _emit(data={"total": 5})
    wait_for(lambda: _status(hook) == [("succeeded", 1)], "the delivery")
    [hit] = receiver.hits_for("/ok")
    assert signature_verify(secret, hit.body, hit.headers["x-baas-signature"])
    assert not signature_verify(secret, hit.body + b" ", hit.headers["x-baas-signature"])
    assert not signature_verify("whsec_wrong", hit.body, hit.headers["x-baas-signature"])
    t = int(hit.headers["x-baas-signature"].split(",")[0][2:])
    assert hit.headers["x-baas-signature"] == signature(secret, hit.body, t)
    event = json.loads(hit.body)
    assert {k: event[k] for k in ("type", "source", "projectId", "collection", "subject", "data", "before")} == {
        "type": "document.created", "source": "document", "projectId": "alpha-app", "collection": "orders",
        "subject": "o1", "data": {"total": 5}, "before": None}
    assert hit.headers["x-baas-event-id"] == event["id"] and hit.headers["x-baas-event-type"] == "document.created"
    log = secret_api.get(f"{HOOKS}/{hook}/deliveries").body["deliveries"]
    assert len(log) == 1 and (log[0]["status"], log[0]["attempts"], log[0]["responseCode"], log[0]["eventId"]) == (
        "succeeded", 1, 200, event["id"])
    assert [(a["attempt"], a["succeeded"], a["responseCode"]) for a in log[0]["log"]] == [(1, True, 200)]
    assert log[0]["log"][0]["durationMs"] >= 0


def test_a_failing_receiver_is_retried_with_backoff_and_recorded(
    secret_api: Any, receiver: Any, wait_for: Callable[..., None]
) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/fail-2")
    _emit()
    wait_for(lambda: _status(hook) == [("succeeded", 3)], "the third attempt")
    hits = receiver.hits_for("/fail-2")
    assert len(hits) == 3 and len({h.headers["x-baas-event-id"] for h in hits}) == 1
    assert [h.headers["x-baas-delivery-attempt"] for h in hits] == ["1", "2", "3"]
    log = secret_api.get(f"{HOOKS}/{hook}/deliveries").body["deliveries"][0]["log"]
    assert [(a["attempt"], a["responseCode"], a["succeeded"]) for a in log] == [(1, 500, False), (2, 500, False), (3, 200, True)]
    assert log[0]["error"] == "the receiver answered 500" and log[2]["error"] is None


def test_retries_stop_at_the_limit_then_a_redelivery_sends_again(
    secret_api: Any, receiver: Any, wait_for: Callable[..., None]
) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/down")
    _emit()
    wait_for(lambda: _status(hook) == [("failed", 3)], "giving up after 3 attempts")  # BAAS_WEBHOOKS_MAX_ATTEMPTS
    assert len(receiver.hits_for("/down")) == 3
    delivery = WebhookDelivery.objects.for_project("alpha-app").get()
    assert (delivery.last_status_code, delivery.last_error) == (500, "the receiver answered 500")
    WebhookEndpoint.objects.for_project("alpha-app").update(url=receiver.url + "/ok")
    redo = secret_api.post(f"{HOOKS}/{hook}/deliveries/{delivery.id}:redeliver")
    assert redo.status == 202 and redo.body["status"] == "pending"
    wait_for(lambda: _status(hook) == [("succeeded", 4)], "the redelivery")
    assert [h.headers["x-baas-delivery-attempt"] for h in receiver.hits_for("/ok")] == ["4"]
    assert list(WebhookAttempt.objects.for_project("alpha-app").order_by("number").values_list("number", "status_code")) == [
        (1, 500), (2, 500), (3, 500), (4, 200)]
    assert secret_api.post(f"{HOOKS}/{hook}/deliveries/whd_nope:redeliver").status == 404


def test_a_slow_receiver_times_out(secret_api: Any, receiver: Any, wait_for: Callable[..., None]) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/slow")
    _emit()
    wait_for(lambda: _status(hook) == [("failed", 3)], "three timeouts", timeout=40)
    errors = list(WebhookAttempt.objects.for_project("alpha-app").values_list("error", "status_code", "duration_ms"))
    assert [(e, code) for e, code, _ in errors] == [("timed out", None)] * 3
    assert all(ms >= 900 for _, _, ms in errors), errors  # BAAS_WEBHOOKS_TIMEOUT=1; the receiver takes 1.5 s


def test_patterns_and_collection_filters_choose_the_events(
    secret_api: Any, receiver: Any, wait_for: Callable[..., None]
) -> None:
    everything, _ = _hook(secret_api, receiver.url + "/ok?all")
    users, _ = _hook(secret_api, receiver.url + "/ok?users", ["user.created"])
    orders, _ = _hook(secret_api, receiver.url + "/ok?orders", ["document.created"], collections=["orders"])
    disabled, _ = _hook(secret_api, receiver.url + "/ok?off", ["*"], enabled=False)
    document_create(ctx=SECRET, collection="orders", data={"n": 1}, doc_id="o1")
    document_create(ctx=SECRET, collection="posts", data={"n": 2}, doc_id="p1")
    with transaction.atomic():
        system_event_append(project_id="alpha-app", source="users", subject="u1", op="create", data={"uid": "u1"})
    changelog_sequence()
    feeds.feeds_pump()
    wait_for(lambda: len(receiver.hits) == 5, "five deliveries")
    got = sorted((h.path.split("?")[1], json.loads(h.body)["type"], json.loads(h.body)["subject"]) for h in receiver.hits)
    assert got == [("all", "document.created", "o1"), ("all", "document.created", "p1"), ("all", "user.created", "u1"),
                   ("orders", "document.created", "o1"), ("users", "user.created", "u1")]
    assert _status(disabled) == []


def test_events_offered_twice_are_delivered_once(secret_api: Any, receiver: Any, wait_for: Callable[..., None]) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/ok")
    event = feeds.Event(id="alpha-app:77", project_id="alpha-app", seq=77, type="object.finalized", source="storage",
                        collection="avatars", subject="a.png", time=datetime.now(dt_timezone.utc), data={"size": 3}, before=None)
    for _ in range(2):
        with transaction.atomic():
            services.webhook_deliveries_create("alpha-app", [event])
    wait_for(lambda: _status(hook) == [("succeeded", 1)], "the delivery")
    wait_for(lambda: len(receiver.hits) >= 1, "the request")
    assert len(receiver.hits) == 1 and json.loads(receiver.hits[0].body)["subject"] == "a.png"


def test_the_sweep_sends_a_delivery_whose_job_was_lost(secret_api: Any, receiver: Any, wait_for: Callable[..., None]) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/ok")
    WebhookDelivery.objects.for_project("alpha-app").create(
        id="whd_lost", project_id="alpha-app", endpoint_id=hook, event_id="alpha-app:5", event_type="document.deleted",
        payload={"id": "alpha-app:5", "type": "document.deleted"}, next_attempt_at=timezone.now() - timedelta(minutes=5),
    )
    WebhookDelivery.objects.for_project("alpha-app").create(
        id="whd_stuck", project_id="alpha-app", endpoint_id=hook, event_id="alpha-app:6", event_type="document.deleted",
        payload={"id": "alpha-app:6", "type": "document.deleted"}, status=DeliveryStatus.SENDING, attempts=1,
        claimed_at=timezone.now() - timedelta(hours=1), next_attempt_at=timezone.now() - timedelta(hours=1),
    )
    assert services.webhook_deliveries_sweep() == {"queued": 1, "reclaimed": 1}
    wait_for(lambda: _status(hook).count(("succeeded", 1)) == 1, "the lost delivery")
    assert WebhookDelivery.objects.for_project("alpha-app").get(pk="whd_lost").status == "succeeded"
    # The reclaimed one is due now, within the grace period: the next sweep would take it.
    assert WebhookDelivery.objects.for_project("alpha-app").get(pk="whd_stuck").status == "pending"


def test_delivery_time_checks_refuse_private_targets(secret_api: Any, receiver: Any, settings: Any, monkeypatch: Any,
                                                     transactional_db: Any, allow_private: Any) -> None:
    hook, _ = _hook(secret_api, receiver.url + "/ok")
    settings.BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    event = feeds.Event(id="alpha-app:1", project_id="alpha-app", seq=1, type="user.deleted", source="auth",
                        collection=None, subject="u1", time=datetime.now(dt_timezone.utc), data=None, before={"uid": "u1"})
    monkeypatch.setattr(services, "_enqueue", lambda ids, countdown=None: None)  # the attempts below run here
    with transaction.atomic():
        [delivery_id] = services.webhook_deliveries_create("alpha-app", [event])
    assert services.webhook_delivery_attempt(delivery_id) is not None
    first = WebhookDelivery.objects.for_project("alpha-app").get(pk=delivery_id)
    assert first.last_error.startswith("target refused: the host '127.0.0.1' resolves to a loopback address")
    # DNS rebinding: the name looked public when checked, the socket reached loopback.
    monkeypatch.setattr(targets, "host_check", lambda host, port: None)
    WebhookDelivery.objects.for_project("alpha-app").filter(pk=delivery_id).update(next_attempt_at=timezone.now())
    services.webhook_delivery_attempt(delivery_id)
    second = WebhookDelivery.objects.for_project("alpha-app").get(pk=delivery_id)
    assert second.last_error.startswith("target refused: the target resolved to a loopback address"), second.last_error
    assert receiver.hits == [] and second.attempts == 2 and second.last_status_code is None


def test_other_projects_events_and_deliveries_stay_apart(
    api: Any, secret_api: Any, other_project: Any, receiver: Any, wait_for: Callable[..., None]
) -> None:
    alpha_hook, _ = _hook(secret_api, receiver.url + "/ok?alpha")
    beta = api.with_key(other_project.secret_key)
    beta_hook = beta.post("/v1/projects/beta-app/webhooks", {"url": receiver.url + "/ok?beta", "events": ["*"]}).body["id"]
    _emit(doc_id="alpha-doc")
    wait_for(lambda: _status(alpha_hook) == [("succeeded", 1)], "alpha's delivery")
    assert _status(beta_hook) == [] and [h.path for h in receiver.hits] == ["/ok?alpha"]
    delivery = WebhookDelivery.objects.for_project("alpha-app").get()
    assert beta.get(f"/v1/projects/beta-app/webhooks/{alpha_hook}/deliveries").status == 404
    assert beta.post(f"/v1/projects/beta-app/webhooks/{beta_hook}/deliveries/{delivery.id}:redeliver").status == 404
    assert beta.post(f"/v1/projects/beta-app/webhooks/{alpha_hook}/deliveries/{delivery.id}:redeliver").status == 404
    assert beta.get(f"/v1/projects/beta-app/webhooks/{beta_hook}/deliveries").body == {"deliveries": []}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1) and len(receiver.hits) == 1
    payload = orjson.loads(receiver.hits[0].body)
    assert payload["projectId"] == "alpha-app"
