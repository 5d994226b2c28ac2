"""Documents through the SDK: CRUD with versions and transforms, the query builder,
pagination, aggregates, batches, typed errors and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from baas_client import (
    AlreadyExists,
    Client,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    array_remove,
    array_union,
    delete_field,
    increment,
    maximum,
    or_,
    server_timestamp,
    where,
)


def test_crud_versions_and_preconditions(admin: Client) -> None:
    ref = admin.collection("notes").doc("n1")
    assert ref.get() is None
    created = ref.set({"title": "hi", "tags": ["a"], "n": 1})
    assert (created.id, created.version, created.data) == ("n1", 1, {"title": "hi", "tags": ["a"], "n": 1})
    with pytest.raises(AlreadyExists) as exists:
        ref.set({"title": "again"}, create_only=True)
    assert exists.value.status == 409 and exists.value.code == "already_exists"
    updated = ref.update({"title": None, "body": "text"}, if_version=1)
    assert updated.version == 2 and updated.data == {"tags": ["a"], "n": 1, "body": "text"}
    with pytest.raises(FailedPrecondition) as stale:
        ref.update({"body": "lost"}, if_version=1)
    assert stale.value.status == 412 and stale.value.details["expected"] == 1 and stale.value.details["actual"] == 2
    assert ref.get(fields=["body"]).data == {"body": "text"}
    ref.delete(if_version=2)
    assert ref.get() is None
    with pytest.raises(NotFound):
        ref.update({"x": 1})
    added = admin.collection("notes").add({"auto": True})
    assert len(added.id) == 20 and admin.collection("notes").doc(added.id).get().data == {"auto": True}


def test_transforms(admin: Client) -> None:
    ref = admin.collection("counters").doc("c")
    ref.set({"n": 1, "tags": ["x", "y"], "gone": 1, "best": 5})
    result = ref.update(transforms=[increment("n", 4), array_union("tags", "y", "z"), array_remove("tags", "x"),
                                    delete_field("gone"), maximum("best", 3), server_timestamp("at")])
    assert result.data["n"] == 5 and result.data["tags"] == ["y", "z"] and "gone" not in result.data
    assert result.data["best"] == 5 and result.data["at"] == result.update_time
    with pytest.raises(InvalidArgument) as bad:
        ref.update(transforms=[{"field": "n", "op": "explode"}])
    assert bad.value.status == 400 and ref.get().version == 2


def test_query_builder_pagination_and_aggregates(admin: Client) -> None:
    batch = admin.batch()
    for i in range(25):
        batch.set("scores", f"d{i:02d}", {"score": i, "team": "red" if i % 2 else "blue"})
    assert len(batch.commit()) == 25
    scores = admin.collection("scores")
    query = scores.where("team", "==", "red").where("score", ">=", 5).order_by("score", "desc").limit(4)
    assert query.to_dict() == {
        "where": {"and": [{"field": "team", "op": "==", "value": "red"}, {"field": "score", "op": ">=", "value": 5}]},
        "orderBy": [{"field": "score", "direction": "desc"}], "limit": 4,
    }
    first = query.get()
    assert [d.data["score"] for d in first.documents] == [23, 21, 19, 17] and first.next_cursor
    second = query.start_after(first.next_cursor).get()
    assert [d.data["score"] for d in second.documents] == [15, 13, 11, 9]
    pages = list(query.pages())
    assert [len(p.documents) for p in pages] == [4, 4, 2] and pages[-1].next_cursor is None
    assert [d.data["score"] for d in query.stream()] == [23, 21, 19, 17, 15, 13, 11, 9, 7, 5]
    assert query.count() == 10
    assert query.aggregate(count=True, sum="score", avg="score") == {"count": 10, "sum": 140, "avg": 14}
    either = scores.where(or_(where("score", "==", 0), where("score", "==", 24))).select("score")
    assert sorted((d.id, d.data) for d in either.get().documents) == [("d00", {"score": 0}), ("d24", {"score": 24})]
    with pytest.raises(InvalidArgument) as bad:
        scores.where("score", "~", 1).get()
    assert bad.value.status == 400


def test_batch_is_all_or_nothing(admin: Client) -> None:
    admin.collection("b").doc("keep").set({"v": 1})
    results = admin.batch().create("b", {"v": 2}, id="new").update("b", "keep", {"w": 1}).delete("b", "none").commit()
    assert [(r.id, r.version) for r in results] == [("new", 1), ("keep", 2), ("none", None)]
    with pytest.raises(FailedPrecondition) as failed:
        admin.batch().set("b", "x", {"v": 1}).update("b", "keep", {"v": 9}, if_version=1).commit()
    assert failed.value.details["index"] == 1
    assert admin.collection("b").doc("x").get() is None and admin.collection("b").doc("keep").get().version == 2


def test_rules_and_typed_errors_for_apps(admin: Client, app: Client) -> None:
    admin.admin.set_collection_config("private", rules={"read": "auth != null"})
    admin.collection("private").doc("p").set({"secret": 1})
    with pytest.raises(PermissionDenied) as denied:
        app.collection("private").doc("p").get()
    assert denied.value.status == 403 and denied.value.request_id
    with pytest.raises(PermissionDenied):
        app.collection("private").doc("p").set({"secret": 2})
    app.auth.sign_in_anonymously()
    assert app.collection("private").doc("p").get().data == {"secret": 1}


def test_other_projects_key_sees_and_changes_nothing(server: Any, admin: Client, other_project: Any,
                                                     make_client: Any) -> None:
    admin.collection("notes").doc("mine").set({"v": 1})
    intruder = make_client(server, other_project.secret_key)
    with pytest.raises(Unauthenticated) as refused:
        intruder.collection("notes").doc("mine").get()
    assert refused.value.status == 401
    with pytest.raises(Unauthenticated):
        intruder.collection("notes").doc("mine").set({"v": 666})
    with pytest.raises(Unauthenticated):
        intruder.batch().delete("notes", "mine").commit()
    # The other project's own client, on its own project, does not see ours either.
    own = Client(server.url, "beta-app", other_project.secret_key)
    try:
        assert own.collection("notes").doc("mine").get() is None
        assert own.collection("notes").get().documents == []
    finally:
        own.close()
    document = admin.collection("notes").doc("mine").get()
    assert (document.version, document.data) == (1, {"v": 1})
