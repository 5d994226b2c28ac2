"""Batches are atomic; every committed write appends one change-log entry, numbered
densely in commit order; failed writes leave none."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from baas.api.context import RequestContext
from projects.documents import changelog
from projects.documents.changelog import changelog_head, changelog_sequence, changes_after

BASE = "/v1/projects/alpha-app/collections"
BATCH = "/v1/projects/alpha-app/batch"


def _docs(secret_api: Any, collection: str) -> dict[str, Any]:
    body = secret_api.post(f"{BASE}/{collection}/query", {"limit": 1000}).body
    return {doc["id"]: doc["data"] for doc in body["documents"]}


def _unsequenced_count(project_id: str = "alpha-app") -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM baas_change WHERE project_id = %s", [project_id])
        return int(cursor.fetchone()[0])


def test_batch_applies_mixed_writes(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/b/documents/old", {"data": {"n": 1}})
    secret_api.put(f"{BASE}/b/documents/gone", {"data": {"n": 1}})
    response = secret_api.post(
        BATCH,
        {
            "writes": [
                {"op": "create", "collection": "b", "id": "new", "data": {"n": 0}},
                {"op": "create", "collection": "b", "data": {"auto": True}},
                {"op": "set", "collection": "b", "id": "old", "data": {"n": 2}, "ifVersion": 1},
                {"op": "update", "collection": "b", "id": "new", "data": {"m": 1}, "transforms": [{"field": "n", "op": "increment", "value": 5}]},
                {"op": "delete", "collection": "b", "id": "gone"},
                {"op": "create", "collection": "other", "id": "x", "data": {}},
            ]
        },
    )
    assert response.status == 200, response.body
    results = response.body["results"]
    assert [r["id"] for r in results][:1] == ["new"] and len(results[1]["id"]) == 20
    assert [r["version"] for r in results] == [1, 1, 2, 2, None, 1]
    docs = _docs(secret_api, "b")
    assert docs == {"new": {"n": 5, "m": 1}, results[1]["id"]: {"auto": True}, "old": {"n": 2}}
    assert _docs(secret_api, "other") == {"x": {}}


@pytest.mark.parametrize(
    ("failing", "code", "status"),
    [
        ({"op": "create", "collection": "b", "id": "keep", "data": {}}, "already_exists", 409),
        ({"op": "update", "collection": "b", "id": "missing", "data": {"a": 1}}, "not_found", 404),
        ({"op": "set", "collection": "b", "id": "keep", "data": {}, "ifVersion": 9}, "failed_precondition", 412),
        ({"op": "set", "collection": "b", "id": "big", "data": {"x": "y" * (1024 * 1024)}}, "payload_too_large", 413),
        ({"op": "set", "collection": "1bad", "id": "x", "data": {}}, "invalid_argument", 400),
        ({"op": "upsert", "collection": "b", "id": "x", "data": {}}, "invalid_argument", 400),
        ({"op": "set", "collection": "b", "id": "x", "data": {}, "extra": 1}, "invalid_argument", 400),
    ],
)
def test_a_failing_write_aborts_the_whole_batch(secret_api: Any, failing: dict[str, Any], code: str, status: int) -> None:
    secret_api.put(f"{BASE}/b/documents/keep", {"data": {"v": 1}})
    changelog_sequence()
    before_log = _unsequenced_count()
    writes = [
        {"op": "set", "collection": "b", "id": "w1", "data": {"a": 1}},
        {"op": "update", "collection": "b", "id": "keep", "data": {"v": 2}},
        failing,
        {"op": "set", "collection": "b", "id": "w3", "data": {"a": 3}},
    ]
    response = secret_api.post(BATCH, {"writes": writes})
    assert response.status == status, response.body
    assert response.error_code == code
    assert response.body["error"]["details"]["index"] == 2
    assert _docs(secret_api, "b") == {"keep": {"v": 1}}
    assert _unsequenced_count() == before_log


def test_batch_limits_and_shape(secret_api: Any) -> None:
    too_many = [{"op": "set", "collection": "b", "id": f"i{i}", "data": {}} for i in range(501)]
    response = secret_api.post(BATCH, {"writes": too_many})
    assert response.status == 400 and response.body["error"]["details"]["limit"] == 500
    assert secret_api.post(BATCH, {"writes": []}).status == 400
    assert secret_api.post(BATCH, {"writes": "x"}).status == 400
    assert secret_api.post(BATCH, {"writes": [1]}).body["error"]["details"]["index"] == 0
    five_hundred = too_many[:500]
    assert secret_api.post(BATCH, {"writes": five_hundred}).status == 200
    assert secret_api.post(f"{BASE}/b/query", {"aggregate": {"count": True}}).body["aggregates"]["count"] == 500


def test_change_log_records_every_write_in_order(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/log/documents/a", {"data": {"n": 1}})
    secret_api.patch(f"{BASE}/log/documents/a", {"data": {"n": 2}})
    secret_api.post(BATCH, {"writes": [
        {"op": "set", "collection": "log", "id": "b", "data": {"x": True}},
        {"op": "delete", "collection": "log", "id": "a"},
    ]})
    secret_api.delete(f"{BASE}/log/documents/never-existed")  # changes nothing: no entry
    assert changes_after(project_id="alpha-app", seq=0) == []  # nothing numbered yet
    assigned = changelog_sequence()
    assert assigned == {"alpha-app": (1, 4)}
    entries = changes_after(project_id="alpha-app", seq=0)
    assert [(e.seq, e.doc_id, e.op, e.version) for e in entries] == [
        (1, "a", "create", 1),
        (2, "a", "update", 2),
        (3, "b", "create", 1),
        (4, "a", "delete", 2),
    ]
    assert entries[0].data == {"n": 1} and entries[0].before is None
    assert entries[1].data == {"n": 2} and entries[1].before == {"n": 1}
    assert entries[3].data is None and entries[3].before == {"n": 2}
    assert changelog_head(project_id="alpha-app") == 4
    assert [e.seq for e in changes_after(project_id="alpha-app", seq=2)] == [3, 4]
    assert [e.seq for e in changes_after(project_id="alpha-app", seq=0, limit=2)] == [1, 2]


def test_seqs_are_per_project(secret_api: Any, other_project: Any) -> None:
    other = secret_api.with_key(other_project.secret_key)
    secret_api.put(f"{BASE}/s/documents/a", {"data": {}})
    other.put("/v1/projects/beta-app/collections/s/documents/a", {"data": {}})
    other.put("/v1/projects/beta-app/collections/s/documents/b", {"data": {}})
    assert changelog_sequence() == {"alpha-app": (1, 1), "beta-app": (1, 2)}
    assert [e.doc_id for e in changes_after(project_id="beta-app", seq=0)] == ["a", "b"]


def test_retention_keeps_the_newest_entries(secret_api: Any, settings: Any) -> None:
    for index in range(6):
        secret_api.put(f"{BASE}/r/documents/d{index}", {"data": {"i": index}})
    changelog_sequence()
    from datetime import datetime, timedelta, timezone

    settings.BAAS_CHANGELOG_MIN_ENTRIES = 2
    settings.BAAS_CHANGELOG_RETENTION_SECONDS = 3600
    assert changelog.changelog_prune() == 0  # all younger than an hour
    assert changelog.changelog_prune(now=datetime.now(timezone.utc) + timedelta(hours=2)) == 4
    assert [e.seq for e in changes_after(project_id="alpha-app", seq=0)] == [5, 6]
    assert changelog.changelog_oldest(project_id="alpha-app") == 5


def test_concurrent_writers_get_dense_commit_ordered_seqs(transactional_db: Any, project: Any) -> None:
    """Writers in many threads while the sequencer runs: every entry numbered once,
    densely, and each document's versions in seq order."""
    from django.db import connections

    from projects.documents.services import document_update, document_set

    ctx = RequestContext(project_id="alpha-app", key_kind="secret")
    for doc in range(4):
        document_set(ctx=ctx, collection="c", doc_id=f"d{doc}", data={"n": 0})
    stop = threading.Event()

    def sequence_continuously() -> None:
        while not stop.is_set():
            changelog_sequence()
        connections.close_all()

    def write(worker: int) -> None:
        for _ in range(15):
            document_update(ctx=ctx, collection="c", doc_id=f"d{worker % 4}", data={}, transforms=[{"field": "n", "op": "increment", "value": 1}])
        connections.close_all()

    sequencer = threading.Thread(target=sequence_continuously)
    sequencer.start()
    writers = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    sequencer.join()
    changelog_sequence()
    entries = changes_after(project_id="alpha-app", seq=0, limit=10_000)
    assert [e.seq for e in entries] == list(range(1, 4 + 8 * 15 + 1))
    for doc in range(4):
        versions = [e.version for e in entries if e.doc_id == f"d{doc}"]
        assert versions == list(range(1, len(versions) + 1))
        assert [e.data["n"] for e in entries if e.doc_id == f"d{doc}"] == list(range(len(versions)))


def test_sequencer_thread_numbers_committed_writes(transactional_db: Any, project: Any) -> None:
    from projects.documents.services import document_set

    ctx = RequestContext(project_id="alpha-app", key_kind="secret")
    changelog.sequencer.start()
    try:
        document_set(ctx=ctx, collection="t", doc_id="x", data={})
        import time

        deadline = time.monotonic() + 5
        while changelog_head(project_id="alpha-app") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert changelog_head(project_id="alpha-app") == 1
    finally:
        changelog.sequencer.stop()
