"""Server-side transforms, and concurrent writers losing no update."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from django.db import connection

from projects.documents.transforms import apply_transforms, merge_patch, parse_transforms

BASE = "/v1/projects/alpha-app/collections"


def test_every_transform_through_patch(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/c/documents/t", {"data": {"n": 5, "hi": 3, "lo": 3, "tags": ["a", "b"], "gone": 1, "s": "x"}})
    response = secret_api.patch(
        f"{BASE}/c/documents/t",
        {
            "data": {"s": "y"},
            "transforms": [
                {"field": "n", "op": "increment", "value": 2.5},
                {"field": "hi", "op": "max", "value": 10},
                {"field": "lo", "op": "min", "value": -1},
                {"field": "tags", "op": "arrayUnion", "value": ["b", "c", {"k": 1}]},
                {"field": "gone", "op": "delete"},
                {"field": "meta.seen", "op": "serverTimestamp"},
                {"field": "counter.total", "op": "increment", "value": 1},
            ],
        },
    )
    assert response.status == 200, response.body
    data = response.body["data"]
    assert data["n"] == 7.5 and data["hi"] == 10 and data["lo"] == -1
    assert data["tags"] == ["a", "b", "c", {"k": 1}]
    assert "gone" not in data and data["s"] == "y"
    assert data["meta"]["seen"] == response.body["updateTime"]
    assert data["counter"] == {"total": 1}
    removed = secret_api.patch(
        f"{BASE}/c/documents/t", {"transforms": [{"field": "tags", "op": "arrayRemove", "value": ["a", {"k": 1}]}]}
    )
    assert removed.body["data"]["tags"] == ["b", "c"]


def test_transforms_on_create_and_set(secret_api: Any) -> None:
    created = secret_api.post(f"{BASE}/c/documents", {"data": {"a": 1}, "transforms": [{"field": "at", "op": "serverTimestamp"}]})
    assert created.status == 201 and created.body["data"]["at"] == created.body["createTime"]
    replaced = secret_api.put(f"{BASE}/c/documents/s", {"data": {}, "transforms": [{"field": "n", "op": "increment", "value": 3}]})
    assert replaced.body["data"] == {"n": 3}


@pytest.mark.parametrize(
    "transform",
    [
        {"field": "n", "op": "explode"},
        {"field": "n", "op": "increment", "value": "1"},
        {"field": "n", "op": "increment", "value": True},
        {"field": "n", "op": "arrayUnion", "value": 1},
        {"field": "", "op": "delete"},
        {"field": "a..b", "op": "delete"},
        {"field": "a.0", "op": "delete"},
        {"op": "delete"},
        "increment",
    ],
)
def test_bad_transforms_are_400_and_change_nothing(secret_api: Any, transform: Any) -> None:
    secret_api.put(f"{BASE}/c/documents/b", {"data": {"n": 1}})
    response = secret_api.patch(f"{BASE}/c/documents/b", {"transforms": [transform]})
    assert response.status == 400 and response.error_code == "invalid_argument"
    assert secret_api.get(f"{BASE}/c/documents/b").body == {**secret_api.get(f"{BASE}/c/documents/b").body, "version": 1}


def test_transform_through_a_non_object_is_400(secret_api: Any) -> None:
    secret_api.put(f"{BASE}/c/documents/b", {"data": {"a": 5}})
    response = secret_api.patch(f"{BASE}/c/documents/b", {"transforms": [{"field": "a.b", "op": "increment", "value": 1}]})
    assert response.status == 400 and response.body["error"]["details"]["field"] == "a.b"
    assert secret_api.get(f"{BASE}/c/documents/b").body["version"] == 1


def test_pure_functions() -> None:
    assert merge_patch({"a": {"b": 1}}, {"a": {"c": 2}, "d": None}) == {"a": {"b": 1, "c": 2}}
    assert merge_patch({"a": 1}, {"a": {"b": None}}) == {"a": {}}
    import datetime as dt

    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    transforms = parse_transforms(
        [{"field": "x", "op": "increment", "value": 1}, {"field": "arr", "op": "arrayUnion", "value": [1, True, 1.0]}]
    )
    # true and 1 are different JSON values; 1 and 1.0 are the same number.
    assert apply_transforms({"x": "str", "arr": [True]}, transforms, now=now) == {"x": 1, "arr": [True, 1]}


def _count_changes(collection: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM baas_change WHERE project_id = 'alpha-app' AND collection = %s", [collection])
        return int(cursor.fetchone()[0])


def test_fifty_concurrent_increments_sum_exactly(transactional_db: Any, project: Any) -> None:
    """Fifty threads, each with its own database connection, increment one field at once."""
    from django.db import connections

    from baas.api.context import RequestContext
    from projects.documents.services import document_set, document_update

    ctx = RequestContext(project_id="alpha-app", key_kind="secret")
    document_set(ctx=ctx, collection="counters", doc_id="c", data={"n": 0})
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            barrier.wait()
            document_update(ctx=ctx, collection="counters", doc_id="c", data={}, transforms=[{"field": "n", "op": "increment", "value": 1}])
        except BaseException as exc:  # report every failure, not just the first
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    from projects.documents.store import document_fetch

    final = document_fetch(project_id="alpha-app", collection="counters", doc_id="c")
    assert final is not None and final.data == {"n": 50} and final.version == 51
    assert _count_changes("counters") == 51


def test_concurrent_increments_through_two_servers(asgi_server_factory: Any, project: Any) -> None:
    servers = [asgi_server_factory("a"), asgi_server_factory("b")]
    headers = {"X-Api-Key": project.secret_key}
    path = f"{BASE}/counters/documents/h"
    assert requests.put(servers[0].url + path, json={"data": {"n": 0}}, headers=headers, timeout=10).status_code == 201
    errors: list[Any] = []

    def bump(index: int) -> None:
        response = requests.patch(
            servers[index % 2].url + path,
            json={"transforms": [{"field": "n", "op": "increment", "value": 2}]},
            headers=headers,
            timeout=60,
        )
        if response.status_code != 200:
            errors.append(response.text)

    threads = [threading.Thread(target=bump, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = requests.get(servers[1].url + path, headers=headers, timeout=10).json()
    assert final["data"]["n"] == 100 and final["version"] == 51
