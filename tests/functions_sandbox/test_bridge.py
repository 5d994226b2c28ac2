"""ctx.db / ctx.storage / ctx.push from inside the sandbox, through the bridge, against the
real services on the test database: same results and errors as the REST API, and no way
out of the function's own project."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.functions_sandbox.conftest import run

pytestmark = pytest.mark.django_db


def secret_ctx(project: Any) -> Any:
    from baas.api.context import RequestContext

    return RequestContext(project_id=project.project.id, key_kind="secret", origin="rest")


def documents_of(project: Any, collection: str) -> dict[str, Any]:
    from projects.documents.query import parse_query
    from projects.documents.selectors import document_query

    page = document_query(ctx=secret_ctx(project), collection=collection, query=parse_query({"limit": 100}))
    return {doc.doc_id: doc.data for doc in page.documents}


def bridge_of(project: Any) -> Any:
    from functions.bridge import bridge_for

    return bridge_for(project_id=project.project.id, function="handler")


def test_documents_round_trip_through_the_real_services(project: Any, secret_api: Api) -> None:
    from projects.documents.services import document_set

    document_set(ctx=secret_ctx(project), collection="orders", doc_id="o1", data={"total": 10, "status": "new"})
    result = run(
        """
        def handler(event, ctx):
            orders = ctx.db.collection("orders")
            first = orders.doc("o1").get()
            updated = orders.doc("o1").update({"status": "paid", "note": "thanks"}, if_version=first["version"])
            created = ctx.db.set("audit", "a1", {"order": "o1", "by": event.data["by"]})
            added = orders.add({"total": 3, "status": "new"})
            batch = ctx.db.batch([
                {"op": "set", "collection": "audit", "id": "a2", "data": {"order": added["id"]}},
                {"op": "delete", "collection": "audit", "id": "a1"},
            ])
            page = ctx.db.query("orders", where={"field": "status", "op": "==", "value": "new"}, order_by=["total"])
            counted = ctx.db.query("orders", aggregate={"count": True})
            ctx.db.delete("orders", "o1")
            return {
                "first": [first["id"], first["data"], first["version"]],
                "updated": [updated["data"], updated["version"]],
                "created": created["data"],
                "added_id": added["id"],
                "batch": [item["id"] for item in batch],
                "new_orders": [doc["data"]["total"] for doc in page["documents"]],
                "next": page["nextCursor"],
                "missing": ctx.db.get("orders", "o1"),
                "counted": counted,
            }
        """,
        event={"data": {"by": "fn"}},
        bridge=bridge_of(project),
    )
    assert result.status == "succeeded", result.error
    answer = result.result
    assert answer["first"] == ["o1", {"total": 10, "status": "new"}, 1]
    assert answer["updated"] == [{"total": 10, "status": "paid", "note": "thanks"}, 2]
    assert answer["created"] == {"order": "o1", "by": "fn"}
    assert answer["batch"] == ["a2", "a1"]
    assert answer["new_orders"] == [3]
    assert answer["next"] is None
    assert answer["missing"] is None
    assert answer["counted"] == {"aggregates": {"count": 2}}
    # What the function did is what the REST API sees.
    assert documents_of(project, "orders") == {answer["added_id"]: {"total": 3, "status": "new"}}
    assert documents_of(project, "audit") == {"a2": {"order": answer["added_id"]}}
    listed = secret_api.get(f"/v1/projects/{project.project.id}/collections/audit/documents/a2")
    assert listed.status == 200 and listed.body["data"] == {"order": answer["added_id"]}
    # Function writes reach the change log like any other write.
    from projects.documents.models import Change

    logged = [(c.collection, c.doc_id, c.op) for c in Change.objects.unscoped().filter(project_id=project.project.id).order_by("id")]
    assert ("audit", "a1", "set") in logged or ("audit", "a1", "create") in logged
    assert logged[-1] == ("orders", "o1", "delete")


def test_refusals_arrive_as_api_errors_with_the_apis_code(project: Any) -> None:
    result = run(
        """
        from baas_functions import ApiError

        def attempt(call):
            try:
                call()
                return "no error"
            except ApiError as error:
                return [error.code, error.message, error.details]

        def handler(event, ctx):
            ctx.db.collection("c").doc("d").create({"n": 1})
            return {
                "twice": attempt(lambda: ctx.db.collection("c").doc("d").create({"n": 2})),
                "bad_name": attempt(lambda: ctx.db.get("no spaces allowed", "x")),
                "stale": attempt(lambda: ctx.db.update("c", "d", {"n": 3}, if_version=7)),
                "not_object": attempt(lambda: ctx.db.set("c", "e", [1, 2])),
                "unknown_op": attempt(lambda: ctx.db._call("db.drop_everything", {})),
                "forged_project": attempt(lambda: ctx.db._call("db.get", {"collection": "c", "id": "d", "projectId": "beta-app"})),
                "push": attempt(lambda: ctx.push.send({"token": "t", "notification": {"title": "hi"}})),
                "pushed": ctx.push.send({"target": {"tokens": ["device-1"]}, "notification": {"title": "hi"}}),
            }
        """,
        bridge=bridge_of(project),
    )
    assert result.status == "succeeded", result.error
    answer = result.result
    assert answer["twice"][0] == "already_exists"
    assert answer["bad_name"][0] == "invalid_argument"
    assert answer["stale"][0] == "failed_precondition"
    assert answer["not_object"] == ["invalid_argument", "'data' must be a JSON object.", {"field": "data"}]
    assert answer["unknown_op"][0] == "invalid_argument"
    assert answer["unknown_op"][1] == "Unknown operation 'db.drop_everything'."
    assert answer["forged_project"] == ["invalid_argument", "Unknown arguments: projectId.", {"fields": ["projectId"]}]
    assert answer["push"] == ["invalid_argument", "Unknown field 'token' in the message.", {"field": "token"}]
    # What the REST call answers: recorded and queued (without FCM credentials a job then
    # settles it as a dry run).
    assert answer["pushed"]["status"] == "queued" and answer["pushed"]["id"]
    from projects.push.models import PushMessage

    assert list(PushMessage.objects.for_project(project.project.id).values_list("id", flat=True)) == [answer["pushed"]["id"]]
    assert documents_of(project, "c") == {"d": {"n": 1}}


def test_an_uncaught_api_error_fails_the_function_with_its_code(project: Any) -> None:
    result = run("def handler(event, ctx):\n    ctx.db.set('c', 'bad id!', {})\n", bridge=bridge_of(project))
    assert result.status == "failed"
    assert result.error["type"] == "ApiError"
    assert result.error["message"].startswith("invalid_argument: ")


def test_a_function_cannot_reach_another_projects_data(project: Any, other_project: Any, settings: Any) -> None:
    """The bridge is made for project A: writes land in A, B's documents are invisible and
    unchanged, whatever the function sends."""
    from projects.documents.services import document_set

    document_set(ctx=secret_ctx(other_project), collection="orders", doc_id="secret", data={"owner": "beta"})
    document_set(ctx=secret_ctx(other_project), collection="shared", doc_id="x", data={"from": "beta"})
    before_b = {name: documents_of(other_project, name) for name in ("orders", "shared")}
    result = run(
        """
        def handler(event, ctx):
            ctx.db.set("shared", "x", {"from": "alpha"})
            ctx.db.collection("orders").doc("mine").set({"owner": "alpha"})
            return {
                "secret": ctx.db.get("orders", "secret"),
                "orders": [doc["id"] for doc in ctx.db.query("orders")["documents"]],
                "deleted_foreign": ctx.db.delete("orders", "secret"),
            }
        """,
        bridge=bridge_of(project),
    )
    assert result.status == "succeeded", result.error
    assert result.result == {"secret": None, "orders": ["mine"], "deleted_foreign": None}
    assert documents_of(project, "shared") == {"x": {"from": "alpha"}}
    assert documents_of(project, "orders") == {"mine": {"owner": "alpha"}}
    after_b = {name: documents_of(other_project, name) for name in ("orders", "shared")}
    assert after_b == before_b == {"orders": {"secret": {"owner": "beta"}}, "shared": {"x": {"from": "beta"}}}


def test_storage_round_trips_and_stays_in_the_project(project: Any, other_project: Any) -> None:
    from storage.selectors import objects_list
    from storage.services import bucket_create

    bucket_create(ctx=secret_ctx(project), data={"name": "avatars"})
    bucket_create(ctx=secret_ctx(other_project), data={"name": "private"})
    result = run(
        """
        from baas_functions import ApiError

        def handler(event, ctx):
            written = ctx.storage.write("avatars", "users/u1.txt", "hello ☃", content_type="text/plain")
            ctx.storage.write("avatars", "users/u2.bin", bytes(range(256)))
            read = ctx.storage.read("avatars", "users/u1.txt")
            binary = ctx.storage.read("avatars", "users/u2.bin")
            listing = ctx.storage.list("avatars", prefix="users/")
            signed = ctx.storage.signed_url("avatars", "users/u1.txt", expires_in=60)
            deleted = ctx.storage.delete("avatars", "users/u2.bin")
            again = ctx.storage.delete("avatars", "users/u2.bin")
            try:
                ctx.storage.list("private")
                foreign = "listed"
            except ApiError as error:
                foreign = error.code
            return {
                "written": [written["path"], written["size"], written["contentType"]],
                "read": read.decode(), "binary": list(binary) == list(range(256)),
                "listed": [item["path"] for item in listing["objects"]],
                "signed": signed["url"].startswith("http") and "users/u1.txt" in signed["url"],
                "deleted": [deleted, again], "foreign": foreign,
            }
        """,
        bridge=bridge_of(project),
    )
    assert result.status == "succeeded", result.error
    assert result.result == {
        "written": ["users/u1.txt", len("hello ☃".encode()), "text/plain"],
        "read": "hello ☃",
        "binary": True,
        "listed": ["users/u1.txt", "users/u2.bin"],
        "signed": True,
        "deleted": [True, False],
        "foreign": "not_found",
    }
    remaining = objects_list(ctx=secret_ctx(project), bucket_name="avatars")
    assert [row.path for row in remaining.objects] == ["users/u1.txt"]
    assert objects_list(ctx=secret_ctx(other_project), bucket_name="private").objects == []


def test_without_a_bridge_ctx_calls_fail_cleanly() -> None:
    result = run(
        """
        from baas_functions import ApiError

        def handler(event, ctx):
            try:
                ctx.db.get("c", "d")
            except ApiError as error:
                return [error.code, error.message]
        """
    )
    assert result.status == "succeeded", result.error
    assert result.result == ["failed_precondition", "ctx.db, ctx.storage and ctx.push are not available here."]


def test_a_bridge_bug_is_an_internal_error_not_a_crash(project: Any) -> None:
    def broken(op: str, args: dict[str, Any]) -> Any:
        raise RuntimeError("database exploded with password=hunter2")

    result = run(
        """
        from baas_functions import ApiError

        def handler(event, ctx):
            try:
                ctx.db.get("c", "d")
            except ApiError as error:
                return [error.code, error.message]
        """,
        bridge=broken,
    )
    assert result.status == "succeeded", result.error
    assert result.result == ["internal", "Internal error."]  # nothing of the platform's exception leaks


def test_an_answer_over_the_message_limit_is_refused(project: Any, settings: Any) -> None:
    from projects.documents.services import document_set

    settings.BAAS_FUNCTIONS_MESSAGE_LIMIT = 64 * 1024
    document_set(ctx=secret_ctx(project), collection="big", doc_id="d", data={"blob": "x" * 100_000})
    result = run(
        """
        from baas_functions import ApiError

        def handler(event, ctx):
            try:
                ctx.db.get("big", "d")
            except ApiError as error:
                return error.code
        """,
        bridge=bridge_of(project),
    )
    assert result.status == "succeeded", result.error
    assert result.result == "payload_too_large"
