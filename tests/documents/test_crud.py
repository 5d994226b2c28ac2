"""The Documents table of the spec, through HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

BASE = "/v1/projects/alpha-app/collections"


def test_create_with_auto_id_then_get(secret_api: Any) -> None:
    created = secret_api.post(f"{BASE}/posts/documents", {"data": {"title": "Hello", "tags": ["a"], "n": 1.5}})
    assert created.status == 201, created.body
    doc = created.body
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", doc["id"])
    assert doc["data"] == {"title": "Hello", "tags": ["a"], "n": 1.5}
    assert doc["version"] == 1
    assert doc["createTime"] == doc["updateTime"] and doc["createTime"].endswith("Z")
    assert created.headers["etag"] == '"1"'
    fetched = secret_api.get(f"{BASE}/posts/documents/{doc['id']}")
    assert fetched.status == 200 and fetched.body == doc
    assert fetched.headers["etag"] == '"1"'


def test_put_creates_then_replaces(secret_api: Any) -> None:
    first = secret_api.put(f"{BASE}/posts/documents/p1", {"data": {"a": 1, "b": {"c": 2}}})
    assert first.status == 201 and first.body["version"] == 1
    second = secret_api.put(f"{BASE}/posts/documents/p1", {"data": {"z": True}})
    assert second.status == 200
    assert second.body["data"] == {"z": True} and second.body["version"] == 2
    assert second.body["createTime"] == first.body["createTime"]
    assert second.body["updateTime"] >= first.body["updateTime"]


def test_put_if_none_match_star_is_create_only(secret_api: Any) -> None:
    assert secret_api.put(f"{BASE}/posts/documents/p2", {"data": {"v": 1}}, headers={"If-None-Match": "*"}).status == 201
    again = secret_api.put(f"{BASE}/posts/documents/p2", {"data": {"v": 2}}, headers={"If-None-Match": "*"})
    assert again.status == 409 and again.error_code == "already_exists"
    assert secret_api.get(f"{BASE}/posts/documents/p2").body["data"] == {"v": 1}


def test_patch_is_json_merge_patch(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/posts/documents/p3", {"data": {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]}})
    patched = secret_api.patch(f"{BASE}/posts/documents/p3", {"data": {"b": {"c": None, "x": 9}, "e": [3], "a": None}})
    assert patched.status == 200
    assert patched.body["data"] == {"b": {"d": 3, "x": 9}, "e": [3]}
    assert patched.body["version"] == 2


def test_patch_missing_document_is_404(secret_api: Any) -> None:
    response = secret_api.patch(f"{BASE}/posts/documents/nope", {"data": {"a": 1}})
    assert response.status == 404 and response.error_code == "not_found"


def test_get_missing_is_404_and_delete_is_idempotent(secret_api: Any) -> None:
    assert secret_api.get(f"{BASE}/posts/documents/ghost").status == 404
    assert secret_api.delete(f"{BASE}/posts/documents/ghost").status == 204
    secret_api.put(f"{BASE}/posts/documents/real", {"data": {}})
    assert secret_api.delete(f"{BASE}/posts/documents/real").status == 204
    assert secret_api.get(f"{BASE}/posts/documents/real").status == 404
    assert secret_api.delete(f"{BASE}/posts/documents/real").status == 204


def test_if_match_preconditions(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/posts/documents/v", {"data": {"n": 1}})
    stale = secret_api.put(f"{BASE}/posts/documents/v", {"data": {"n": 2}}, headers={"If-Match": '"7"'})
    assert stale.status == 412 and stale.error_code == "failed_precondition"
    assert stale.body["error"]["details"] == {"expected": 7, "actual": 1}
    ok = secret_api.put(f"{BASE}/posts/documents/v", {"data": {"n": 2}}, headers={"If-Match": '"1"'})
    assert ok.status == 200 and ok.body["version"] == 2
    assert secret_api.patch(f"{BASE}/posts/documents/v", {"data": {"n": 3}}, headers={"If-Match": '"1"'}).status == 412
    assert secret_api.patch(f"{BASE}/posts/documents/v", {"data": {"n": 3}}, headers={"If-Match": '"2"'}).status == 200
    assert secret_api.delete(f"{BASE}/posts/documents/v", headers={"If-Match": '"2"'}).status == 412
    assert secret_api.delete(f"{BASE}/posts/documents/v", headers={"If-Match": '"3"'}).status == 204
    # If-Match on a missing document can never hold.
    assert secret_api.delete(f"{BASE}/posts/documents/v", headers={"If-Match": '"3"'}).status == 412
    assert secret_api.put(f"{BASE}/posts/documents/v", {"data": {}}, headers={"If-Match": "abc"}).status == 400


def test_etag_conditional_get(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/posts/documents/e", {"data": {"n": 1}})
    assert secret_api.get(f"{BASE}/posts/documents/e", headers={"If-None-Match": '"1"'}).status == 304
    secret_api.patch(f"{BASE}/posts/documents/e", {"data": {"n": 2}})
    assert secret_api.get(f"{BASE}/posts/documents/e", headers={"If-None-Match": '"1"'}).status == 200


def test_fields_projection_on_get(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/posts/documents/f", {"data": {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}})
    response = secret_api.get(f"{BASE}/posts/documents/f?fields=a,b.c,missing")
    assert response.body["data"] == {"a": 1, "b": {"c": 2}}


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/1bad/documents/x",
        f"{BASE}/{'c' * 65}/documents/x",
        f"{BASE}/posts/documents/{'i' * 129}",
        f"{BASE}/posts/documents/bad.id",
        f"{BASE}/posts/documents/bad%20id",
    ],
)
def test_bad_names_and_ids_are_400(secret_api: Any, path: str) -> None:
    response = secret_api.put(path, {"data": {"a": 1}})
    assert response.status == 400 and response.error_code == "invalid_argument"
    assert response.body["error"]["details"]["field"] in ("collection", "id")


@pytest.mark.parametrize("data", [None, [], "text", 5, True])
def test_data_must_be_an_object(secret_api: Any, data: Any) -> None:
    response = secret_api.put(f"{BASE}/posts/documents/x", {"data": data})
    assert response.status == 400 and response.body["error"]["details"]["field"] == "data"


def test_document_size_limit_is_413(secret_api: Any) -> None:
    big = {"blob": "x" * (1024 * 1024)}
    response = secret_api.put(f"{BASE}/posts/documents/big", {"data": big})
    assert response.status == 413 and response.error_code == "payload_too_large"
    assert response.body["error"]["details"]["limitBytes"] == 1024 * 1024
    assert secret_api.get(f"{BASE}/posts/documents/big").status == 404
    fits = {"blob": "x" * (1024 * 1024 - 100)}
    assert secret_api.put(f"{BASE}/posts/documents/big", {"data": fits}).status == 201


def _nested(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    node = data
    for _ in range(levels):
        node["n"] = {}
        node = node["n"]
    return data


def test_nesting_depth_limit(secret_api: Any) -> None:
    assert secret_api.put(f"{BASE}/posts/documents/deep", {"data": _nested(20)}).status == 201
    response = secret_api.put(f"{BASE}/posts/documents/deep", {"data": _nested(21)})
    assert response.status == 400 and response.body["error"]["details"]["limit"] == 20
    arrays = {"a": [[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]}  # 21 arrays
    assert secret_api.put(f"{BASE}/posts/documents/deep2", {"data": arrays}).status == 400


def test_publishable_key_without_rules_is_denied(public_api: Any, secret_api: Any) -> None:
    secret_api.put(f"{BASE}/posts/documents/x", {"data": {"a": 1}})
    for response in (
        public_api.get(f"{BASE}/posts/documents/x"),
        public_api.get(f"{BASE}/posts/documents/missing"),
        public_api.put(f"{BASE}/posts/documents/y", {"data": {}}),
        public_api.post(f"{BASE}/posts/query", {}),
        public_api.delete(f"{BASE}/posts/documents/x"),
    ):
        assert response.status == 403 and response.error_code == "permission_denied"
    assert secret_api.get(f"{BASE}/posts/documents/x").status == 200
    assert secret_api.get(f"{BASE}/posts/documents/y").status == 404
