"""System events on the change log: one event path for everything functions and webhooks
react to.

Document writes append change-log entries; so do the other capabilities whose events are
consumed the same way (end users, storage objects). Theirs go under reserved collection
names starting with ``$``, which user collections cannot take, so no subscription or
query ever sees them. Appended in the transaction of what they report, an event exists
exactly when its cause committed, is numbered in commit order with the project's other
changes, and is read by consumers from the log at least once, like any change.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from django.db import transaction

from projects.documents import changelog, store
from projects.documents.validation import encode_data

SYSTEM_COLLECTIONS = {"users": "$users", "storage": "$storage", "functions": "$functions"}
OPERATIONS = ("create", "update", "delete")


def system_event_append(
    *,
    project_id: str,
    source: str,
    subject: str,
    op: str,
    data: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
    version: int = 1,
    now: datetime | None = None,
) -> None:
    """Record ``op`` on ``subject`` (a user's uid, a stored object's id) in the caller's
    transaction. ``data``/``before`` are what consumers may see: never secrets."""
    if op not in OPERATIONS:
        raise ValueError(f"op is one of {OPERATIONS}")
    if not subject or len(subject) > 128:
        raise ValueError("subject is 1-128 characters")
    store.change_append(
        project_id=project_id,
        collection=SYSTEM_COLLECTIONS[source],
        doc_id=subject,
        op=op,
        version=version,
        data_json=encode_data(data) if data is not None else None,
        before_json=encode_data(before) if before is not None else None,
        now=now or datetime.now(timezone.utc),
    )
    transaction.on_commit(changelog.after_write_committed)


def is_system_collection(collection: str) -> bool:
    return collection.startswith("$")
