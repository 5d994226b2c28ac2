"""Event feeds: every committed event reaches each consumer once per cursor move, in seq
order, and a failed batch is offered again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from baas.api.context import RequestContext
from projects.documents import feeds
from projects.documents.changelog import changelog_prune, changelog_sequence, changes_after
from projects.documents.events import system_event_append
from projects.documents.services import document_create, document_delete, document_update

SECRET = RequestContext(project_id="alpha-app", key_kind="secret")
OTHER = RequestContext(project_id="beta-app", key_kind="secret")


class Recorder:
    def __init__(self) -> None:
        self.events: list[feeds.Event] = []
        self.fail = False
        self.interested = True
        self.lock = threading.Lock()

    def handle(self, project_id: str, events: list[feeds.Event]) -> None:
        assert all(event.project_id == project_id for event in events)
        if self.fail:
            raise RuntimeError("consumer is down")
        with self.lock:
            self.events.extend(events)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    saved = dict(feeds._consumers)
    feeds._consumers.clear()
    recorder = Recorder()
    feeds.feed_consumer("test", interested=lambda project_id: recorder.interested)(recorder.handle)
    yield recorder
    feeds._consumers.clear()
    feeds._consumers.update(saved)


def _cursor(project_id: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_seq FROM baas_feed_cursor WHERE project_id = %s AND consumer = 'test'", [project_id])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def test_every_kind_of_event_in_seq_order(project: Any, other_project: Any, recorder: Recorder) -> None:
    document_create(ctx=SECRET, collection="orders", data={"n": 1}, doc_id="o1")
    document_update(ctx=SECRET, collection="orders", doc_id="o1", data={"n": 2})
    document_delete(ctx=SECRET, collection="orders", doc_id="o1")
    document_create(ctx=OTHER, collection="orders", data={"n": 9}, doc_id="x")
    with transaction.atomic():
        system_event_append(project_id="alpha-app", source="users", subject="u1", op="create", data={"uid": "u1"})
    with transaction.atomic():
        object_ = {"path": "a/b.png", "size": 3}
        payload = {"id": "e1", "type": "object.finalized", "bucket": "avatars", "path": "a/b.png", "object": object_}
        system_event_append(project_id="alpha-app", source="storage", subject="h1", op="create", data=payload)
    with transaction.atomic():
        payload = {"type": "function.failed", "function": "resize", "execution": "ex1"}
        system_event_append(project_id="alpha-app", source="functions", subject="ex1", op="create", data=payload)
    changelog_sequence()

    assert feeds.feeds_pump() == 7
    mine = [e for e in recorder.events if e.project_id == "alpha-app"]
    assert [(e.seq, e.type, e.source, e.collection, e.subject) for e in mine] == [
        (1, "document.created", "document", "orders", "o1"),
        (2, "document.updated", "document", "orders", "o1"),
        (3, "document.deleted", "document", "orders", "o1"),
        (4, "user.created", "auth", None, "u1"),
        (5, "object.finalized", "storage", "avatars", "a/b.png"),
        (6, "function.failed", "function", "resize", "ex1"),
    ]
    assert mine[0].data == {"n": 1} and mine[0].before is None
    assert mine[1].data == {"n": 2} and mine[1].before == {"n": 1}
    assert mine[2].data is None and mine[2].before == {"n": 2}
    assert mine[4].data == {"path": "a/b.png", "size": 3}
    assert [e.id for e in mine[:2]] == ["alpha-app:1", "alpha-app:2"]
    payload = mine[0].payload()
    assert payload["projectId"] == "alpha-app" and payload["type"] == "document.created" and payload["seq"] == 1
    assert [(e.project_id, e.subject) for e in recorder.events if e.project_id == "beta-app"] == [("beta-app", "x")]
    # Caught up: nothing is offered twice.
    assert feeds.feeds_pump() == 0
    assert len(recorder.events) == 7
    assert (_cursor("alpha-app"), _cursor("beta-app")) == (6, 1)


def test_a_failing_consumer_gets_the_batch_again(project: Any, recorder: Recorder) -> None:
    document_create(ctx=SECRET, collection="orders", data={"n": 1}, doc_id="o1")
    changelog_sequence()
    recorder.fail = True
    with pytest.raises(RuntimeError):
        feeds.feeds_pump()
    assert recorder.events == [] and _cursor("alpha-app") in (None, 0)
    recorder.fail = False
    document_create(ctx=SECRET, collection="orders", data={"n": 2}, doc_id="o2")
    changelog_sequence()
    assert feeds.feeds_pump() == 2
    assert [e.subject for e in recorder.events] == ["o1", "o2"]


def test_an_uninterested_consumer_skips_to_the_head_without_reading(project: Any, recorder: Recorder) -> None:
    recorder.interested = False
    for n in range(3):
        document_create(ctx=SECRET, collection="orders", data={"n": n}, doc_id=f"o{n}")
    changelog_sequence()
    assert feeds.feeds_pump() == 0
    assert recorder.events == [] and _cursor("alpha-app") == 3
    recorder.interested = True
    document_create(ctx=SECRET, collection="orders", data={"n": 9}, doc_id="late")
    changelog_sequence()
    feeds.feeds_pump()
    assert [e.subject for e in recorder.events] == ["late"]


def test_retention_keeps_what_a_consumer_has_not_taken(project: Any, recorder: Recorder, settings: Any) -> None:
    settings.BAAS_CHANGELOG_RETENTION_SECONDS = 0
    settings.BAAS_CHANGELOG_MIN_ENTRIES = 0
    for n in range(4):
        document_create(ctx=SECRET, collection="orders", data={"n": n}, doc_id=f"o{n}")
    changelog_sequence()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO baas_feed_cursor (project_id, consumer, last_seq) VALUES ('alpha-app', 'test', 2)")
    changelog_prune()
    assert [e.seq for e in changes_after(project_id="alpha-app", seq=0)] == [3, 4]
    feeds.feeds_pump()
    assert [e.seq for e in recorder.events] == [3, 4]
    changelog_prune()
    assert changes_after(project_id="alpha-app", seq=0) == []


@pytest.mark.services
def test_racing_pumps_hand_each_event_over_once(transactional_db: Any, recorder: Recorder) -> None:
    from projects.services import project_create

    project_create(project_id="alpha-app")
    for n in range(300):
        document_create(ctx=SECRET, collection="orders", data={"n": n}, doc_id=f"o{n}")
    changelog_sequence()
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            for _ in range(20):
                feeds.feed_pump_project(project_id="alpha-app", consumer=feeds._consumers["test"], limit=7)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    feeds.feeds_pump()
    assert [e.seq for e in recorder.events] == list(range(1, 301))
