"""Event feeds: the change log read, at least once, by the capabilities that react to it.

Cloud functions and webhooks each register a *consumer*. For every project, a consumer
has a cursor (the last seq it took). The pump reads the committed entries after the
cursor, turns them into ``Event``s and hands them to the consumer's handler inside one
transaction that also moves the cursor, so a batch is either recorded by the consumer
(its executions or deliveries) and the cursor moved, or neither. The handler only
records; the real work is Celery tasks enqueued on commit, which the consumers re-enqueue
with a periodic sweep if a process died between commit and enqueue.

Two pumps racing on one cursor are settled by a compare-and-swap on it: the loser's
update matches no row and its transaction is rolled back, on SQLite and PostgreSQL alike.

A pump thread runs beside the change-log sequencer in every server and worker process.
It wakes after every sequencing round of its own process and also polls, so a project's
events are taken even when the process that numbered them is gone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from django.db import connection, transaction

from baas.background import BackgroundLoop
from projects.documents import changelog
from projects.documents.changelog import ChangeEntry
from projects.documents.store import api_time

logger = logging.getLogger("baas.feeds")

BATCH_SIZE = 500
DOCUMENT_TYPES = {"create": "document.created", "update": "document.updated", "delete": "document.deleted"}
USER_TYPES = {"create": "user.created", "update": "user.updated", "delete": "user.deleted"}


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a project, as functions and webhooks see it."""

    id: str  # "<project>:<seq>": stable across redeliveries, the idempotency key
    project_id: str
    seq: int
    type: str  # document.created|updated|deleted, user.*, object.finalized|deleted, function.*
    source: str  # document | auth | storage | function
    collection: str | None  # the document's collection, the object's bucket, the function
    subject: str  # document id, uid, object path, execution id
    time: datetime
    data: dict[str, Any] | None
    before: dict[str, Any] | None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "projectId": self.project_id,
            "seq": self.seq,
            "time": api_time(self.time),
            "collection": self.collection,
            "subject": self.subject,
            "data": self.data,
            "before": self.before,
        }


def event_from_change(project_id: str, entry: ChangeEntry) -> Event | None:
    """The event a change-log entry stands for; None for entries no consumer reads."""
    collection = entry.collection
    common = {"id": f"{project_id}:{entry.seq}", "project_id": project_id, "seq": entry.seq, "time": entry.time}
    if not collection.startswith("$"):
        return Event(
            type=DOCUMENT_TYPES[entry.op], source="document", collection=collection, subject=entry.doc_id,
            data=entry.data, before=entry.before, **common,
        )
    if collection == "$users":
        return Event(
            type=USER_TYPES[entry.op], source="auth", collection=None, subject=entry.doc_id,
            data=entry.data, before=entry.before, **common,
        )
    if collection == "$storage":
        payload = entry.data or entry.before or {}
        is_delete = entry.op == "delete"
        return Event(
            type=str(payload.get("type", "object.deleted" if is_delete else "object.finalized")),
            source="storage", collection=payload.get("bucket"), subject=str(payload.get("path", "")),
            data=None if is_delete else payload.get("object"), before=payload.get("object") if is_delete else None,
            **common,
        )
    if collection == "$functions":
        payload = entry.data or {}
        return Event(
            type=str(payload.get("type", "function.finished")), source="function",
            collection=payload.get("function"), subject=entry.doc_id, data=payload, before=None, **common,
        )
    return None


# --- consumers ------------------------------------------------------------------------------

Handler = Callable[[str, list[Event]], None]
Interest = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    handle: Handler
    # False when the project has nothing that reacts (no triggers, no endpoints): the
    # cursor then jumps to the head without reading the log.
    interested: Interest


_consumers: dict[str, Consumer] = {}


def feed_consumer(name: str, *, interested: Interest | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler(project_id, events)`` as the consumer ``name``.

    The handler runs inside ``transaction.atomic()`` with the cursor moved past the batch
    in the same transaction: record what must happen (idempotently, keyed by
    ``event.id``) and enqueue tasks with ``transaction.on_commit``. Raising rolls the
    batch back; it is offered again on a later pump.
    """

    def register(handler: Handler) -> Handler:
        _consumers[name] = Consumer(name, handler, interested or (lambda project_id: True))
        return handler

    return register


def feed_consumers() -> list[Consumer]:
    return list(_consumers.values())


# --- the pump -------------------------------------------------------------------------------


def _cursor(project_id: str, consumer: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_seq FROM baas_feed_cursor WHERE project_id = %s AND consumer = %s", [project_id, consumer]
        )
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        cursor.execute(
            "INSERT INTO baas_feed_cursor (project_id, consumer, last_seq) VALUES (%s, %s, 0) "
            "ON CONFLICT (project_id, consumer) DO NOTHING",
            [project_id, consumer],
        )
    return 0


def _cursor_move(project_id: str, consumer: str, old: int, new: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE baas_feed_cursor SET last_seq = %s WHERE project_id = %s AND consumer = %s AND last_seq = %s",
            [new, project_id, consumer, old],
        )
        return cursor.rowcount == 1


class _Lost(Exception):
    """Another pump moved the cursor first: roll this batch back."""


def feed_pump_project(*, project_id: str, consumer: Consumer, limit: int = BATCH_SIZE) -> int:
    """Hand the next batch of ``project_id``'s events to ``consumer``; the number taken."""
    taken = 0
    try:
        with transaction.atomic():
            position = _cursor(project_id, consumer.name)
            if not consumer.interested(project_id):
                head = changelog.changelog_head(project_id=project_id)
                if head > position and not _cursor_move(project_id, consumer.name, position, head):
                    raise _Lost
                return 0
            entries = changelog.changes_after(project_id=project_id, seq=position, limit=limit)
            if not entries:
                return 0
            if not _cursor_move(project_id, consumer.name, position, entries[-1].seq):
                raise _Lost
            events = [event for entry in entries if (event := event_from_change(project_id, entry)) is not None]
            if events:
                consumer.handle(project_id, events)
            taken = len(entries)
    except _Lost:
        return 0
    return taken


def projects_behind(consumer: str) -> list[str]:
    """Projects whose log has entries past ``consumer``'s cursor."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.project_id FROM baas_project_sequence p "
            "LEFT JOIN baas_feed_cursor c ON c.project_id = p.project_id AND c.consumer = %s "
            "WHERE p.last_seq > COALESCE(c.last_seq, 0)",
            [consumer],
        )
        return [row[0] for row in cursor.fetchall()]


def feeds_pump(*, project_ids: list[str] | None = None) -> int:
    """Run every consumer until it has caught up (with ``project_ids``: only those)."""
    total = 0
    for consumer in feed_consumers():
        projects = projects_behind(consumer.name) if project_ids is None else project_ids
        for project_id in projects:
            while True:
                taken = feed_pump_project(project_id=project_id, consumer=consumer)
                total += taken
                if taken < BATCH_SIZE:
                    break
    return total


class Pump(BackgroundLoop):
    THREAD_NAME = "baas-feeds"
    logger = logger

    def __init__(self) -> None:
        super().__init__()
        self._projects: set[str] = set()
        self._last_poll = 0.0

    def wake(self, project_ids: list[str] | None = None) -> None:  # type: ignore[override]
        with self._lock:
            self._projects.update(project_ids or ())
        super().wake()

    def round(self) -> None:
        with self._lock:
            woken, self._projects = list(self._projects), set()
        if not feed_consumers():
            return
        if time.monotonic() - self._last_poll >= self.POLL_SECONDS:
            self._last_poll = time.monotonic()
            feeds_pump()
        elif woken:
            feeds_pump(project_ids=woken)


pump = Pump()


def _after_round(sender: Any, *, assigned: dict[str, tuple[int, int]], **kwargs: Any) -> None:
    pump.wake(list(assigned))


def pump_start() -> None:
    """Start this process's pump (beside its sequencer)."""
    changelog.changes_sequenced.connect(_after_round, dispatch_uid="baas-feeds-pump")
    pump.start()
