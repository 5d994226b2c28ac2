"""Collection config: JSON Schema, rules, indexes (real PostgreSQL indexes), listing, delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from projects.documents.changelog import changelog_sequence, changes_after

BASE = "/v1/projects/alpha-app/collections"

SCHEMA = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "maxLength": 10},
        "score": {"type": "integer", "minimum": 0},
        "author": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
    },
    "additionalProperties": False,
}


def test_schema_is_enforced_on_create_replace_and_merged_patch(secret_api: Any) -> None:
    put = secret_api.put(f"{BASE}/posts", {"schema": SCHEMA})
    assert put.status == 200 and put.body["schema"] == SCHEMA and put.body["version"] == 1
    assert secret_api.put(f"{BASE}/posts/documents/ok", {"data": {"title": "Hi", "score": 3}}).status == 201
    bad = secret_api.put(f"{BASE}/posts/documents/bad", {"data": {"title": "x" * 11, "score": -1, "extra": 1}})
    assert bad.status == 400
    paths = sorted(v["path"] for v in bad.body["error"]["details"]["violations"])
    assert paths == ["/", "/score", "/title"]
    assert secret_api.post(f"{BASE}/posts/documents", {"data": {"score": 1}}).status == 400
    assert secret_api.put(f"{BASE}/posts/documents/ok", {"data": {"title": 5}}).status == 400
    # PATCH validates the merged result: removing a required field is refused.
    removed = secret_api.patch(f"{BASE}/posts/documents/ok", {"data": {"title": None}})
    assert removed.status == 400 and removed.body["error"]["details"]["violations"][0]["path"] == "/"
    email = secret_api.patch(f"{BASE}/posts/documents/ok", {"data": {"author": {"email": "not an email"}}})
    assert email.status == 400 and email.body["error"]["details"]["violations"][0]["path"] == "/author/email"
    assert secret_api.patch(f"{BASE}/posts/documents/ok", {"data": {"score": 4}}).status == 200
    # Transforms are validated too.
    inc = secret_api.patch(f"{BASE}/posts/documents/ok", {"transforms": [{"field": "score", "op": "increment", "value": 0.5}]})
    assert inc.status == 400
    assert secret_api.get(f"{BASE}/posts/documents/ok").body["data"] == {"title": "Hi", "score": 4}
    assert secret_api.get(f"{BASE}/posts/documents/bad").status == 404


def test_config_update_takes_effect_at_once(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/c1", {"schema": {"type": "object", "required": ["a"]}})
    assert secret_api.put(f"{BASE}/c1/documents/x", {"data": {}}).status == 400
    updated = secret_api.put(f"{BASE}/c1", {"schema": None, "rules": {"read": "true"}})
    assert updated.body["version"] == 2 and updated.body["rules"] == {"read": "true"}
    assert secret_api.put(f"{BASE}/c1/documents/x", {"data": {}}).status == 201


@pytest.mark.parametrize(
    "config",
    [
        {"schema": {"type": "nonsense"}},
        {"schema": "string"},
        {"rules": {"fetch": "true"}},
        {"rules": {"read": ""}},
        {"rules": {"read": 1}},
        {"rules": ["read"]},
        {"indexes": [["a.0"]]},
        {"indexes": [[]]},
        {"indexes": "a"},
        {"indexes": [["a", 1]]},
        {"unknown": 1},
    ],
)
def test_bad_config_is_400_and_changes_nothing(secret_api: Any, config: dict[str, Any]) -> None:
    secret_api.put(f"{BASE}/keep", {"rules": {"read": "true"}})
    response = secret_api.put(f"{BASE}/keep", config)
    assert response.status == 400 and response.error_code == "invalid_argument"
    current = secret_api.get(f"{BASE}/keep").body
    assert current["rules"] == {"read": "true"} and current["version"] == 1


def test_listing_and_get(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/zeta/documents/a", {"data": {}})
    secret_api.put(f"{BASE}/alpha", {"indexes": [["n"]]})
    listed = secret_api.get(f"{BASE}").body["collections"]
    assert [c["name"] for c in listed] == ["alpha", "zeta"]
    assert listed[0]["indexes"] == [["n"]]
    assert secret_api.get(f"{BASE}/zeta").body["schema"] is None
    assert secret_api.get(f"{BASE}/missing").status == 404


def test_delete_collection_removes_documents_and_logs_each(secret_api: Any) -> None:
    for index in range(3):
        secret_api.put(f"{BASE}/doomed/documents/d{index}", {"data": {"i": index}})
    secret_api.put(f"{BASE}/kept/documents/k", {"data": {}})
    changelog_sequence()
    assert secret_api.delete(f"{BASE}/doomed").status == 204
    assert secret_api.get(f"{BASE}/doomed/documents/d0").status == 404
    assert secret_api.get(f"{BASE}/doomed").status == 404
    assert secret_api.get(f"{BASE}/kept/documents/k").status == 200
    changelog_sequence()
    deletes = [e for e in changes_after(project_id="alpha-app", seq=4) if e.op == "delete"]
    assert [(e.doc_id, e.before) for e in deletes] == [("d0", {"i": 0}), ("d1", {"i": 1}), ("d2", {"i": 2})]
    # Writing again recreates it from scratch.
    assert secret_api.put(f"{BASE}/doomed/documents/d0", {"data": {}}).body["version"] == 1


def test_config_needs_a_secret_key(public_api: Any) -> None:
    assert public_api.put(f"{BASE}/x", {"schema": None}).status == 403
    assert public_api.get(f"{BASE}").status == 403
    assert public_api.delete(f"{BASE}/x").status == 403


@pytest.mark.services
def test_declared_index_is_built_and_used_by_the_planner(transactional_db: Any, api: Any, project: Any) -> None:
    """An indexed filter+order query over a large collection uses the expression index."""
    secret = api.with_key(project.secret_key)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
            "SELECT 'alpha-app', 'scores', 'd' || i, jsonb_build_object('score', i % 1000, 'owner', 'u' || (i % 50)), 1, now(), now() "
            "FROM generate_series(1, 100000) AS i"
        )
        cursor.execute(
            "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
            "SELECT 'alpha-app', 'noise', 'n' || i, jsonb_build_object('score', i), 1, now(), now() "
            "FROM generate_series(1, 20000) AS i"
        )
    response = secret.put(f"{BASE}/scores", {"indexes": [["score"], ["owner", "-score"]]})
    assert response.status == 200, response.body
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE baas_document")
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'baas_document' AND indexname LIKE 'baas_docidx_%%'")
        assert len(cursor.fetchall()) == 2

    from baas.api.context import RequestContext
    from projects.documents.query import parse_query
    from projects.documents.access import ListAccess
    from projects.documents.selectors import _where_clauses
    from projects.documents.sql import Compiler

    def plan(body: dict[str, Any]) -> str:
        query = parse_query(body)
        compiler = Compiler("postgresql")
        where = _where_clauses(compiler, RequestContext(project_id="alpha-app", key_kind="secret"), "scores", query, ListAccess(), paging=True)
        sql = f"EXPLAIN SELECT d.id FROM baas_document d WHERE {where} ORDER BY {compiler.order_by(query.order)} LIMIT 21"
        with connection.cursor() as cursor:
            cursor.execute(sql, compiler.params)
            return "\n".join(row[0] for row in cursor.fetchall())

    by_score = plan({"where": {"field": "score", "op": ">", "value": 990}, "orderBy": [{"field": "score"}], "limit": 20})
    assert "Index Scan" in by_score and "baas_docidx_" in by_score, by_score
    assert "Sort" not in by_score.split("->")[0]
    by_owner = plan({"where": {"field": "owner", "op": "==", "value": "u7"}, "orderBy": [{"field": "score", "direction": "desc"}]})
    assert "baas_docidx_" in by_owner, by_owner
    page = secret.post(f"{BASE}/scores/query", {"where": {"field": "score", "op": ">", "value": 990}, "orderBy": [{"field": "score"}], "limit": 20}).body
    assert [d["data"]["score"] for d in page["documents"]] == [991] * 20
    # Dropping the declaration drops the index.
    secret.put(f"{BASE}/scores", {"indexes": [["score"]]})
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'baas_document' AND indexname LIKE 'baas_docidx_%%'")
        assert cursor.fetchone()[0] == 1


