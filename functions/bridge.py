"""What a function's ``ctx.db``, ``ctx.storage`` and ``ctx.push`` calls do on the platform.

``bridge_for`` answers the callable that functions/sandbox.py invokes, in the calling
process, for every call the sandboxed code makes. Each operation calls the same service
or selector as the REST API, with a secret-key context of the function's own project, so
validation, rules, the change log and triggers are never skipped. The project is fixed
when the bridge is made: nothing the sandbox sends names or changes it.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PayloadTooLarge
from projects.documents import selectors, services
from projects.documents.query import parse_query
from storage.backends import backend_get
from storage.selectors import object_get, object_json, objects_list
from storage.services import object_delete, object_sign, object_upload, upload_options

logger = logging.getLogger("baas.functions.bridge")

Operation = Callable[[RequestContext, dict[str, Any]], Any]
QUERY_FIELDS = frozenset({"where", "orderBy", "limit", "cursor", "select", "aggregate"})


def _take(args: dict[str, Any], *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The named arguments, refusing unknown and missing ones as the REST API would."""
    unknown = set(args) - set(required) - set(optional)
    if unknown:
        raise InvalidArgument(f"Unknown arguments: {', '.join(sorted(unknown))}.", details={"fields": sorted(unknown)})
    for name in required:
        if name not in args:
            raise InvalidArgument(f"'{name}' is required.", details={"field": name})
    return {name: args.get(name) for name in (*required, *optional)}


def _version(value: Any) -> int | None:
    return services.parse_version(value, field="ifVersion")


# --- documents ------------------------------------------------------------------------------


def _document(result: Any) -> dict[str, Any]:
    return selectors.document_json(result.document)


def db_get(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any] | None:
    a = _take(args, required=("collection", "id"))
    try:
        return selectors.document_json(selectors.document_get(ctx=ctx, collection=a["collection"], doc_id=a["id"]))
    except NotFound:
        return None


def db_create(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("collection", "data"), optional=("id", "transforms"))
    if a["id"] is None:
        result = services.document_create(ctx=ctx, collection=a["collection"], data=a["data"], transforms=a["transforms"])
    else:
        result = services.document_set(
            ctx=ctx, collection=a["collection"], doc_id=a["id"], data=a["data"], transforms=a["transforms"], create_only=True
        )
    return _document(result)


def db_set(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("collection", "id", "data"), optional=("transforms", "ifVersion"))
    result = services.document_set(
        ctx=ctx, collection=a["collection"], doc_id=a["id"], data=a["data"], transforms=a["transforms"],
        if_version=_version(a["ifVersion"]),
    )
    return _document(result)


def db_update(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("collection", "id", "data"), optional=("transforms", "ifVersion"))
    result = services.document_update(
        ctx=ctx, collection=a["collection"], doc_id=a["id"], data=a["data"], transforms=a["transforms"],
        if_version=_version(a["ifVersion"]),
    )
    return _document(result)


def db_delete(ctx: RequestContext, args: dict[str, Any]) -> None:
    a = _take(args, required=("collection", "id"), optional=("ifVersion",))
    services.document_delete(ctx=ctx, collection=a["collection"], doc_id=a["id"], if_version=_version(a["ifVersion"]))
    return None


def db_query(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("collection",), optional=("query",))
    body = a["query"] if a["query"] is not None else {}
    if not isinstance(body, dict):
        raise InvalidArgument("'query' is an object.", details={"field": "query"})
    unknown = set(body) - QUERY_FIELDS
    if unknown:
        raise InvalidArgument(f"Unknown query fields: {', '.join(sorted(unknown))}.")
    query = parse_query(body)
    if query.aggregate is not None:
        return {"aggregates": selectors.document_aggregate(ctx=ctx, collection=a["collection"], query=query)}
    page = selectors.document_query(ctx=ctx, collection=a["collection"], query=query)
    return {
        "documents": [selectors.document_json(doc, query.select) for doc in page.documents],
        "nextCursor": page.next_cursor,
    }


def db_batch(ctx: RequestContext, args: dict[str, Any]) -> list[dict[str, Any]]:
    a = _take(args, required=("writes",))
    results = services.batch_write(ctx=ctx, writes=a["writes"], max_writes=settings.BAAS_MAX_BATCH_WRITES)
    return [{"id": result.doc_id, "version": result.version} for result in results]


# --- storage --------------------------------------------------------------------------------


def storage_read(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("bucket", "path"))
    bucket, row = object_get(ctx=ctx, bucket_name=a["bucket"], path=a["path"])
    # Base64 grows the bytes by a third, and the answer must fit one control message.
    ceiling = (settings.BAAS_FUNCTIONS_MESSAGE_LIMIT - 4096) * 3 // 4
    if row.size > ceiling:
        raise PayloadTooLarge(
            f"The object is {row.size} bytes; a function reads at most {ceiling} bytes at once (a signed URL serves more).",
            details={"limitBytes": ceiling},
        )
    data = b"".join(backend_get().read(row.blob_key)) if row.size else b""
    return {"object": object_json(row, bucket.name), "data": base64.b64encode(data).decode("ascii")}


def storage_write(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("bucket", "path", "data"), optional=("contentType", "metadata"))
    if not isinstance(a["data"], str):
        raise InvalidArgument("'data' is the object's bytes in base64.", details={"field": "data"})
    try:
        data = base64.b64decode(a["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("'data' is not valid base64.", details={"field": "data"}) from None
    options = upload_options(ctx=ctx, content_type=a["contentType"] or "application/octet-stream", metadata=a["metadata"] or {})
    bucket, row = object_upload(
        ctx=ctx, bucket_name=a["bucket"], path=a["path"], stream=io.BytesIO(data), declared_size=len(data), options=options
    )
    return object_json(row, bucket.name)


def storage_delete(ctx: RequestContext, args: dict[str, Any]) -> dict[str, bool]:
    a = _take(args, required=("bucket", "path"))
    return {"deleted": object_delete(ctx=ctx, bucket_name=a["bucket"], path=a["path"])}


def storage_list(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("bucket",), optional=("prefix", "delimiter", "limit", "cursor"))
    limit = a["limit"]
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgument("'limit' is an integer.", details={"field": "limit"})
    for name in ("delimiter", "cursor"):
        if a[name] is not None and not isinstance(a[name], str):
            raise InvalidArgument(f"'{name}' is a string.", details={"field": name})
    page = objects_list(
        ctx=ctx, bucket_name=a["bucket"], prefix=a["prefix"], delimiter=a["delimiter"], limit=limit, cursor=a["cursor"]
    )
    return {
        "objects": [object_json(row, a["bucket"]) for row in page.objects],
        "prefixes": page.prefixes,
        "nextCursor": page.next_cursor,
    }


def storage_signed_url(ctx: RequestContext, args: dict[str, Any]) -> dict[str, Any]:
    a = _take(args, required=("bucket", "path"), optional=("expiresIn",))
    data = {} if a["expiresIn"] is None else {"expiresIn": a["expiresIn"]}
    return object_sign(ctx=ctx, bucket_name=a["bucket"], path=a["path"], data=data)


# --- push -----------------------------------------------------------------------------------


PUSH_FIELDS = {"target", "notification", "data", "android", "apns", "webpush", "sendAt"}


def push_send(ctx: RequestContext, args: dict[str, Any]) -> Any:
    """The body of ``POST …/push/messages``, through the same service."""
    from projects.push.services import push_message_send

    message = _take(args, required=("message",))["message"]
    if not isinstance(message, dict):
        raise InvalidArgument("'message' must be an object.", details={"field": "message"})
    unknown = sorted(set(message) - PUSH_FIELDS)
    if unknown:
        raise InvalidArgument(f"Unknown field {unknown[0]!r} in the message.", details={"field": unknown[0]})
    return push_message_send(
        ctx=ctx, target=message.get("target"), notification=message.get("notification"), data=message.get("data"),
        android=message.get("android"), apns=message.get("apns"), webpush=message.get("webpush"),
        send_at=message.get("sendAt"),
    )


OPERATIONS: dict[str, Operation] = {
    "db.get": db_get,
    "db.create": db_create,
    "db.set": db_set,
    "db.update": db_update,
    "db.delete": db_delete,
    "db.query": db_query,
    "db.batch": db_batch,
    "storage.read": storage_read,
    "storage.write": storage_write,
    "storage.delete": storage_delete,
    "storage.list": storage_list,
    "storage.signed_url": storage_signed_url,
    "push.send": push_send,
}


def bridge_for(*, project_id: str, function: str) -> Callable[[str, dict[str, Any]], Any]:
    """The bridge of one invocation of ``function`` in ``project_id``: ``bridge(op, args)``
    answers a JSON value or raises ApplicationError."""
    ctx = RequestContext(project_id=project_id, key_kind="secret", origin="function")

    def bridge(op: str, args: dict[str, Any]) -> Any:
        operation = OPERATIONS.get(op)
        if operation is None:
            raise InvalidArgument(f"Unknown operation {op!r}.", details={"op": op, "known": sorted(OPERATIONS)})
        if not isinstance(args, dict):
            raise InvalidArgument("A call's arguments are an object.")
        logger.debug("function %s of %s calls %s", function, project_id, op)
        return operation(ctx, args)

    return bridge
