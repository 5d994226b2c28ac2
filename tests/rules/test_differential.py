"""SQL-compiled list rules against per-document CEL evaluation, on the suite's database.

The suite runs twice (SQLite, then PostgreSQL), so both compilers are held to cel-rust's
answers. Rules come from the SQL-compilable subset and must compile (mode "sql"); the
list query's result must then be exactly the documents the rule allows one by one.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baas.api.context import RequestContext
from projects.documents import selectors, services
from projects.documents.config import collection_config_set
from projects.documents.query import parse_query
from projects.rules.engine import activation, rule_compile

pytestmark = pytest.mark.django_db
_names = itertools.count()

# --- documents ----------------------------------------------------------------------------------

# A small domain, so that rule constants and document values often meet.
strings = st.sampled_from(["", "a", "ab", "b", "u1", "u2", "admin", "é", "Z", "a'b"])
numbers = st.one_of(st.integers(-2, 2), st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.0]))
scalars = st.one_of(st.none(), st.booleans(), numbers, strings)
values = st.one_of(
    scalars,
    scalars,
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["k", "x"]), scalars, max_size=2),
)
documents = st.dictionaries(st.sampled_from(["a", "b", "owner", "tags", "m", "flag"]), values, min_size=2, max_size=6)

# --- rules from the compilable subset ------------------------------------------------------------

fields = st.sampled_from(
    ["resource.data.a", "resource.data.b", "resource.data.owner", "resource.data.tags", "resource.data.m",
     "resource.data.flag", "resource.data.m.k", "resource.data['a']", "resource.id"]
)  # fmt: skip


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


constants = st.one_of(
    scalars.map(literal),
    scalars.map(literal),
    st.sampled_from(["auth.uid", "auth.token.role", "auth.token.level", "auth.token.missing", "request.time", "project.id"]),
)
comparisons = st.builds(
    lambda f, op, c, flip: f"{c} { {'<': '>', '<=': '>=', '>': '<', '>=': '<='}.get(op, op)} {f}" if flip else f"{f} {op} {c}",
    fields,
    st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
    constants,
    st.booleans(),
)
memberships = st.one_of(
    st.builds(lambda f, cs: f"{f} in [{', '.join(cs)}]", fields, st.lists(constants, max_size=3)),
    st.builds(lambda c, f: f"{c} in {f}", constants, fields),
)
atoms = st.one_of(
    comparisons,
    memberships,
    st.sampled_from(["has(resource.data.a)", "has(resource.data.m.k)", "has(resource.data.tags.x)", "resource.data.flag",
                     "auth != null", "auth == null", "true", "false", "auth.token.role == 'admin'"]),  # fmt: skip
    st.builds(lambda f, c: f"{f}.startsWith({c})", fields, constants),
)
rules = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} && {b})", inner, inner),
        st.builds(lambda a, b: f"({a} || {b})", inner, inner),
        st.builds(lambda a: f"!({a})", inner),
        st.builds(lambda a, b, c: f"({a} ? {b} : {c})", inner, inner, inner),
    ),
    max_leaves=4,
)
auths = st.one_of(
    st.none(),
    st.builds(
        lambda uid, token: {"uid": uid, "token": token},
        st.sampled_from(["u1", "u2", "a"]),
        st.fixed_dictionaries({}, optional={"role": st.sampled_from(["admin", "user"]), "level": st.integers(0, 3)}),
    ),
)

SECRET = RequestContext(project_id="alpha-app", key_kind="secret")


def _expected(rule: str, docs: list[tuple[str, dict[str, Any]]], auth: dict[str, Any] | None) -> list[str]:
    compiled = rule_compile(rule)
    variables = activation(project_id="alpha-app", auth=auth, resource=None, request={})
    return [doc_id for doc_id, data in docs if compiled.allows({**variables, "resource": {"id": doc_id, "data": data}})]


def _load(collection: str, rule: str, docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    collection_config_set(ctx=SECRET, name=collection, schema=None, rules={"list": rule}, indexes=None)
    stored = [(f"d{i:02d}", data) for i, data in enumerate(docs)]
    if stored:
        writes = [{"op": "set", "collection": collection, "id": doc_id, "data": data} for doc_id, data in stored]
        services.batch_write(ctx=SECRET, writes=writes, max_writes=500)
    return stored


def _listed(collection: str, auth: dict[str, Any] | None, limit: int) -> list[str]:
    ctx = RequestContext(project_id="alpha-app", key_kind="publishable", auth=auth)
    seen: list[str] = []
    cursor = None
    while True:
        body: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = selectors.document_query(ctx=ctx, collection=collection, query=parse_query(body))
        assert len(page.documents) == limit or page.next_cursor is None, "a page stopped early"
        seen.extend(document.doc_id for document in page.documents)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rule=rules, docs=st.lists(documents, min_size=3, max_size=12), auth=auths)
def test_sql_filter_equals_per_document_evaluation(project: Any, rule: str, docs: list[dict[str, Any]], auth: Any) -> None:
    compiled = rule_compile(rule)
    assert compiled.list_mode == "sql", f"{rule!r} is in the compilable subset"
    collection = f"diff{next(_names)}"
    stored = _load(collection, rule, docs)
    assert _listed(collection, auth, limit=1000) == _expected(rule, stored, auth), f"{django_settings.DATABASES['default']['ENGINE']}: {rule}"


evaluated_rules = st.one_of(
    st.builds(lambda a: f"(size(resource.data) > 1 || {a})", rules),
    st.builds(lambda a: f"({a} && resource.data.b != resource.data.a)", rules),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rule=evaluated_rules, docs=st.lists(documents, max_size=12), auth=auths, limit=st.integers(1, 4))
def test_evaluated_rules_page_exactly(project: Any, rule: str, docs: list[dict[str, Any]], auth: Any, limit: int) -> None:
    """Rules outside the subset: same answer, full pages, exact cursors."""
    assert rule_compile(rule).list_mode == "evaluated"
    collection = f"eval{next(_names)}"
    stored = _load(collection, rule, docs)
    assert _listed(collection, auth, limit=limit) == _expected(rule, stored, auth)
