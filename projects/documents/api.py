"""The document data plane on the lean HTTP edge (baas/api/edge.py): parse the request,
call one service or selector, render. Collection config stays on the DRF views."""

from __future__ import annotations

import orjson
from django.conf import settings

from baas.api.context import RequestContext
from baas.api.edge import EdgeRequest, EdgeResponse, Route
from baas.api.errors import InvalidArgument
from projects.documents import selectors, services
from projects.documents.schemas import OPERATIONS
from projects.documents.query import parse_query
from projects.documents.services import WriteResult
from projects.documents.validation import parse_field_path

QUERY_FIELDS = frozenset({"where", "orderBy", "limit", "cursor", "select", "aggregate"})


def _ctx(request: EdgeRequest) -> RequestContext:
    assert request.ctx is not None
    return request.ctx


def _etag(version: int) -> str:
    return f'"{version}"'


def _version_header(request: EdgeRequest, name: str) -> int | None:
    """``If-Match: "3"`` (also ``3`` or ``W/"3"``) → 3."""
    raw = request.header(name)
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise InvalidArgument(f'{name} must be a document version such as "3".', details={"header": name})
    return int(value)


def _fields_param(request: EdgeRequest) -> tuple[tuple[str, ...], ...] | None:
    raw = request.query.get("fields")
    if raw is None:
        return None
    return tuple(parse_field_path(part.strip(), field="fields") for part in raw.split(",") if part.strip())


def _written(result: WriteResult, status: int) -> EdgeResponse:
    assert result.document is not None
    return EdgeResponse(status, selectors.document_json(result.document), {"ETag": _etag(result.version or 0)})


def document_create(request: EdgeRequest) -> EdgeResponse:
    """Create a document with an auto id."""
    body = request.json_object()
    result = services.document_create(
        ctx=_ctx(request), collection=request.params["collection"], data=body.get("data"), transforms=body.get("transforms")
    )
    return _written(result, 201)


async def document_create_on_loop(request: EdgeRequest) -> EdgeResponse | None:
    """A plain create on the event loop: the checks from process caches, then one awaited
    statement; anything else (transforms, a cache miss, SQLite) takes the general path."""
    from projects.documents import store_async

    body = request.json_object()
    prepared = services.create_prepare_cached(
        ctx=_ctx(request), collection=request.params["collection"], data=body.get("data"), transforms=body.get("transforms")
    )
    if prepared is None:
        return None
    inserted = await store_async.document_insert_logged(
        project_id=prepared.project_id,
        collection=prepared.collection,
        doc_id=prepared.doc_id,
        data_json=prepared.encoded,
        now=prepared.now,
    )
    return _written(services.create_finish(prepared, inserted=inserted), 201)


def document_get(request: EdgeRequest) -> EdgeResponse:
    """Get a document (ETag; If-None-Match gives 304; ?fields=a,b.c selects fields)."""
    fields = _fields_param(request)
    document = selectors.document_get(ctx=_ctx(request), collection=request.params["collection"], doc_id=request.params["doc_id"])
    etag = _etag(document.version)
    if request.header("if-none-match") == etag:
        return EdgeResponse(304, None, {"ETag": etag})
    body = selectors.document_json_bytes(document) if fields is None else selectors.document_json(document, fields)
    return EdgeResponse(200, body, {"ETag": etag})


def document_set(request: EdgeRequest) -> EdgeResponse:
    """Create or replace a document (If-None-Match: * creates only; If-Match: version)."""
    body = request.json_object()
    if_none_match = request.header("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise InvalidArgument("If-None-Match on PUT must be '*'.", details={"header": "If-None-Match"})
    result = services.document_set(
        ctx=_ctx(request),
        collection=request.params["collection"],
        doc_id=request.params["doc_id"],
        data=body.get("data"),
        transforms=body.get("transforms"),
        if_version=_version_header(request, "if-match"),
        create_only=if_none_match is not None,
    )
    return _written(result, 201 if result.created else 200)


def document_update(request: EdgeRequest) -> EdgeResponse:
    """Merge-patch a document (JSON merge patch; transforms; If-Match)."""
    body = request.json_object()
    result = services.document_update(
        ctx=_ctx(request),
        collection=request.params["collection"],
        doc_id=request.params["doc_id"],
        data=body.get("data"),
        transforms=body.get("transforms"),
        if_version=_version_header(request, "if-match"),
    )
    return _written(result, 200)


def document_delete(request: EdgeRequest) -> EdgeResponse:
    """Delete a document (204 also when it did not exist; If-Match)."""
    services.document_delete(
        ctx=_ctx(request),
        collection=request.params["collection"],
        doc_id=request.params["doc_id"],
        if_version=_version_header(request, "if-match"),
    )
    return EdgeResponse(204)


def documents_query(request: EdgeRequest) -> EdgeResponse:
    """Query a collection: where, orderBy, limit, cursor, select, aggregate."""
    body = request.json_object()
    unknown = set(body) - QUERY_FIELDS
    if unknown:
        raise InvalidArgument(f"Unknown query fields: {', '.join(sorted(unknown))}.")
    query = parse_query(body)
    ctx, collection = _ctx(request), request.params["collection"]
    if query.aggregate is not None:
        return EdgeResponse(200, {"aggregates": selectors.document_aggregate(ctx=ctx, collection=collection, query=query)})
    page = selectors.document_query(ctx=ctx, collection=collection, query=query)
    if query.select is not None:
        documents = [selectors.document_json(doc, query.select) for doc in page.documents]
        return EdgeResponse(200, {"documents": documents, "nextCursor": page.next_cursor})
    body = b"".join(
        (
            b'{"documents":[',
            b",".join(selectors.document_json_bytes(doc) for doc in page.documents),
            b'],"nextCursor":',
            orjson.dumps(page.next_cursor),
            b"}",
        )
    )
    return EdgeResponse(200, body)


def batch_write(request: EdgeRequest) -> EdgeResponse:
    """Apply up to 500 writes atomically: all or none."""
    body = request.json_object()
    results = services.batch_write(ctx=_ctx(request), writes=body.get("writes"), max_writes=settings.BAAS_MAX_BATCH_WRITES)
    return EdgeResponse(200, {"results": [{"id": r.doc_id, "version": r.version} for r in results]})


ROUTES = [
    Route(
        "v1/projects/<project_id>/collections/<collection>/documents",
        {"POST": document_create},
        fast={"POST": document_create_on_loop},
        openapi={"POST": OPERATIONS["document_create"]},
    ),
    Route(
        "v1/projects/<project_id>/collections/<collection>/documents/<doc_id>",
        {"GET": document_get, "PUT": document_set, "PATCH": document_update, "DELETE": document_delete},
        openapi={
            "GET": OPERATIONS["document_get"],
            "PUT": OPERATIONS["document_set"],
            "PATCH": OPERATIONS["document_update"],
            "DELETE": OPERATIONS["document_delete"],
        },
    ),
    Route(
        "v1/projects/<project_id>/collections/<collection>/query",
        {"POST": documents_query},
        read_only=True,
        openapi={"POST": OPERATIONS["documents_query"]},
    ),
    Route("v1/projects/<project_id>/batch", {"POST": batch_write}, openapi={"POST": OPERATIONS["batch_write"]}),
]
