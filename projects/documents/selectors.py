"""Document reads: get by id and compiled queries. No query loads a collection into Python."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from baas.api.context import RequestContext
from baas.api.errors import FailedPrecondition, NotFound
from baas.api.formats import rfc3339
from projects.documents import store
from projects.documents.access import ListAccess, check_document_access, list_access
from projects.documents.config import collection_config
from projects.documents.query import Cursor, Query, encode_cursor, value_at
from projects.documents.sql import Compiler
from projects.documents.store import StoredDocument
from projects.documents.validation import check_collection_name, check_doc_id


def document_get(*, ctx: RequestContext, collection: str, doc_id: str) -> StoredDocument:
    """403 when the rule denies, whether or not the document exists (no existence oracle)."""
    check_collection_name(collection)
    check_doc_id(doc_id)
    config = collection_config(project_id=ctx.project_id, name=collection)
    document = store.document_fetch(project_id=ctx.project_id, collection=collection, doc_id=doc_id)
    check_document_access(
        ctx=ctx,
        config=config,
        operation="get",
        resource={"id": doc_id, "data": document.data} if document else None,
        request_data=None,
    )
    if document is None:
        raise NotFound(f"Document {collection}/{doc_id} not found.")
    return document


def project_fields(data: dict[str, Any], paths: tuple[tuple[str, ...], ...] | None) -> dict[str, Any]:
    """Only the selected fields of ``data``, nested as they were."""
    if paths is None:
        return data
    result: dict[str, Any] = {}
    for path in paths:
        current: Any = data
        for segment in path:
            if not isinstance(current, dict) or segment not in current:
                break
            current = current[segment]
        else:
            target = result
            for segment in path[:-1]:
                target = target.setdefault(segment, {})
            target[path[-1]] = current
    return result


def document_json(document: StoredDocument, fields: tuple[tuple[str, ...], ...] | None = None) -> dict[str, Any]:
    return {
        "id": document.doc_id,
        "data": project_fields(document.data, fields),
        "version": document.version,
        "createTime": document.create_time,
        "updateTime": document.update_time,
    }


def document_json_bytes(document: StoredDocument) -> bytes:
    """The document's JSON, with the stored data text spliced in unparsed."""
    return b"".join(
        (
            b'{"id":"',
            document.doc_id.encode(),  # ids are [A-Za-z0-9_-]: nothing to escape
            b'","data":',
            document.data_json(),
            b',"version":',
            str(document.version).encode(),
            b',"createTime":"',
            document.create_time.encode(),
            b'","updateTime":"',
            document.update_time.encode(),
            b'"}',
        )
    )


@dataclass(frozen=True, slots=True)
class QueryPage:
    documents: list[StoredDocument]
    next_cursor: str | None


def _where_clauses(
    compiler: Compiler, ctx: RequestContext, collection: str, query: Query, access: ListAccess, *, paging: bool,
    cursor: Cursor | None = None,
) -> str:
    clauses = [f"d.project_id = {compiler.bind(ctx.project_id)}", f"d.collection = {compiler.bind(collection)}"]
    if query.where is not None:
        clauses.append(compiler.filter(query.where))
    if access.where is not None:
        clauses.append(access.where.text)
        compiler.params.extend(access.where.params)
    if paging:
        clauses.extend(compiler.order_presence(query.order))
        if cursor is not None:
            clauses.append(compiler.after_cursor(query.order, cursor))
    return " AND ".join(clauses)


def _page_rows(
    ctx: RequestContext, collection: str, query: Query, access: ListAccess, cursor: Cursor | None, limit: int
) -> list[StoredDocument]:
    compiler = Compiler(connection.vendor)
    where = _where_clauses(compiler, ctx, collection, query, access, paging=True, cursor=cursor)
    sql = (
        f"SELECT {store.columns()} FROM baas_document d WHERE {where} "
        f"ORDER BY {compiler.order_by(query.order)} LIMIT {limit}"
    )
    with connection.cursor() as db:
        db.execute(sql, compiler.params)
        return [store.from_row(row) for row in db.fetchall()]


def document_query(*, ctx: RequestContext, collection: str, query: Query) -> QueryPage:
    """One page of a query, holding publishable keys to the list rule.

    A rule that compiles to SQL is part of the WHERE clause. Any other rule is applied row
    by row while scanning on in query order, so a page is full whenever enough allowed
    documents exist, and the cursor follows the last document returned.
    """
    check_collection_name(collection)
    config = collection_config(project_id=ctx.project_id, name=collection)
    access = list_access(ctx=ctx, config=config, vendor=connection.vendor)
    if access.rule is None:
        documents = _page_rows(ctx, collection, query, access, query.cursor, query.limit + 1)
    else:
        documents = _scan_allowed(ctx, collection, query, access)
    page = documents[: query.limit]
    next_cursor = None
    if len(documents) > query.limit:
        next_cursor = encode_cursor(query, tuple(_cursor_value(v) for v in _order_values(query, page[-1])), page[-1].doc_id)
    return QueryPage(page, next_cursor)


def _order_values(query: Query, document: StoredDocument) -> tuple[Any, ...]:
    view = document.view()
    return tuple(value_at(view, key.path) for key in query.order[:-1])


def _scan_allowed(ctx: RequestContext, collection: str, query: Query, access: ListAccess) -> list[StoredDocument]:
    """Up to limit + 1 allowed documents, scanning in batches in query order."""
    wanted, batch = query.limit + 1, min(max(4 * query.limit, 100), 1000)
    allowed: list[StoredDocument] = []
    cursor = query.cursor
    while True:
        rows = _page_rows(ctx, collection, query, access, cursor, batch)
        for document in rows:
            if access.allows(document.doc_id, document.data):
                allowed.append(document)
                if len(allowed) == wanted:
                    return allowed
        if len(rows) < batch:
            return allowed
        cursor = Cursor(_order_values(query, rows[-1]), rows[-1].doc_id)


def _cursor_value(value: Any) -> Any:
    return rfc3339(value) if hasattr(value, "tzinfo") else value


def document_aggregate(*, ctx: RequestContext, collection: str, query: Query) -> dict[str, Any]:
    """count/sum/avg over every document the filter matches (limit and cursor ignored)."""
    check_collection_name(collection)
    config = collection_config(project_id=ctx.project_id, name=collection)
    access = list_access(ctx=ctx, config=config, vendor=connection.vendor)
    if access.rule is not None:
        raise FailedPrecondition(
            "Aggregations need a list rule that compiles to SQL; this collection's is evaluated per document.",
            details={"listRuleMode": "evaluated"},
        )
    assert query.aggregate is not None
    compiler = Compiler(connection.vendor)
    sum_path, avg_path = query.aggregate.get("sum"), query.aggregate.get("avg")
    columns = ["COUNT(*)"]
    columns.append(f"SUM({compiler.numeric(sum_path)})" if sum_path else "NULL")
    columns.append(f"SUM({compiler.numeric(avg_path)})" if avg_path else "NULL")
    columns.append(f"COUNT({compiler.numeric(avg_path)})" if avg_path else "NULL")
    where = _where_clauses(compiler, ctx, collection, query, access, paging=False)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM baas_document d WHERE {where}", compiler.params)
        count, total, avg_total, avg_count = cursor.fetchone()
    result: dict[str, Any] = {}
    if query.aggregate.get("count"):
        result["count"] = int(count)
    if sum_path:
        result["sum"] = _number(total) if total is not None else 0
    if avg_path:
        result["avg"] = float(avg_total) / int(avg_count) if avg_count else None
    return result


def _number(value: Any) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value  # type: ignore[no-any-return]
