"""Realtime over real sockets: real server processes, real HTTP writes, the ``websockets``
client. Ordering, exactly-once, resume, rules per subscriber, membership, back-pressure."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realtime.client import Http, Realtime

P = "alpha-app"


def open_rules(admin: Http, collection: str, rules: dict[str, str] | None = None) -> None:
    response = admin.put(f"/collections/{collection}", {"rules": rules or {"read": "true"}})
    assert response.status_code == 200, response.text


def batch_put(admin: Http, collection: str, docs: dict[str, dict[str, Any]]) -> None:
    writes = [{"op": "set", "collection": collection, "id": doc_id, "data": data} for doc_id, data in docs.items()]
    response = admin.post("/batch", {"writes": writes})
    assert response.status_code == 200, response.text


@pytest.fixture
def server(asgi_server: Any) -> Any:
    return asgi_server


@pytest.fixture
def admin(server: Any, project: Any) -> Http:
    return Http(server.url, P, project.secret_key)


def connect(server: Any, project: Any, token: str | None = None, **kw: Any) -> Realtime:
    client = Realtime(server.url, P, project.publishable_key, **kw)
    client.auth(token)
    return client


# --- the protocol ---------------------------------------------------------------------------------


def test_document_subscription_ping_and_unsubscribe(server: Any, admin: Http, project: Any) -> None:
    open_rules(admin, "posts")
    admin.put("/collections/posts/documents/a", {"data": {"n": 1}})
    client = connect(server, project)
    client.send({"type": "ping"})
    assert client.expect("pong")
    subscribed = client.subscribe("one", "posts", docId="a", snapshot=True)
    assert [doc["data"] for doc in subscribed["snapshot"]] == [{"n": 1}]
    admin.put("/collections/posts/documents/b", {"data": {"n": 2}})  # another document: nothing
    admin.patch("/collections/posts/documents/a", {"data": {"n": 5}})
    (event,) = client.changes(1)
    assert event["sub"] == "one" and event["change"] == "modified" and event["doc"]["data"] == {"n": 5}
    assert event["doc"]["version"] == 2
    client.send({"type": "unsubscribe", "id": "one"})
    admin.patch("/collections/posts/documents/a", {"data": {"n": 6}})
    client.send({"type": "ping"})
    assert client.expect("pong") and client.quiet(0.5) == []
    client.send({"type": "unsubscribe", "id": "one"})
    assert client.expect("error")["code"] == "not_found"


def test_query_membership_transitions(server: Any, admin: Http, project: Any) -> None:
    open_rules(admin, "scores")
    client = connect(server, project)
    client.subscribe("high", "scores", where={"field": "score", "op": ">", "value": 5})
    steps = [({"score": 3}, None), ({"score": 7}, "added"), ({"score": 9}, "modified"), ({"score": 2}, "removed"),
             ({"score": 1}, None), ({"score": 8}, "added")]  # fmt: skip
    for data, _ in steps:
        assert admin.put("/collections/scores/documents/x", {"data": data}).status_code in (200, 201)
    admin.delete("/collections/scores/documents/x")  # it matched: removed
    expected = [change for _, change in steps if change] + ["removed"]
    events = client.changes(len(expected))
    assert [e["change"] for e in events] == expected
    assert events[0]["doc"]["data"] == {"score": 7} and "data" not in events[2]["doc"]
    assert client.quiet(0.5) == []


def test_snapshot_is_exact_while_writes_continue(server: Any, admin: Http, project: Any) -> None:
    """Snapshot plus the events after its seq equals the final state: nothing lost or doubled."""
    open_rules(admin, "live")
    batch_put(admin, "live", {f"d{i:02d}": {"v": 0} for i in range(40)})
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            doc = f"d{n % 50:02d}"
            if n % 7 == 0:
                admin.delete(f"/collections/live/documents/{doc}")
            else:
                admin.put(f"/collections/live/documents/{doc}", {"data": {"v": n}})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        client = connect(server, project)
        subscribed = client.subscribe("all", "live", snapshot=True)
    finally:
        stop.set()
        thread.join()
    state = {doc["id"]: doc["data"] for doc in subscribed["snapshot"]}
    final = {doc["id"]: doc["data"] for doc in admin.post("/collections/live/query", {"limit": 1000}).json()["documents"]}
    for message in client.quiet(3.0):
        assert message["type"] == "change" and message["seq"] > subscribed["seq"]
        if message["change"] == "removed":
            assert message["doc"]["id"] in state
            del state[message["doc"]["id"]]
        else:
            assert (message["change"] == "added") == (message["doc"]["id"] not in state)
            state[message["doc"]["id"]] = message["doc"]["data"]
    assert state == final


# --- rules per subscriber ------------------------------------------------------------------------------


def test_rules_filter_events_per_subscriber(server: Any, admin: Http, project: Any, enduser_token: Any) -> None:
    open_rules(admin, "notes", {"read": "resource.data.owner == auth.uid"})
    u1 = connect(server, project, enduser_token(project, "u1"))
    u2 = connect(server, project, enduser_token(project, "u2"))
    anonymous = connect(server, project)
    for client in (u1, u2, anonymous):
        client.subscribe("mine", "notes", snapshot=True)
    admin.put("/collections/notes/documents/n1", {"data": {"owner": "u1", "t": "a"}})
    admin.put("/collections/notes/documents/n2", {"data": {"owner": "u2"}})
    admin.patch("/collections/notes/documents/n1", {"data": {"owner": "u2"}})  # handed over
    assert [(e["change"], e["doc"]["id"]) for e in u1.changes(2)] == [("added", "n1"), ("removed", "n1")]
    assert [(e["change"], e["doc"]["id"]) for e in u2.changes(2)] == [("added", "n2"), ("added", "n1")]
    assert anonymous.quiet(1.0) == []
    # A document subscription is checked at subscribe time against the get rule.
    u1.send({"type": "subscribe", "id": "theirs", "collection": "notes", "docId": "n2"})
    denied = u1.expect("error")
    assert denied["code"] == "permission_denied" and denied["id"] == "theirs"


def test_missing_rule_denies_and_secret_keys_bypass(server: Any, admin: Http, project: Any) -> None:
    admin.put("/collections/private/documents/x", {"data": {"a": 1}})
    client = connect(server, project)
    client.send({"type": "subscribe", "id": "s", "collection": "private"})
    assert client.expect("error")["code"] == "permission_denied"
    backend = Realtime(server.url, P, project.secret_key)  # no auth message needed
    assert backend.subscribe("s", "private", snapshot=True)["snapshot"][0]["id"] == "x"


def test_token_refresh_mid_connection(server: Any, admin: Http, project: Any, enduser_token: Any) -> None:
    open_rules(admin, "notes", {"read": "resource.data.owner == auth.uid"})
    client = connect(server, project, enduser_token(project, "u1"))
    client.subscribe("mine", "notes")
    admin.put("/collections/notes/documents/a", {"data": {"owner": "u1"}})
    assert client.changes(1)[0]["change"] == "added"
    # The SDK refreshes the same user's token: the subscription carries on.
    assert client.auth(enduser_token(project, "u1", {"fresh": True}))["uid"] == "u1"
    admin.patch("/collections/notes/documents/a", {"data": {"x": 1}})
    assert client.changes(1)[0]["change"] == "modified"
    # Another user signs in on the same socket: subscriptions end, to be made again.
    client.send({"type": "auth", "token": enduser_token(project, "u2")})
    assert client.expect("authenticated")["uid"] == "u2"
    ended = client.expect("error")
    assert ended["code"] == "aborted" and ended["id"] == "mine"
    client.subscribe("mine", "notes")
    admin.put("/collections/notes/documents/b", {"data": {"owner": "u2"}})
    admin.patch("/collections/notes/documents/a", {"data": {"y": 1}})
    assert [(e["change"], e["doc"]["id"]) for e in client.changes(1)] == [("added", "b")]
    assert client.quiet(0.5) == []
    client.send({"type": "auth", "token": "not-a-token"})
    assert client.expect("error")["code"] == "unauthenticated"


# --- resume -----------------------------------------------------------------------------------------------


def test_resume_after_a_dropped_connection_during_a_burst(server: Any, admin: Http, project: Any) -> None:
    open_rules(admin, "burst")
    first = connect(server, project)
    start = first.subscribe("b", "burst")["seq"]
    done = threading.Event()

    def burst() -> None:
        for chunk in range(5):
            batch_put(admin, "burst", {f"k{chunk}-{i:03d}": {"i": i} for i in range(100)})
        done.set()

    thread = threading.Thread(target=burst)
    thread.start()
    received = first.changes(60)
    first.close()  # dropped mid-burst
    thread.join()
    assert done.is_set()
    last = received[-1]["seq"]
    second = connect(server, project)
    assert second.subscribe("b", "burst", resumeFrom=last)["seq"] == last
    rest = second.changes(500 - len(received))
    seqs = [e["seq"] for e in received + rest]
    assert seqs == list(range(start + 1, start + 501))  # every change once, in order
    assert len({e["doc"]["id"] for e in received + rest}) == 500
    assert second.quiet(0.5) == []


def test_resume_validation(server: Any, admin: Http, project: Any) -> None:
    open_rules(admin, "c")
    client = connect(server, project)
    client.send({"type": "subscribe", "id": "x", "collection": "c", "resumeFrom": 10**9})
    assert client.expect("error")["code"] == "invalid_argument"
    client.send({"type": "subscribe", "id": "y", "collection": "c", "resumeFrom": -1})
    assert client.expect("error")["code"] == "invalid_argument"


@pytest.mark.parametrize("extra_env", [{"BAAS_CHANGELOG_MIN_ENTRIES": "5", "BAAS_CHANGELOG_RETENTION_SECONDS": "0"}])
def test_resume_past_retention_is_resume_expired(asgi_server_factory: Any, project: Any, extra_env: dict[str, str]) -> None:
    from projects.documents.changelog import changelog_prune, changelog_sequence

    server = asgi_server_factory("short-log", **extra_env)
    admin = Http(server.url, P, project.secret_key)
    open_rules(admin, "c")
    batch_put(admin, "c", {f"d{i}": {"i": i} for i in range(30)})
    changelog_sequence()
    with pytest.MonkeyPatch.context() as patch:
        from django.conf import settings as django_settings

        patch.setattr(django_settings, "BAAS_CHANGELOG_MIN_ENTRIES", 5)
        patch.setattr(django_settings, "BAAS_CHANGELOG_RETENTION_SECONDS", 0)
        assert changelog_prune() > 0
    client = connect(server, project)
    client.send({"type": "subscribe", "id": "old", "collection": "c", "resumeFrom": 1})
    assert client.expect("error")["code"] == "resume_expired"


# --- back-pressure ----------------------------------------------------------------------------------------


def test_slow_consumer_is_cut_off_with_its_resume_position(asgi_server_factory: Any, project: Any) -> None:
    server = asgi_server_factory("small-buffer", BAAS_REALTIME_SEND_BUFFER_BYTES="200000")
    admin = Http(server.url, P, project.secret_key)
    open_rules(admin, "big")
    slow = connect(server, project, receive_buffer=4096)
    start = slow.subscribe("s", "big")["seq"]
    payload = "x" * 20_000
    total = 600
    for chunk in range(total // 50):
        batch_put(admin, "big", {f"d{chunk:02d}-{i:02d}": {"p": payload} for i in range(50)})
    got: list[dict[str, Any]] = []
    while True:
        message = slow.recv(30)
        if message["type"] == "error":
            break
        got.append(message)
    assert message["code"] == "resource_exhausted"
    resume_from = message["resumeFrom"]["s"]
    assert len(got) < total and all(e["seq"] <= resume_from for e in got)
    assert [e["seq"] for e in got] == list(range(start + 1, start + 1 + len(got)))
    fresh = connect(server, project)
    fresh.subscribe("s", "big", resumeFrom=resume_from)
    rest = fresh.changes(start + total - resume_from, timeout=60)
    assert [e["seq"] for e in got + rest] == list(range(start + 1, start + total + 1))


# --- limits and bad input ---------------------------------------------------------------------------------


def test_unauthenticated_connections_are_closed(asgi_server_factory: Any, project: Any, other_project: Any) -> None:
    server = asgi_server_factory("auth-timeout", BAAS_REALTIME_AUTH_TIMEOUT="1")
    silent = Realtime(server.url, P, project.publishable_key)
    error = silent.recv(10)
    assert error["type"] == "error" and error["code"] == "unauthenticated"
    wrong_key = Realtime(server.url, P, other_project.publishable_key)
    assert wrong_key.recv(10)["code"] == "unauthenticated"
    no_key = Realtime(server.url, P, None)
    assert no_key.recv(10)["code"] == "unauthenticated"
    early = Realtime(server.url, P, project.publishable_key)
    early.send({"type": "subscribe", "id": "s", "collection": "c"})
    assert early.recv(10)["code"] == "unauthenticated"


def test_limits(asgi_server_factory: Any, project: Any) -> None:
    server = asgi_server_factory("limits", BAAS_REALTIME_MAX_SUBSCRIPTIONS="2", BAAS_REALTIME_MAX_MESSAGE_BYTES="1000")
    open_rules(Http(server.url, P, project.secret_key), "c")
    client = connect(server, project)
    client.subscribe("a", "c")
    client.send({"type": "subscribe", "id": "a", "collection": "c"})
    assert client.expect("error")["code"] == "already_exists"
    client.subscribe("b", "c")
    client.send({"type": "subscribe", "id": "z", "collection": "c"})
    assert client.expect("error")["code"] == "resource_exhausted"
    client.send({"type": "ping", "pad": "x" * 2000})
    assert client.expect("error")["code"] == "payload_too_large"
    client.send({"type": "ping"})
    assert client.expect("pong")


messages = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=10,
    ).map(lambda value: __import__("json").dumps(value)),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "unsubscribe", "auth", "ping", "nope"])},
        optional={
            "id": st.one_of(st.text(max_size=70), st.integers()),
            "collection": st.one_of(st.text(max_size=30), st.integers(), st.none()),
            "docId": st.one_of(st.text(max_size=30), st.none()),
            "where": st.one_of(st.none(), st.dictionaries(st.sampled_from(["field", "op", "value", "and"]), st.text(max_size=5))),
            "snapshot": st.one_of(st.booleans(), st.text(max_size=3)),
            "resumeFrom": st.one_of(st.integers(-5, 10**12), st.text(max_size=3)),
            "token": st.one_of(st.none(), st.text(max_size=30)),
        },
    ).map(lambda value: __import__("json").dumps(value)),
)


def test_malformed_messages_never_break_the_connection(server: Any, admin: Http, project: Any) -> None:
    open_rules(admin, "fuzz")
    client = connect(server, project)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(message=messages)
    def check(message: Any) -> None:
        client.send(message)
        client.send({"type": "ping"})
        while (reply := client.recv(10))["type"] != "pong":
            assert reply["type"] in ("error", "subscribed", "authenticated", "change"), reply
            if reply["type"] == "error":
                assert reply["code"] in (
                    "invalid_argument", "unauthenticated", "permission_denied", "not_found", "already_exists",
                    "resource_exhausted", "payload_too_large", "failed_precondition", "resume_expired",
                ), reply  # fmt: skip
            if reply["type"] == "subscribed":
                client.send({"type": "unsubscribe", "id": reply["id"]})
                client.send({"type": "auth", "token": None})

    check()
    client.quiet(1.0)  # replies to the clean-ups of the last example
    client.send({"type": "auth", "token": None})
    client.expect("authenticated")
    client.subscribe("final", "fuzz")
    admin.put("/collections/fuzz/documents/after", {"data": {}})
    assert client.expect("change")["doc"]["id"] == "after"  # still fully working


# --- isolation -----------------------------------------------------------------------------------------------


def test_projects_never_see_each_other(server: Any, admin: Http, project: Any, other_project: Any, enduser_token: Any) -> None:
    open_rules(admin, "shared-name")
    beta_admin = Http(server.url, "beta-app", other_project.secret_key)
    open_rules(beta_admin, "shared-name")
    alpha = connect(server, project)
    beta = Realtime(server.url, "beta-app", other_project.publishable_key)
    beta.auth(None)
    alpha.subscribe("s", "shared-name")
    beta.subscribe("s", "shared-name")
    admin.put("/collections/shared-name/documents/a", {"data": {"from": "alpha"}})
    beta_admin.put("/collections/shared-name/documents/b", {"data": {"from": "beta"}})
    assert [e["doc"]["id"] for e in alpha.changes(1)] == ["a"]
    assert [e["doc"]["id"] for e in beta.changes(1)] == ["b"]
    assert alpha.quiet(0.5) == [] and beta.quiet(0.1) == []
    # An alpha user's token is refused on beta.
    beta.send({"type": "auth", "token": enduser_token(project, "u1")})
    assert beta.expect("error")["code"] == "unauthenticated"


# --- across server processes (services mode: PostgreSQL + the Redis channel layer) ---------------------------


@pytest.mark.services
def test_two_processes_every_client_sees_every_change_once_in_order(asgi_server_factory: Any, project: Any) -> None:
    # One process under uvicorn, one under daphne: the endpoint is plain ASGI.
    servers = [asgi_server_factory("a"), asgi_server_factory("b", BAAS_ASGI_SERVER="daphne")]
    admins = [Http(s.url, P, project.secret_key) for s in servers]
    open_rules(admins[0], "multi")
    clients = [connect(s, project) for s in servers for _ in range(2)]
    starts = [client.subscribe("m", "multi")["seq"] for client in clients]

    def write(which: int) -> None:
        for i in range(100):
            admins[which].put(f"/collections/multi/documents/p{which}-{i}", {"data": {"i": i}})

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    streams = [client.changes(200, timeout=60) for client in clients]
    for client, start, stream in zip(clients, starts, streams, strict=True):
        assert [e["seq"] for e in stream] == list(range(start + 1, start + 201))
        assert len({e["doc"]["id"] for e in stream}) == 200
        assert client.quiet(0.3) == []
    assert all([e["doc"]["id"] for e in stream] == [e["doc"]["id"] for e in streams[0]] for stream in streams)


def test_writes_from_other_processes_reach_subscribers(server: Any, admin: Http, project: Any) -> None:
    """A write that does not pass through the server (a job, a function, another process)
    is numbered by any sequencer and delivered like the rest."""
    from baas.api.context import RequestContext
    from projects.documents.services import document_create

    open_rules(admin, "jobs")
    client = connect(server, project)
    start = client.subscribe("j", "jobs")["seq"]
    document_create(ctx=RequestContext(project_id=P, key_kind="secret"), collection="jobs", data={"by": "job"}, doc_id="j1")
    (event,) = client.changes(1)
    assert event["doc"] == {**event["doc"], "id": "j1", "data": {"by": "job"}} and event["seq"] == start + 1


def test_a_lost_hint_only_delays_delivery(asgi_server_factory: Any, project: Any) -> None:
    """Entries numbered where no hint is sent still arrive: hubs poll the log's head."""
    from baas.api.context import RequestContext
    from projects.documents.changelog import changelog_sequence, changes_sequenced
    from projects.documents.services import document_create

    server = asgi_server_factory("no-sequencer", BAAS_CHANGELOG_SEQUENCER="0", BAAS_REALTIME_POLL_SECONDS="0.3")
    admin = Http(server.url, P, project.secret_key)
    open_rules(admin, "quiet")
    client = connect(server, project)
    start = client.subscribe("q", "quiet")["seq"]
    assert changes_sequenced.disconnect(dispatch_uid="realtime-heads")
    try:
        for n in range(3):
            document_create(ctx=RequestContext(project_id=P, key_kind="secret"), collection="quiet", data={"n": n})
        changelog_sequence()  # numbered here, announced nowhere
    finally:
        from realtime.bus import heads_published

        changes_sequenced.connect(heads_published, dispatch_uid="realtime-heads")
    events = client.changes(3, timeout=10)
    assert [e["seq"] for e in events] == [start + 1, start + 2, start + 3]
    assert [e["doc"]["data"]["n"] for e in events] == [0, 1, 2]


def test_idle_connections_are_closed(asgi_server_factory: Any, project: Any) -> None:
    server = asgi_server_factory("idle", BAAS_REALTIME_IDLE_TIMEOUT="2")
    client = connect(server, project)
    closing = client.recv(10)
    assert closing["type"] == "error" and "ping" in closing["message"]
    with pytest.raises(Exception):
        client.recv(5)  # then the socket closes


def test_an_expired_token_pauses_deliveries_and_a_fresh_one_replays_them(
    server: Any, admin: Http, project: Any, enduser_token: Any
) -> None:
    """Changes made while the subscriber's token has run out are neither sent nor lost:
    they arrive, in order, once it authenticates again."""
    open_rules(admin, "notes", {"read": "resource.data.owner == auth.uid"})
    client = connect(server, project, enduser_token(project, "u1", lifetime=2))
    client.subscribe("mine", "notes")
    admin.put("/collections/notes/documents/a", {"data": {"owner": "u1"}})
    first = client.changes(1)[0]
    assert first["change"] == "added"
    # The server says so once the token runs out, even with no change to deliver.
    expired = client.expect("error", timeout=6)
    assert expired["code"] == "unauthenticated" and expired["details"]["reason"] == "token_expired"
    assert "id" not in expired or expired["id"] is None
    admin.put("/collections/notes/documents/b", {"data": {"owner": "u1"}})
    admin.patch("/collections/notes/documents/a", {"data": {"n": 1}})
    admin.put("/collections/notes/documents/c", {"data": {"owner": "u2"}})  # never theirs
    admin.delete("/collections/notes/documents/b")
    assert client.quiet(0.7) == []  # nothing is evaluated as if signed out
    client.send({"type": "subscribe", "id": "later", "collection": "notes"})
    refused = client.expect("error")
    assert refused["code"] == "unauthenticated" and refused["id"] == "later"
    # A fresh token of the same user: the held-back changes, exactly, then live again.
    assert client.auth(enduser_token(project, "u1"))["uid"] == "u1"
    replayed = client.changes(3)
    assert [(e["change"], e["doc"]["id"]) for e in replayed] == [("added", "b"), ("modified", "a"), ("removed", "b")]
    seqs = [first["seq"]] + [e["seq"] for e in replayed]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    admin.patch("/collections/notes/documents/a", {"data": {"n": 2}})
    live = client.changes(1)
    assert [(e["change"], e["doc"]["id"]) for e in live] == [("modified", "a")] and live[0]["seq"] > seqs[-1]
    assert client.quiet(0.5) == []
