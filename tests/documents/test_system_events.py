"""System events ride the change log: numbered with documents, only when committed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from baas.api.context import RequestContext
from projects.documents.changelog import changelog_sequence, changes_after
from projects.documents.events import system_event_append
from projects.documents.services import document_create

SECRET = RequestContext(project_id="alpha-app", key_kind="secret")


def test_events_are_numbered_with_documents_in_commit_order(project: Any) -> None:
    document_create(ctx=SECRET, collection="orders", data={"n": 1}, doc_id="o1")
    with transaction.atomic():
        system_event_append(project_id="alpha-app", source="users", subject="u1", op="create", data={"uid": "u1"})
    with transaction.atomic():
        system_event_append(
            project_id="alpha-app", source="storage", subject="17", op="delete", data=None, before={"path": "a/b.png"}
        )
    changelog_sequence()
    entries = changes_after(project_id="alpha-app", seq=0)
    assert [(e.collection, e.doc_id, e.op) for e in entries] == [
        ("orders", "o1", "create"),
        ("$users", "u1", "create"),
        ("$storage", "17", "delete"),
    ]
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[1].data == {"uid": "u1"} and entries[2].before == {"path": "a/b.png"}


def test_a_rolled_back_cause_leaves_no_event(project: Any) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            system_event_append(project_id="alpha-app", source="users", subject="u2", op="create", data={})
            raise RuntimeError("the signup failed after the event was written")
    changelog_sequence()
    assert changes_after(project_id="alpha-app", seq=0) == []


@pytest.mark.parametrize(
    "bad",
    [{"op": "finalize"}, {"subject": ""}, {"subject": "x" * 129}, {"source": "payments"}],
)
def test_bad_events_are_refused(project: Any, bad: dict[str, Any]) -> None:
    arguments = {"project_id": "alpha-app", "source": "users", "subject": "u1", "op": "create", "data": {}, **bad}
    with pytest.raises((ValueError, KeyError)):
        system_event_append(**arguments)
