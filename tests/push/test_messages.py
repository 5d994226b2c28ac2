"""Sending: the real firebase-admin client against the fake FCM server, jobs on a real
worker (the embedded worker thread, or a Celery worker process in services mode)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from baas.api.context import RequestContext
from tests.conftest import MODE
from projects.push.models import Device, PushDelivery, PushMessage, TopicSubscription

PUSH = "/v1/projects/alpha-app/push"
NOTE = {"title": "Hello", "body": "World"}


def _devices(tokens: list[str], uid: str = "ada", project_id: str = "alpha-app", topic: str | None = None) -> None:
    rows = Device.objects.for_project(project_id).bulk_create(
        [Device(project_id=project_id, token=token, uid=uid, platform="android") for token in tokens]
    )
    if topic:
        saved = Device.objects.for_project(project_id).filter(token__in=tokens)
        TopicSubscription.objects.for_project(project_id).bulk_create(
            [TopicSubscription(project_id=project_id, device=device, topic=topic) for device in saved]
        )
    assert len(rows) == len(tokens)


@pytest.fixture
def credentials(secret_api: Any, service_account: dict[str, str]) -> None:
    assert secret_api.put(f"{PUSH}/credentials", {"serviceAccount": service_account}).status == 200


def _send(secret_api: Any, body: dict[str, Any]) -> str:
    response = secret_api.post(f"{PUSH}/messages", body)
    assert response.status == 202, response.body
    assert response.body["status"] in ("queued", "scheduled") and response.body["id"].startswith("msg_")
    return response.body["id"]


def _deliveries(message_id: str) -> dict[str, tuple[str, int]]:
    return {
        row.token: (row.status, row.attempts)
        for row in PushDelivery.objects.for_project("alpha-app").filter(message_id=message_id)
    }


def test_1200_tokens_go_out_in_three_batches(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any, monkeypatch: Any
) -> None:
    from firebase_admin import messaging

    calls: list[int] = []
    real_send_each = messaging.send_each

    def counted(messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(len(messages))
        return real_send_each(messages, *args, **kwargs)

    monkeypatch.setattr(messaging, "send_each", counted)  # seen when the worker is this process (embedded)
    tokens = [f"tok-{i:05d}" for i in range(1200)]
    _devices(tokens)
    message_id = _send(secret_api, {"target": {"users": ["ada"]}, "notification": NOTE, "data": {"k": "v"}})
    done = wait_message(message_id)
    assert done["status"] == "sent" and done["recipients"] == 1200
    assert done["counts"] == {"success": 1200, "failure": 0, "invalidTokens": 0}
    assert sorted(fake_fcm.sent_tokens()) == tokens  # each exactly once
    assert fake_fcm.tokens_issued >= 1
    message = PushMessage.objects.for_project("alpha-app").get(pk=message_id)
    assert message.batches == 3
    per_batch = Counter(PushDelivery.objects.for_project("alpha-app").filter(message=message).values_list("batch", flat=True))
    assert per_batch == {0: 500, 1: 500, 2: 200}
    attempts = sum(PushDelivery.objects.for_project("alpha-app").filter(message=message).values_list("attempts", flat=True))
    if MODE == "embedded":
        assert sorted(calls) == [200, 500, 500] and attempts == 1200  # one call per batch, no retries
    else:
        assert calls == []  # the worker process sent them
    body = fake_fcm.requests_for("tok-00000")[0].body
    assert body["message"]["notification"] == NOTE and body["message"]["data"] == {"k": "v"}
    assert fake_fcm.requests_for("tok-00000")[0].project == "demo-fcm"


def test_unregistered_and_invalid_tokens_are_deactivated(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any
) -> None:
    _devices(["good-1", "unregistered-1", "invalid-1"])
    message_id = _send(secret_api, {"target": {"users": ["ada"]}, "notification": NOTE})
    done = wait_message(message_id)
    assert done["status"] == "partially_failed"
    assert done["counts"] == {"success": 1, "failure": 2, "invalidTokens": 2}
    assert _deliveries(message_id) == {"good-1": ("sent", 1), "unregistered-1": ("invalid_token", 1), "invalid-1": ("invalid_token", 1)}
    active = dict(Device.objects.for_project("alpha-app").values_list("token", "is_active"))
    assert active == {"good-1": True, "unregistered-1": False, "invalid-1": False}
    results = secret_api.get(f"{PUSH}/messages/{message_id}/deliveries").body["deliveries"]
    by_token = {r["token"]: r for r in results}
    assert by_token["unregistered-1"]["error"]["code"] == "NOT_FOUND"
    assert by_token["good-1"]["messageId"].startswith("projects/demo-fcm/messages/")
    # The next message skips the dead tokens.
    fake_fcm.reset()
    again = wait_message(_send(secret_api, {"target": {"users": ["ada"]}, "data": {"n": "2"}}))
    assert again["recipients"] == 1 and again["status"] == "sent" and fake_fcm.sent_tokens() == ["good-1"]


def test_a_503_is_retried_after_retry_after_and_nothing_is_sent_twice(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any
) -> None:
    _devices(["flaky-1", "steady-1", "steady-2"])
    message_id = _send(secret_api, {"target": {"tokens": ["flaky-1", "steady-1", "steady-2"]}, "notification": NOTE})
    done = wait_message(message_id)
    assert done["status"] == "sent" and done["counts"] == {"success": 3, "failure": 0, "invalidTokens": 0}
    flaky = fake_fcm.requests_for("flaky-1")
    assert [r.status for r in flaky] == [503, 200]
    assert flaky[1].at - flaky[0].at >= 1.0  # the fake's Retry-After: 1
    assert [r.status for r in fake_fcm.requests_for("steady-1")] == [200]
    assert [r.status for r in fake_fcm.requests_for("steady-2")] == [200]
    assert _deliveries(message_id) == {"flaky-1": ("sent", 2), "steady-1": ("sent", 1), "steady-2": ("sent", 1)}


def test_retries_stop_at_the_limit_and_the_message_fails(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any
) -> None:
    fake_fcm.flaky_failures, fake_fcm.retry_after = 99, "0"
    try:
        message_id = _send(secret_api, {"target": {"tokens": ["flaky-forever"]}, "notification": NOTE})
        done = wait_message(message_id)
    finally:
        fake_fcm.flaky_failures, fake_fcm.retry_after = 1, "1"
    assert done["status"] == "failed" and done["counts"] == {"success": 0, "failure": 1, "invalidTokens": 0}
    assert [r.status for r in fake_fcm.requests_for("flaky-forever")] == [503, 503, 503]  # BAAS_PUSH_MAX_ATTEMPTS=3
    assert _deliveries(message_id) == {"flaky-forever": ("failed", 3)}


def test_a_message_to_a_topic_reaches_its_subscribers_only(
    secret_api: Any, other_project: Any, credentials: None, fake_fcm: Any, wait_message: Any
) -> None:
    _devices(["news-1", "news-2"], uid="ada", topic="news")
    _devices(["sports-1"], uid="bob", topic="sports")
    _devices(["news-other-project"], project_id="beta-app", topic="news")
    body = {
        "target": {"topic": "news"},
        "notification": NOTE,
        "android": {"priority": "high", "ttl": 60, "notification": {"channelId": "breaking", "color": "#ff0000"}},
        "apns": {"headers": {"apns-priority": "10"}, "payload": {"aps": {"badge": 3, "alert": {"title": "T"}}, "extra": "1"}},
        "webpush": {"fcmOptions": {"link": "https://example.com/news"}, "notification": {"icon": "https://example.com/i.png"}},
    }
    done = wait_message(_send(secret_api, body))
    assert done["status"] == "sent" and done["recipients"] == 2
    assert sorted(fake_fcm.sent_tokens()) == ["news-1", "news-2"]
    sent = fake_fcm.requests_for("news-1")[0].body["message"]
    assert sent["android"] == {"priority": "high", "ttl": "60s", "notification": {"channel_id": "breaking", "color": "#ff0000"}}
    assert sent["apns"] == {"headers": {"apns-priority": "10"}, "payload": {"aps": {"badge": 3, "alert": {"title": "T"}}, "extra": "1"}}
    assert sent["webpush"] == {"fcm_options": {"link": "https://example.com/news"}, "notification": {"icon": "https://example.com/i.png"}}


@pytest.fixture
def other_credentials(api: Any, other_project: Any, service_account: dict[str, str]) -> None:
    beta = api.with_key(other_project.secret_key)
    assert beta.put("/v1/projects/beta-app/push/credentials", {"serviceAccount": service_account}).status == 200


def test_without_credentials_a_message_is_a_dry_run(secret_api: Any, fake_fcm: Any, wait_message: Any) -> None:
    _devices(["dry-1", "dry-2"])
    message_id = _send(secret_api, {"target": {"users": ["ada"]}, "notification": NOTE})
    done = wait_message(message_id)
    assert done["status"] == "dry_run" and done["recipients"] == 2
    assert done["counts"] == {"success": 0, "failure": 0, "invalidTokens": 0}
    assert _deliveries(message_id) == {"dry-1": ("dry_run", 0), "dry-2": ("dry_run", 0)}
    time.sleep(0.3)
    assert fake_fcm.received == [] and fake_fcm.tokens_issued >= 0


def test_a_scheduled_message_waits_for_send_at(secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any) -> None:
    _devices(["later-1"])
    send_at = datetime.now(timezone.utc) + timedelta(seconds=2)
    message_id = _send(secret_api, {"target": {"users": ["ada"]}, "data": {"a": "b"}, "sendAt": send_at.isoformat()})
    assert secret_api.get(f"{PUSH}/messages/{message_id}").body["status"] == "scheduled"
    done = wait_message(message_id)
    assert done["status"] == "sent" and fake_fcm.sent_tokens() == ["later-1"]
    assert fake_fcm.requests_for("later-1")[0].at >= 0
    completed = datetime.fromisoformat(done["completeTime"].replace("Z", "+00:00"))
    assert completed >= send_at


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"notification": NOTE}, "'target' is required"),
        ({"target": {"users": ["a"], "topic": "t"}, "notification": NOTE}, "exactly one of"),
        ({"target": {"users": []}, "notification": NOTE}, "list of 1-1000"),
        ({"target": {"topic": "no spaces"}, "notification": NOTE}, "'topic'"),
        ({"target": {"tokens": ["t"]}}, "at least one of"),
        ({"target": {"tokens": ["t"]}, "data": {"n": 1}}, "'data' maps strings to strings"),
        ({"target": {"tokens": ["t"]}, "notification": {"title": "x", "sound": "y"}}, "Unknown fields in 'notification'"),
        ({"target": {"tokens": ["t"]}, "android": {"priority": "urgent"}}, "Invalid message"),
        ({"target": {"tokens": ["t"]}, "data": {"a": "b"}, "sendAt": "2030-01-01T00:00:00"}, "'sendAt'"),
        ({"target": {"tokens": ["t"]}, "data": {"big": "x" * 5000}}, "larger than 4096"),
        ({"target": {"tokens": ["t"]}, "data": {"a": "b"}, "priority": "high"}, "Unknown fields: priority"),
    ],
)
def test_bad_messages_are_400_and_nothing_is_recorded(secret_api: Any, body: dict[str, Any], fragment: str) -> None:
    response = secret_api.post(f"{PUSH}/messages", body)
    assert response.status == 400 and response.error_code == "invalid_argument", response.body
    assert fragment in response.body["error"]["message"]
    assert not PushMessage.objects.unscoped().exists()


def test_sending_needs_a_secret_key(public_api: Any, project: Any, enduser_token: Any) -> None:
    for client in (public_api, public_api.with_bearer(enduser_token(project, "ada"))):
        response = client.post(f"{PUSH}/messages", {"target": {"tokens": ["t"]}, "data": {"a": "b"}})
        assert response.status == 403
    assert not PushMessage.objects.unscoped().exists()


def test_other_projects_cannot_read_or_reach_messages_and_devices(
    api: Any, secret_api: Any, other_project: Any, credentials: None, other_credentials: None,
    fake_fcm: Any, wait_message: Any,
) -> None:
    _devices(["alpha-ada-1"], uid="ada")
    alpha_id = wait_message(_send(secret_api, {"target": {"users": ["ada"]}, "data": {"a": "b"}}))["id"]
    beta = api.with_key(other_project.secret_key)
    for path in (f"{PUSH}/messages/{alpha_id}", f"{PUSH}/messages/{alpha_id}/deliveries"):
        assert beta.get(path).status == 401
    assert beta.post(f"{PUSH}/messages", {"target": {"users": ["ada"]}, "data": {"x": "y"}}).status == 401
    for path in (f"/v1/projects/beta-app/push/messages/{alpha_id}", f"/v1/projects/beta-app/push/messages/{alpha_id}/deliveries"):
        assert beta.get(path).status == 404
    fake_fcm.reset()
    # Beta's message to "ada" and to alpha's token reaches none of alpha's devices.
    response = beta.post("/v1/projects/beta-app/push/messages", {"target": {"users": ["ada"]}, "data": {"x": "y"}})
    assert response.status == 202
    beta_tokens = beta.post("/v1/projects/beta-app/push/messages", {"target": {"tokens": ["alpha-ada-1"]}, "data": {"x": "y"}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and PushMessage.objects.for_project("beta-app").exclude(status="sent").exists():
        time.sleep(0.1)
    beta_rows = {m.id: (m.status, m.recipients) for m in PushMessage.objects.for_project("beta-app")}
    assert beta_rows == {response.body["id"]: ("sent", 0), beta_tokens.body["id"]: ("sent", 1)}
    # A raw token is the sender's to name; it went out under beta's own FCM project, not alpha's data.
    assert [(r.token, r.body["message"]["data"]) for r in fake_fcm.received] == [("alpha-ada-1", {"x": "y"})]
    assert [m["id"] for m in secret_api.get(f"{PUSH}/messages").body["messages"]] == [alpha_id]
    assert {m["id"] for m in beta.get("/v1/projects/beta-app/push/messages?limit=10").body["messages"]} == set(beta_rows)
    assert beta.get(f"{PUSH}/messages").status == 401
    alpha = PushMessage.objects.for_project("alpha-app").get(pk=alpha_id)
    assert (alpha.status, alpha.recipients, alpha.success_count) == ("sent", 1, 1)
    assert PushDelivery.objects.for_project("alpha-app").count() == 1


def test_functions_send_through_the_same_service(credentials: None, fake_fcm: Any, wait_message: Any) -> None:
    from projects.push.services import push_message_send

    _devices(["fn-1"])
    ctx = RequestContext(project_id="alpha-app", key_kind="secret", origin="function")
    result = push_message_send(ctx=ctx, target={"users": ["ada"]}, notification=NOTE)
    assert set(result) == {"id", "status", "target", "sendAt", "recipients", "counts", "createTime", "completeTime"}
    done = wait_message(result["id"])
    assert done["status"] == "sent" and fake_fcm.sent_tokens() == ["fn-1"]
    assert PushMessage.objects.for_project("alpha-app").get(pk=result["id"]).origin == "function"


@pytest.mark.services
def test_services_mode_fans_out_on_a_celery_worker_process(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any, push_worker: Any
) -> None:
    from baas import jobs

    assert jobs._worker is None  # no worker thread here: only the worker process can send
    assert push_worker is not None and push_worker.poll() is None
    _devices(["proc-1", "proc-2"])
    done = wait_message(_send(secret_api, {"target": {"users": ["ada"]}, "notification": NOTE}))
    assert done["status"] == "sent" and sorted(fake_fcm.sent_tokens()) == ["proc-1", "proc-2"]


@pytest.mark.parametrize(
    "extra",
    [
        {"android": "x"}, {"apns": []}, {"webpush": 5}, {"notification": "x"}, {"data": []},
        {"android": {"notification": "x"}}, {"android": {"ttl": -5}}, {"android": {"ttl": True}},
        {"apns": {"payload": {"aps": {"alert": 5}}}}, {"apns": {"payload": {"noaps": 1}}},
        {"webpush": {"notification": {"actions": "x"}}}, {"webpush": {"notification": {"actions": [5]}}},
        {"webpush": {"headers": [1]}}, {"android": {"notification": {"bodyLocArgs": "x"}}},
        {"notification": {"title": 5}}, {"apns": {"payload": {"aps": {"badge": "many"}}}},
    ],
)
def test_oddly_shaped_messages_are_400_not_500(secret_api: Any, extra: dict[str, Any]) -> None:
    response = secret_api.post(f"{PUSH}/messages", {"target": {"tokens": ["t"]}, **extra})
    assert response.status == 400 and response.error_code == "invalid_argument", (extra, response.body)
    assert not PushMessage.objects.unscoped().exists()


def test_bad_delivery_cursors_are_400(secret_api: Any) -> None:
    message_id = _send(secret_api, {"target": {"tokens": ["t"]}, "data": {"a": "b"}})
    for cursor in ("x", "-1", "9" * 40):
        response = secret_api.get(f"{PUSH}/messages/{message_id}/deliveries?cursor={cursor}")
        assert response.status == 400 and response.body["error"]["details"] == {"field": "cursor"}
    assert secret_api.get(f"{PUSH}/messages/{message_id}/deliveries?limit=0").status == 400
    assert secret_api.get(f"{PUSH}/messages/msg_missing").status == 404


def test_the_sweep_sends_messages_whose_jobs_were_lost(
    secret_api: Any, credentials: None, fake_fcm: Any, wait_message: Any, settings: Any
) -> None:
    from projects.push.services import push_messages_sweep

    _devices(["lost-1", "lost-2"])
    old = datetime.now(timezone.utc) - timedelta(seconds=settings.BAAS_PUSH_STALE_SECONDS + 60)
    lost = PushMessage.objects.for_project("alpha-app").create(
        id="msg_lost", project_id="alpha-app", target={"users": ["ada"]}, content={"data": {"k": "v"}}, status="queued")
    PushMessage.objects.for_project("alpha-app").filter(pk=lost.pk).update(created_at=old)
    due = PushMessage.objects.for_project("alpha-app").create(
        id="msg_due", project_id="alpha-app", target={"tokens": ["lost-1"]}, content={"data": {"k": "w"}},
        status="scheduled", send_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    fresh = PushMessage.objects.for_project("alpha-app").create(
        id="msg_fresh", project_id="alpha-app", target={"users": ["ada"]}, content={"data": {"k": "x"}}, status="queued")
    assert push_messages_sweep() == {"dispatched": 2, "batches": 0}
    assert wait_message(lost.pk)["counts"]["success"] == 2 and wait_message(due.pk)["counts"]["success"] == 1
    assert PushMessage.objects.for_project("alpha-app").get(pk=fresh.pk).status == "queued"  # its job may still come
    assert sorted(fake_fcm.sent_tokens()) == ["lost-1", "lost-1", "lost-2"]


def test_retry_delays_grow_with_jitter_and_honour_retry_after(settings: Any) -> None:
    from projects.push.services import retry_delay

    settings.BAAS_PUSH_RETRY_BASE_SECONDS, settings.BAAS_PUSH_RETRY_MAX_SECONDS = 2.0, 60.0
    for attempt, (low, high) in {1: (1, 2), 2: (2, 4), 3: (4, 8), 4: (8, 16)}.items():
        delays = {retry_delay(attempt, None) for _ in range(50)}
        assert all(low <= d <= high for d in delays) and len(delays) > 1
    assert retry_delay(1, 30.0) == 30.0  # Retry-After wins when longer
    assert retry_delay(10, None) <= 60.0 and retry_delay(1, 3600.0) == 60.0  # both capped
