"""Document reads: get by id and compiled queries. No query loads a collection into Python."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from baas.api.context import RequestContext
from baas.api.errors import NotFound
from baas.api.formats import rfc3339
from projects.documents import store
from projects.documents.access import check_document_access
from projects.documents.config import collection_config
from projects.documents.query import Query, encode_cursor, value_at
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


def _where_clauses(compiler: Compiler, ctx: RequestContext, collection: str, query: Query, *, paging: bool) -> str:
    clauses = [f"d.project_id = {compiler.bind(ctx.project_id)}", f"d.collection = {compiler.bind(collection)}"]
    if query.where is not None:
        clauses.append(compiler.filter(query.where))
    if paging:
        clauses.extend(compiler.order_presence(query.order))
        if query.cursor is not None:
            clauses.append(compiler.after_cursor(query.order, query.cursor))
    return " AND ".join(clauses)


def document_query(*, ctx: RequestContext, collection: str, query: Query) -> QueryPage:
    check_collection_name(collection)
    config = collection_config(project_id=ctx.project_id, name=collection)
    check_document_access(ctx=ctx, config=config, operation="list", resource=None, request_data=None)
    compiler = Compiler(connection.vendor)
    where = _where_clauses(compiler, ctx, collection, query, paging=True)
    sql = (
        f"SELECT {store.columns()} FROM baas_document d WHERE {where} "
        f"ORDER BY {compiler.order_by(query.order)} LIMIT {query.limit + 1}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, compiler.params)
        rows = cursor.fetchall()
    documents = [store.from_row(row) for row in rows[: query.limit]]
    next_cursor = None
    if len(rows) > query.limit:
        last = documents[-1]
        view = last.view()
        values = tuple(_cursor_value(value_at(view, key.path)) for key in query.order[:-1])
        next_cursor = encode_cursor(query, values, last.doc_id)
    return QueryPage(documents, next_cursor)


def _cursor_value(value: Any) -> Any:
    return rfc3339(value) if hasattr(value, "tzinfo") else value


def document_aggregate(*, ctx: RequestContext, collection: str, query: Query) -> dict[str, Any]:
    """count/sum/avg over every document the filter matches (limit and cursor ignored)."""
    check_collection_name(collection)
    config = collection_config(project_id=ctx.project_id, name=collection)
    check_document_access(ctx=ctx, config=config, operation="list", resource=None, request_data=None)
    assert query.aggregate is not None
    compiler = Compiler(connection.vendor)
    sum_path, avg_path = query.aggregate.get("sum"), query.aggregate.get("avg")
    columns = ["COUNT(*)"]
    columns.append(f"SUM({compiler.numeric(sum_path)})" if sum_path else "NULL")
    columns.append(f"SUM({compiler.numeric(avg_path)})" if avg_path else "NULL")
    columns.append(f"COUNT({compiler.numeric(avg_path)})" if avg_path else "NULL")
    where = _where_clauses(compiler, ctx, collection, query, paging=False)
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
