"""Realtime through the SDK over real sockets: document, collection and query
subscriptions; resume after the socket is cut during a burst of writes (the final state
and the event sequence are exact); a resync when the log no longer reaches back; a changed
user; re-authentication as the access token is refreshed during a long subscription."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from baas_client import Client, PermissionDenied, RealtimeEvent, Unauthenticated

from tests.realtime.client import Realtime as RawRealtime
from tests.sdks.python.proxy import CuttableProxy

P = "alpha-app"
PASSWORD = "correct-Horse-battery-9"
FAST = {"backoff_base": 0.05, "backoff_max": 0.5}


class Events:
    """Collects a subscription's events (they arrive on the realtime thread)."""

    def __init__(self) -> None:
        self.items: list[RealtimeEvent] = []
        self.condition = threading.Condition()

    def __call__(self, event: RealtimeEvent) -> None:
        with self.condition:
            self.items.append(event)
            self.condition.notify_all()

    def wait_for(self, predicate: Callable[[list[RealtimeEvent]], bool], timeout: float = 30) -> list[RealtimeEvent]:
        with self.condition:
            assert self.condition.wait_for(lambda: predicate(self.items), timeout), self.items[-5:]
            return list(self.items)

    def wait_count(self, count: int, timeout: float = 30) -> list[RealtimeEvent]:
        return self.wait_for(lambda items: len(items) >= count, timeout)

    def triples(self) -> list[tuple[str, str, Any]]:
        return [(e.type, e.id, e.data) for e in self.items]


@pytest.fixture
def proxy(server: Any) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(server.url)
    yield proxy
    proxy.close()


def state_of(admin: Client, collection: str) -> dict[str, Any]:
    return {d.id: d.data for d in admin.collection(collection).limit(1000).stream()}


def test_document_collection_and_query_subscriptions(admin: Client, app: Client) -> None:
    admin.admin.set_collection_config("posts", rules={"read": "true"})
    admin.collection("posts").doc("a").set({"n": 1})
    one, everything, high = Events(), Events(), Events()
    doc_sub = app.realtime.subscribe(app.collection("posts").doc("a"), on_change=one)
    assert {k: v.data for k, v in doc_sub.docs.items()} == {"a": {"n": 1}}
    all_sub = app.realtime.subscribe("posts", on_change=everything)
    query_sub = app.realtime.subscribe(app.collection("posts").where("n", ">", 5), on_change=high)
    assert query_sub.docs == {} and query_sub.seq == all_sub.seq
    admin.collection("posts").doc("b").set({"n": 7})
    admin.collection("posts").doc("a").update({"n": 9})
    admin.collection("posts").doc("b").update({"n": 2})
    admin.collection("posts").doc("a").delete()
    everything.wait_count(4)
    assert everything.triples() == [("added", "b", {"n": 7}), ("modified", "a", {"n": 9}),
                                    ("modified", "b", {"n": 2}), ("removed", "a", None)]
    assert high.wait_count(4) and high.triples() == [("added", "b", {"n": 7}), ("added", "a", {"n": 9}),
                                                     ("removed", "b", None), ("removed", "a", None)]
    assert one.wait_count(2) and one.triples() == [("modified", "a", {"n": 9}), ("removed", "a", None)]
    assert [e.seq for e in everything.items] == sorted({e.seq for e in everything.items})
    assert {k: v.data for k, v in all_sub.docs.items()} == {"b": {"n": 2}} and query_sub.docs == {}
    all_sub.unsubscribe()
    admin.collection("posts").doc("c").set({"n": 10})
    high.wait_count(5)
    time.sleep(0.3)
    assert len(everything.items) == 4 and high.triples()[-1] == ("added", "c", {"n": 10})


def test_subscribing_without_rights_is_a_typed_error(admin: Client, app: Client) -> None:
    admin.admin.set_collection_config("closed", rules={"create": "true"})  # no read rule: denied
    with pytest.raises(PermissionDenied) as denied:
        app.realtime.subscribe("closed")
    assert denied.value.code == "permission_denied"


def test_a_wrong_key_fails_the_subscription_without_retrying(server: Any, make_client: Any,
                                                             other_project: Any) -> None:
    intruder = make_client(server, other_project.publishable_key, realtime_options=FAST)
    with pytest.raises(Unauthenticated):
        intruder.realtime.subscribe("posts", timeout=15)
    assert intruder.realtime.connection.connects == 0


def test_an_unreachable_server_times_out_then_recovers(admin: Client, proxy: CuttableProxy, make_client: Any) -> None:
    admin.admin.set_collection_config("posts", rules={"read": "true"})
    proxy.cut(refuse=True)
    client = make_client(proxy, realtime_options=FAST)
    with pytest.raises(TimeoutError):
        client.realtime.subscribe("posts", timeout=1)
    assert client.realtime.connection.subs == {} and client.realtime.connection.connects == 0
    proxy.restore()  # the connection keeps trying, with backoff
    events = Events()
    client.realtime.subscribe("posts", on_change=events, timeout=15)
    admin.collection("posts").doc("p").set({"ok": True})
    assert events.wait_count(1)[0].data == {"ok": True}


def test_resume_after_cuts_during_a_burst_is_exact(admin: Client, server: Any, proxy: CuttableProxy,
                                                   project: Any, make_client: Any) -> None:
    """The socket is reset twice while writes go on: every change arrives exactly once, in
    order, and the subscription's state equals the collection's."""
    admin.admin.set_collection_config("burst", rules={"read": "true"})
    admin.batch().set("burst", "d00", {"n": -1}).set("burst", "d01", {"n": -2}).commit()
    client = make_client(proxy, realtime_options=FAST)
    events = Events()
    sub = client.realtime.subscribe("burst", on_change=events)
    assert {k: v.data for k, v in sub.docs.items()} == {"d00": {"n": -1}, "d01": {"n": -2}}

    writes = 240
    expected: list[tuple[str, str, Any]] = []
    model = {"d00": {"n": -1}, "d01": {"n": -2}}
    for i in range(writes):
        doc_id = f"d{i % 20:02d}"
        if i % 9 == 0:
            if doc_id in model:
                expected.append(("removed", doc_id, None))
                del model[doc_id]
        else:
            expected.append(("added" if doc_id not in model else "modified", doc_id, {"n": i}))
            model[doc_id] = {"n": i}
    progress = {"written": 0}

    def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.005)

    connection = client.realtime.connection

    def writer() -> None:
        docs = admin.collection("burst")
        for i in range(writes):
            if i == 170:  # the second cut must find a live socket again: let it reconnect first
                wait_until(lambda: connection.connects == 2)
            doc_id = f"d{i % 20:02d}"
            if i % 9 == 0:
                docs.doc(doc_id).delete()
            else:
                docs.doc(doc_id).set({"n": i})
            progress["written"] = i + 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    cut_at = []
    try:
        for number, threshold in enumerate((60, 180), start=1):
            wait_until(lambda: progress["written"] >= threshold and connection.connects == number)
            received_before = len(events.items)
            assert proxy.cut() == 1
            cut_at.append((progress["written"], received_before))
    finally:
        thread.join()
    # Both cuts happened mid-burst, with events flowing on the socket that was cut.
    assert all(written < writes and received > 0 for written, received in cut_at), cut_at
    received = events.wait_count(len(expected), timeout=60)
    time.sleep(0.5)
    assert events.triples() == expected
    seqs = [e.seq for e in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert connection.connects == 3
    assert {k: v.data for k, v in sub.docs.items()} == model == state_of(admin, "burst")
    assert sub.resyncs == 0  # resumed from the log, not re-snapshotted


def test_resume_past_the_log_resyncs_from_a_snapshot(admin: Client, server: Any, proxy: CuttableProxy,
                                                     make_client: Any, settings: Any) -> None:
    from projects.documents.changelog import changelog_head, changelog_oldest, changelog_prune

    admin.admin.set_collection_config("old", rules={"read": "true"})
    admin.batch().set("old", "a", {"v": 1}).set("old", "b", {"v": 1}).set("old", "c", {"v": 1}).commit()
    client = make_client(proxy, realtime_options=FAST)
    events = Events()
    sub = client.realtime.subscribe("old", on_change=events)
    proxy.cut(refuse=True)  # offline while the log moves on and is pruned
    admin.collection("old").doc("a").set({"v": 2})
    admin.collection("old").doc("b").delete()
    admin.collection("old").doc("d").set({"v": 1})
    # The server numbers writes just after they commit: prune only once all three are numbered,
    # or one numbered later would still be in the log for the resume.
    deadline = time.monotonic() + 10
    while changelog_head(project_id=P) < sub.seq + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert changelog_head(project_id=P) == sub.seq + 3
    settings.BAAS_CHANGELOG_MIN_ENTRIES = 0
    settings.BAAS_CHANGELOG_RETENTION_SECONDS = 0
    from datetime import datetime, timedelta, timezone

    from django.db import connection

    with connection.cursor() as cursor:  # no event-feed consumer holds the log back here
        cursor.execute("DELETE FROM baas_feed_cursor WHERE project_id = %s", [P])
    assert changelog_prune(now=datetime.now(timezone.utc) + timedelta(seconds=5)) >= 3
    oldest = changelog_oldest(project_id=P)
    assert oldest is None or oldest > sub.seq + 1  # the subscriber's position is gone
    proxy.restore()
    events.wait_count(3)
    time.sleep(0.3)
    assert sorted((e.type, e.id, e.data, e.resync) for e in events.items) == [
        ("added", "d", {"v": 1}, True), ("modified", "a", {"v": 2}, True), ("removed", "b", None, True)]
    assert sub.resyncs == 1 and {k: v.data for k, v in sub.docs.items()} == state_of(admin, "old")
    admin.collection("old").doc("c").set({"v": 3})  # and it goes on live
    assert events.wait_count(4)[-1].id == "c" and not events.items[-1].resync


def test_a_new_user_resubscribes_with_a_snapshot(admin: Client, app: Client) -> None:
    admin.admin.set_collection_config("shared", rules={"read": "auth != null"})
    admin.collection("shared").doc("x").set({"v": 1})
    app.auth.sign_up("first@example.com", PASSWORD)
    events = Events()
    sub = app.realtime.subscribe("shared", on_change=events)
    app.auth.sign_up("second@example.com", PASSWORD)  # the socket is told at once
    deadline = time.monotonic() + 10
    while sub.resyncs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sub.resyncs == 1 and events.items == []  # same data: nothing to report
    admin.collection("shared").doc("x").set({"v": 2})
    assert events.wait_count(1)[0].data == {"v": 2}


@pytest.mark.parametrize("margin", [1, -1], ids=["ahead-of-expiry", "late"])
def test_token_refresh_during_a_long_subscription(start: Any, project: Any, make_client: Any, margin: float) -> None:
    """Access tokens live 4 seconds; a subscription that outlives several of them keeps
    receiving changes its rules allow only to signed-in users, because each refreshed token
    is sent on the socket. A socket that keeps its first token stops receiving them.
    Refreshed a second late (a process that was suspended), the changes the server withheld
    meanwhile are replayed from the log."""
    server = start(BAAS_AUTH_ACCESS_TOKEN_LIFETIME="4")
    admin = make_client(server, project.secret_key)
    admin.admin.set_collection_config("feed", rules={"read": "auth != null"})
    app = make_client(server, refresh_margin=margin, realtime_options=FAST)
    app.auth.sign_up("long@example.com", PASSWORD)
    first_token = app.auth.session.access_token
    events = Events()
    app.realtime.subscribe("feed", on_change=events)
    stale = RawRealtime(server.url, P, project.publishable_key)
    stale.auth(first_token)
    stale.subscribe("feed", "feed")
    writes = 40
    for i in range(writes):
        admin.collection("feed").doc(f"m{i:02d}").set({"i": i})
        time.sleep(0.25)
    received = events.wait_count(writes)
    assert [(e.type, e.id, e.data) for e in received] == [("added", f"m{i:02d}", {"i": i}) for i in range(writes)]
    connection = app.realtime.connection
    assert connection.connects == 1 and connection.auth_messages >= 3 - (margin < 0)
    assert app.auth.session.access_token != first_token
    stale_events = [m for m in stale.quiet(1.0) if m.get("type") == "change"]
    assert 0 < len(stale_events) < writes  # the first token's events, then nothing
    stale.close()
