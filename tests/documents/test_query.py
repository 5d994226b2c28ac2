"""Queries: the SQL compiled for this run's database must agree with the Python evaluator
(hypothesis), plus the spec's semantics spelled out, cursors, aggregates and select."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baas.api.context import RequestContext
from projects.documents.query import DocumentView, matches, parse_query, sort_key
from projects.documents.selectors import document_aggregate, document_query
from projects.documents.services import document_set

BASE = "/v1/projects/alpha-app/collections"
CTX = RequestContext(project_id="alpha-app", key_kind="secret")
_collections = itertools.count()

# --- value space shared by documents and filters -----------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=5),
    st.sampled_from([0.5, -1.5, 2.0, 1e20]),
    st.sampled_from(["", "a", "B", "ab", "é", "z", "10", "日本"]),
)
# Containers hold no floats: 1 and 1.0 are equal JSON numbers, and SQLite compares
# containers by their canonical text.
container_items = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b", "c"]))
values = st.one_of(
    scalars,
    st.lists(container_items, max_size=3),
    st.fixed_dictionaries({}, optional={"x": container_items, "y": container_items}),
)
FIELDS = ["a", "b", "n.x"]
documents = st.lists(
    st.fixed_dictionaries({}, optional={"a": values, "b": values, "n": st.fixed_dictionaries({}, optional={"x": values})}),
    max_size=12,
)


def compare_clause() -> st.SearchStrategy[dict[str, Any]]:
    field = st.sampled_from(FIELDS)
    return st.one_of(
        st.builds(lambda f, op, v: {"field": f, "op": op, "value": v}, field, st.sampled_from(["==", "!="]), values),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            field,
            st.sampled_from(["<", "<=", ">", ">="]),
            st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from([0.5, "a", "b", "", "é"])),
        ),
        st.builds(
            lambda f, op, v: {"field": f, "op": op, "value": v},
            field,
            st.sampled_from(["in", "not-in", "array-contains-any"]),
            st.lists(values, min_size=1, max_size=3),
        ),
        st.builds(lambda f, v: {"field": f, "op": "array-contains", "value": v}, field, values),
        st.builds(lambda f, v: {"field": f, "op": "exists", "value": v}, field, st.booleans()),
        st.builds(
            lambda op, v: {"field": "$id", "op": op, "value": v},
            st.sampled_from(["==", "!=", "<", ">="]),
            st.sampled_from(["d0", "d3", "d7", "x"]),
        ),
    )


filters = st.recursive(
    compare_clause(),
    lambda children: st.one_of(
        st.builds(lambda parts: {"and": parts}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda parts: {"or": parts}, st.lists(children, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)


def _load(docs: list[dict[str, Any]]) -> tuple[str, list[DocumentView]]:
    collection = f"h{next(_collections)}"
    views = []
    for index, data in enumerate(docs):
        result = document_set(ctx=CTX, collection=collection, doc_id=f"d{index}", data=data)
        stored = result.document
        assert stored is not None
        views.append(stored.view())
    return collection, views


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(docs=documents, where=filters)
def test_sql_filter_agrees_with_python(project: Any, docs: list[dict[str, Any]], where: dict[str, Any]) -> None:
    collection, views = _load(docs)
    query = parse_query({"where": where, "limit": 1000})
    page = document_query(ctx=CTX, collection=collection, query=query)
    expected = sorted(view.doc_id for view in views if matches(query.where, view))
    assert [doc.doc_id for doc in page.documents] == expected
    count = document_aggregate(ctx=CTX, collection=collection, query=parse_query({"where": where, "aggregate": {"count": True}}))
    assert count == {"count": len(expected)}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    docs=st.lists(st.fixed_dictionaries({}, optional={"a": scalars, "b": scalars}), max_size=12),
    order=st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["asc", "desc"])), min_size=1, max_size=2, unique_by=lambda t: t[0]),
    limit=st.integers(1, 5),
)
def test_sql_order_and_cursor_pages_agree_with_python(
    project: Any, docs: list[dict[str, Any]], order: list[tuple[str, str]], limit: int
) -> None:
    collection, views = _load(docs)
    body = {"orderBy": [{"field": f, "direction": d} for f, d in order], "limit": limit}
    present = [v for v in views if all(f in v.data for f, _ in order)]
    expected = list(present)
    last_desc = order[-1][1] == "desc"
    expected.sort(key=lambda v: v.doc_id, reverse=last_desc)
    for field, direction in reversed(order):
        expected.sort(key=lambda v, f=field: sort_key(v.data[f]), reverse=direction == "desc")
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = document_query(ctx=CTX, collection=collection, query=parse_query({**body, "cursor": cursor} if cursor else body))
        assert len(page.documents) <= limit
        seen.extend(doc.doc_id for doc in page.documents)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [v.doc_id for v in expected]


# --- the semantics, spelled out ------------------------------------------------------------


@pytest.fixture
def typed(secret_api: Any) -> Any:
    rows = {
        "num1": {"v": 1},
        "num15": {"v": 1.5},
        "str1": {"v": "1"},
        "true": {"v": True},
        "null": {"v": None},
        "arr": {"v": [1, "x", {"k": 1}]},
        "obj": {"v": {"k": 1}},
        "none": {"w": 1},
    }
    for doc_id, data in rows.items():
        assert secret_api.put(f"{BASE}/typed/documents/{doc_id}", {"data": data}).status == 201

    def ids(where: Any, **extra: Any) -> list[str]:
        response = secret_api.post(f"{BASE}/typed/query", {"where": where, **extra})
        assert response.status == 200, response.body
        return [doc["id"] for doc in response.body["documents"]]

    return ids


def test_type_strict_comparisons(typed: Any) -> None:
    assert typed({"field": "v", "op": "==", "value": 1}) == ["num1"]
    assert typed({"field": "v", "op": "==", "value": 1.0}) == ["num1"]
    assert typed({"field": "v", "op": "==", "value": "1"}) == ["str1"]
    assert typed({"field": "v", "op": "==", "value": True}) == ["true"]
    assert typed({"field": "v", "op": "==", "value": None}) == ["null"]
    assert typed({"field": "v", "op": ">=", "value": 1}) == ["num1", "num15"]
    assert typed({"field": "v", "op": ">", "value": ""}) == ["str1"]
    assert typed({"field": "v", "op": "<", "value": 100}) == ["num1", "num15"]
    assert typed({"field": "v", "op": "in", "value": [1, "1", None]}) == ["null", "num1", "str1"]
    assert typed({"field": "v", "op": "!=", "value": 1}) == ["arr", "null", "num15", "obj", "str1", "true"]
    assert typed({"field": "v", "op": "not-in", "value": [1, None]}) == ["arr", "num15", "obj", "str1", "true"]
    assert typed({"field": "v", "op": "exists", "value": False}) == ["none"]
    assert typed({"field": "v", "op": "exists", "value": True}) == ["arr", "null", "num1", "num15", "obj", "str1", "true"]
    assert typed({"field": "v", "op": "array-contains", "value": "x"}) == ["arr"]
    assert typed({"field": "v", "op": "array-contains", "value": {"k": 1}}) == ["arr"]
    assert typed({"field": "v", "op": "array-contains", "value": {}}) == []
    assert typed({"field": "v", "op": "array-contains-any", "value": [7, 1]}) == ["arr"]
    assert typed({"field": "v.k", "op": "==", "value": 1}) == ["obj"]
    assert typed({"field": "v", "op": "==", "value": {"k": 1}}) == ["obj"]


def test_and_or_and_metadata(typed: Any, secret_api: Any) -> None:
    assert typed({"or": [{"field": "v", "op": "==", "value": 1}, {"field": "w", "op": "exists", "value": True}]}) == ["none", "num1"]
    assert typed({"and": [{"field": "$id", "op": ">=", "value": "n"}, {"field": "$id", "op": "<", "value": "o"}]}) == ["none", "null", "num1", "num15"]
    assert typed({"field": "$id", "op": "in", "value": ["obj", "arr", "zzz"]}) == ["arr", "obj"]
    now = datetime.now(timezone.utc)
    assert len(typed({"field": "$createTime", "op": "<=", "value": now.isoformat()})) == 8
    assert typed({"field": "$updateTime", "op": ">", "value": (now + timedelta(hours=1)).isoformat()}) == []
    secret_api.patch(f"{BASE}/typed/documents/obj", {"data": {"touched": True}})
    assert typed({"field": "$updateTime", "op": ">", "value": now.isoformat()}) == ["obj"]


def test_order_across_types(typed: Any) -> None:
    ascending = typed(None, orderBy=[{"field": "v"}])
    assert ascending == ["null", "str1", "num1", "num15", "true", "arr", "obj"]
    assert typed(None, orderBy=[{"field": "v", "direction": "desc"}]) == list(reversed(ascending))
    assert typed(None, orderBy=[{"field": "$id", "direction": "desc"}])[0] == "true"


def test_operand_nested_too_deep_is_400(secret_api: Any) -> None:
    """Written as text: the test client's encoder itself stops at a few hundred levels."""
    raw = b'{"where": {"field": "v", "op": "==", "value": ' + b"[" * 300 + b"1" + b"]" * 300 + b"}}"
    response = secret_api.post(f"{BASE}/typed/query", raw=raw)
    assert response.status == 400 and response.error_code == "invalid_argument"


def _deep_array(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        {"where": {"field": "v", "op": "~", "value": 1}},
        {"where": {"field": "v", "op": "<", "value": None}},
        {"where": {"field": "v", "op": "<", "value": [1]}},
        {"where": {"field": "v", "op": "in", "value": []}},
        {"where": {"field": "v", "op": "in", "value": 3}},
        {"where": {"field": "v", "op": "exists", "value": 1}},
        {"where": {"field": "v.0", "op": "==", "value": 1}},
        {"where": {"field": "v w", "op": "==", "value": 1}},
        {"where": {"field": "v", "op": "=="}},
        {"where": {"and": []}},
        {"where": {"and": [{"field": "v", "op": "==", "value": 1}], "or": []}},
        {"where": {"field": "$createTime", "op": ">", "value": "yesterday"}},
        {"where": {"field": "$id", "op": "==", "value": 5}},
        {"where": {"field": "v", "op": "==", "value": "nul\u0000"}},
        {"where": {"field": "v", "op": "in", "value": [_deep_array(25)]}},
        {"where": "v == 1"},
        {"limit": 0},
        {"limit": 1001},
        {"limit": "10"},
        {"orderBy": [{"field": "v", "direction": "up"}]},
        {"orderBy": "v"},
        {"cursor": "not-a-cursor"},
        {"select": "v"},
        {"aggregate": {"count": False}},
        {"aggregate": {"median": "v"}},
        {"unknown": 1},
    ],
)
def test_bad_queries_are_400(secret_api: Any, body: dict[str, Any]) -> None:
    response = secret_api.post(f"{BASE}/typed/query", body)
    assert response.status == 400, response.body
    assert response.error_code == "invalid_argument"


def test_cursor_is_bound_to_its_query(secret_api: Any) -> None:
    for index in range(5):
        secret_api.put(f"{BASE}/q/documents/d{index}", {"data": {"n": index}})
    first = secret_api.post(f"{BASE}/q/query", {"orderBy": [{"field": "n"}], "limit": 2}).body
    assert [d["id"] for d in first["documents"]] == ["d0", "d1"]
    other = secret_api.post(f"{BASE}/q/query", {"orderBy": [{"field": "n", "direction": "desc"}], "cursor": first["nextCursor"]})
    assert other.status == 400
    second = secret_api.post(f"{BASE}/q/query", {"orderBy": [{"field": "n"}], "limit": 2, "cursor": first["nextCursor"]}).body
    assert [d["id"] for d in second["documents"]] == ["d2", "d3"]
    third = secret_api.post(f"{BASE}/q/query", {"orderBy": [{"field": "n"}], "limit": 2, "cursor": second["nextCursor"]}).body
    assert [d["id"] for d in third["documents"]] == ["d4"] and third["nextCursor"] is None


def test_limit_default_and_select(secret_api: Any) -> None:
    writes = [{"op": "set", "collection": "many", "id": f"m{i:03d}", "data": {"i": i, "blob": {"x": 1, "y": 2}}} for i in range(60)]
    assert secret_api.post("/v1/projects/alpha-app/batch", {"writes": writes}).status == 200
    page = secret_api.post(f"{BASE}/many/query", {"select": ["i", "blob.y"]}).body
    assert len(page["documents"]) == 50 and page["nextCursor"] is not None
    assert page["documents"][0]["data"] == {"i": 0, "blob": {"y": 2}}
    assert set(page["documents"][0]) == {"id", "data", "version", "createTime", "updateTime"}


def test_aggregates(secret_api: Any) -> None:
    values = [3, 4.5, "7", None, True, 10]
    for index, value in enumerate(values):
        secret_api.put(f"{BASE}/agg/documents/a{index}", {"data": {"x": value, "group": index % 2}})
    secret_api.put(f"{BASE}/agg/documents/nofield", {"data": {"group": 0}})
    result = secret_api.post(f"{BASE}/agg/query", {"aggregate": {"count": True, "sum": "x", "avg": "x"}}).body
    assert result == {"aggregates": {"count": 7, "sum": 17.5, "avg": 17.5 / 3}}
    only_even = secret_api.post(
        f"{BASE}/agg/query", {"where": {"field": "group", "op": "==", "value": 0}, "aggregate": {"count": True, "sum": "x"}}
    ).body
    assert only_even == {"aggregates": {"count": 4, "sum": 3}}
    empty = secret_api.post(f"{BASE}/empty/query", {"aggregate": {"count": True, "sum": "x", "avg": "x"}}).body
    assert empty == {"aggregates": {"count": 0, "sum": 0, "avg": None}}


def test_gzip_when_accepted(secret_api: Any) -> None:
    writes = [{"op": "set", "collection": "gz", "id": f"g{i}", "data": {"text": "lorem ipsum " * 20}} for i in range(20)]
    secret_api.post("/v1/projects/alpha-app/batch", {"writes": writes})
    response = secret_api.client.post(
        f"{BASE}/gz/query", data=b"{}", content_type="application/json",
        HTTP_X_API_KEY=secret_api.key, HTTP_ACCEPT_ENCODING="gzip",
    )
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    import gzip

    import orjson

    assert len(orjson.loads(gzip.decompress(response.content))["documents"]) == 20
