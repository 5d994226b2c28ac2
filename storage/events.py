"""Storage events: an object finalized (uploaded or replaced) or deleted.

Every write path calls ``storage_event_emit`` inside its transaction: the event is
appended to the project's change log there (collection ``$storage``, the event path
shared with document changes), and sent on ``storage_object_changed`` only once that
transaction commits, so no receiver ever sees an upload that rolled back. Cloud functions (``{"type": "storage", "bucket",
"events": ["object.finalized", "object.deleted"]}``) and webhooks subscribe with::

    from storage.events import storage_object_changed

    def on_storage(sender, *, event, **kwargs): ...   # event: StorageEvent
    storage_object_changed.connect(on_storage)

Receivers run in the request's process after commit and must only enqueue work (a
Celery task keyed by ``event.id`` for idempotency); an exception in one is logged and
does not reach the caller.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

EventType = Literal["object.finalized", "object.deleted"]

# Sent after commit with ``event`` (a StorageEvent).
storage_object_changed = Signal()


@dataclass(frozen=True, slots=True)
class StorageEvent:
    type: EventType
    project_id: str
    bucket: str
    path: str
    # The object's metadata as the API shows it: after a finalize, the new object;
    # after a delete, the object that was deleted.
    object: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: datetime = field(default_factory=timezone.now)


def storage_event_emit(*, type: EventType, project_id: str, bucket: str, path: str, object: dict[str, Any]) -> None:
    """Append the event to the project's change log in the current transaction (the path
    functions and webhooks read, shared with document changes, under ``$storage``), and
    queue the in-process signal for after commit."""
    from projects.documents.events import system_event_append

    event = StorageEvent(type=type, project_id=project_id, bucket=bucket, path=path, object=object)
    payload = {"id": event.id, "type": type, "bucket": bucket, "path": path, "object": object}
    system_event_append(
        project_id=project_id,
        source="storage",
        # One subject per object path (paths can be longer than a change-log subject).
        subject=hashlib.sha256(f"{bucket}/{path}".encode()).hexdigest()[:40],
        op="delete" if type == "object.deleted" else "create",
        data=None if type == "object.deleted" else payload,
        before=payload if type == "object.deleted" else None,
        now=event.time,
    )
    transaction.on_commit(lambda: storage_object_changed.send(sender=StorageEvent, event=event), robust=True)
