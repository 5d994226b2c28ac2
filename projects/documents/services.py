"""Document writes: the one path every caller (REST, batch, realtime, functions, console)
goes through, so validation, rules, preconditions and the change log are never skipped.

Each write runs in one transaction: read the current row under lock, compute the new
data (merge patch, transforms), validate (size, depth, JSON Schema), check access,
write the row and append the change-log entry. The sequencer is woken after commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction

from baas.api.context import RequestContext
from baas.api.errors import (
    Aborted,
    AlreadyExists,
    ApplicationError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from projects.documents import changelog, indexes, store
from projects.documents.access import check_document_access
from projects.documents.config import (
    CollectionConfig,
    collection_config,
    collection_config_peek,
    collection_ensure,
    collection_forget,
    collection_known,
    forget_known,
)
from projects.documents.store import StoredDocument, api_time
from projects.documents.transforms import Transform, apply_transforms, merge_patch, parse_transforms
from projects.documents.validation import check_collection_name, check_doc_id, encode_data, validate_against_schema

WRITE_OPS = ("create", "set", "update", "delete")


@dataclass(frozen=True, slots=True)
class Write:
    op: str
    collection: str
    doc_id: str | None
    data: dict[str, Any] | None = None
    transforms: tuple[Transform, ...] = ()
    if_version: int | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    doc_id: str
    version: int | None
    document: StoredDocument | None  # None after a delete
    created: bool = False


def new_doc_id() -> str:
    """20 URL-safe random characters (120 bits)."""
    return secrets.token_urlsafe(15)


def parse_version(raw: Any, *, field: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise InvalidArgument(f"'{field}' is a positive integer version.", details={"field": field})
    return raw


def make_write(
    *,
    op: str,
    collection: Any,
    doc_id: Any = None,
    data: Any = None,
    transforms: Any = None,
    if_version: int | None = None,
) -> Write:
    """Validate the shape of one write (before any transaction starts)."""
    if op not in WRITE_OPS:
        raise InvalidArgument(f"Unknown write op {op!r}; expected {', '.join(WRITE_OPS)}.", details={"field": "op"})
    check_collection_name(collection)
    if doc_id is not None or op != "create":
        check_doc_id(doc_id)
    if op == "delete":
        if data is not None or transforms:
            raise InvalidArgument("A delete takes no data or transforms.", details={"field": "data"})
    elif data is None and op == "update":
        data = {}
    elif data is None and transforms:
        data = {}
    if op != "delete" and not isinstance(data, dict):
        raise InvalidArgument("'data' must be a JSON object.", details={"field": "data"})
    return Write(op, collection, doc_id, data, tuple(parse_transforms(transforms)), if_version)


def _apply(ctx: RequestContext, write: Write, now: datetime) -> WriteResult:
    """One write inside the caller's transaction."""
    project_id, collection = ctx.project_id, write.collection
    config = collection_config(project_id=project_id, name=collection)
    doc_id = write.doc_id or new_doc_id()
    if write.op == "create" and not write.transforms and write.if_version is None:
        return _insert_or_conflict(ctx, config, doc_id, write.data or {}, now)
    current = store.document_fetch(project_id=project_id, collection=collection, doc_id=doc_id, lock=True)
    # Rules are checked before anything that depends on the stored document (not found,
    # already exists, version mismatch), so a denied caller learns nothing about it.
    if write.op == "delete":
        check_document_access(
            ctx=ctx, config=config, operation="delete", resource=_resource(current) if current else None, request_data=None
        )
        _check_version(write, current)
        return _delete(ctx, config, current, doc_id, now)
    if write.op == "update" and current is None:
        check_document_access(ctx=ctx, config=config, operation="update", resource=None, request_data=write.data)
        raise NotFound(f"Document {collection}/{doc_id} not found.")
    new_data = merge_patch(current.data, write.data) if write.op == "update" and current else (write.data or {})
    new_data = apply_transforms(new_data, list(write.transforms), now=now)
    if current is None or write.op == "create":
        check_document_access(ctx=ctx, config=config, operation="create", resource=None, request_data=new_data)
    else:
        check_document_access(ctx=ctx, config=config, operation="update", resource=_resource(current), request_data=new_data)
    _check_version(write, current)
    if write.op == "create" and current is not None:
        raise AlreadyExists(f"Document {collection}/{doc_id} already exists.")
    if current is None:
        inserted = _insert(ctx, config, doc_id, new_data, now, checked=True)
        if inserted is not None:
            return inserted
        if write.op == "create":
            raise AlreadyExists(f"Document {collection}/{doc_id} already exists.")
        # A concurrent writer created it after our read: replace what it wrote.
        current = store.document_fetch(project_id=project_id, collection=collection, doc_id=doc_id, lock=True)
        assert current is not None
        check_document_access(ctx=ctx, config=config, operation="update", resource=_resource(current), request_data=new_data)
    encoded = _validated(config, new_data)
    version = current.version + 1
    store.document_replace(row_id=current.row_id, data_json=encoded, version=version, now=now)
    store.change_append(
        project_id=project_id,
        collection=collection,
        doc_id=doc_id,
        op="update",
        version=version,
        data_json=encoded,
        before_json=encode_data(current.data),
        now=now,
    )
    document = StoredDocument(current.row_id, doc_id, new_data, version, current.create_time, api_time(now))
    return WriteResult(doc_id, version, document)


def _check_version(write: Write, current: StoredDocument | None) -> None:
    if write.if_version is not None and (current is None or current.version != write.if_version):
        raise FailedPrecondition(
            "The document's version does not match.",
            details={"expected": write.if_version, "actual": current.version if current else None},
        )


def _insert_or_conflict(
    ctx: RequestContext, config: CollectionConfig, doc_id: str, data: dict[str, Any], now: datetime
) -> WriteResult:
    result = _insert(ctx, config, doc_id, data, now)
    if result is None:
        raise AlreadyExists(f"Document {config.name}/{doc_id} already exists.")
    return result


def _insert(
    ctx: RequestContext, config: CollectionConfig, doc_id: str, data: dict[str, Any], now: datetime, *, checked: bool = False
) -> WriteResult | None:
    """None when the id is taken (the transaction stays usable)."""
    encoded = _validated(config, data)
    if not checked:
        check_document_access(ctx=ctx, config=config, operation="create", resource=None, request_data=data)
    collection_ensure(project_id=ctx.project_id, name=config.name)
    row_id = store.document_insert(
        project_id=ctx.project_id, collection=config.name, doc_id=doc_id, data_json=encoded, now=now
    )
    if row_id is None:
        return None
    store.change_append(
        project_id=ctx.project_id,
        collection=config.name,
        doc_id=doc_id,
        op="create",
        version=1,
        data_json=encoded,
        before_json=None,
        now=now,
    )
    stamp = api_time(now)
    return WriteResult(doc_id, 1, StoredDocument(row_id, doc_id, data, 1, stamp, stamp), created=True)


def _delete(
    ctx: RequestContext, config: CollectionConfig, current: StoredDocument | None, doc_id: str, now: datetime
) -> WriteResult:
    if current is None:
        return WriteResult(doc_id, None, None)
    store.document_remove(row_id=current.row_id)
    store.change_append(
        project_id=ctx.project_id,
        collection=config.name,
        doc_id=doc_id,
        op="delete",
        version=current.version,
        data_json=None,
        before_json=encode_data(current.data),
        now=now,
    )
    return WriteResult(doc_id, None, None)


def _validated(config: CollectionConfig, data: dict[str, Any]) -> bytes:
    encoded = encode_data(data)
    validate_against_schema(key=config.cache_key, schema=config.schema, data=data)
    return encoded


def _resource(document: StoredDocument) -> dict[str, Any]:
    return {"id": document.doc_id, "data": document.data}


def _run(ctx: RequestContext, writes: list[Write], *, index_errors: bool) -> list[WriteResult]:
    now = datetime.now(timezone.utc)
    results: list[WriteResult] = []
    try:
        with transaction.atomic():
            for index, write in enumerate(writes):
                try:
                    results.append(_apply(ctx, write, now))
                except ApplicationError as error:
                    if index_errors:
                        error.details = {**error.details, "index": index}
                    raise
            transaction.on_commit(changelog.after_write_committed)
    except OperationalError as exc:
        raise _as_aborted(exc) from None
    except DatabaseError as exc:
        if _is_concurrency_failure(exc):
            raise Aborted("The write conflicted with a concurrent one; retry it.") from None
        raise
    return results


def _is_concurrency_failure(exc: DatabaseError) -> bool:
    code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return code in ("40001", "40P01", "55P03")


def _as_aborted(exc: OperationalError) -> Exception:
    if connection.vendor == "sqlite" or _is_concurrency_failure(exc):
        return Aborted("The database was busy with concurrent writes; retry.")
    return exc


# --- public services ---------------------------------------------------------------------


def document_create(*, ctx: RequestContext, collection: str, data: Any, transforms: Any = None, doc_id: str | None = None) -> WriteResult:
    write = make_write(op="create", collection=collection, doc_id=doc_id, data=data, transforms=transforms)
    if not write.transforms and store.is_postgres() and not connection.in_atomic_block:
        return _create_in_one_statement(ctx, write)
    return _run(ctx, [write], index_errors=False)[0]


@dataclass(frozen=True, slots=True)
class PreparedCreate:
    """A create validated and authorised, ready for the one-statement insert."""

    project_id: str
    collection: str
    doc_id: str
    data: dict[str, Any]
    encoded: bytes
    now: datetime


def create_prepare_cached(*, ctx: RequestContext, collection: str, data: Any, transforms: Any) -> PreparedCreate | None:
    """The checks of a plain create from process caches alone, for the event loop; None
    when the create needs the general path (transforms, a cache miss, not PostgreSQL)."""
    write = make_write(op="create", collection=collection, data=data, transforms=transforms)
    if write.transforms or not settings.IS_POSTGRES:
        return None
    config = collection_config_peek(project_id=ctx.project_id, name=write.collection)
    if config is None or not collection_known(project_id=ctx.project_id, name=write.collection):
        return None
    payload = write.data or {}
    encoded = _validated(config, payload)
    check_document_access(ctx=ctx, config=config, operation="create", resource=None, request_data=payload)
    return PreparedCreate(ctx.project_id, config.name, new_doc_id(), payload, encoded, datetime.now(timezone.utc))


def create_finish(prepared: PreparedCreate, *, inserted: bool) -> WriteResult:
    if not inserted:
        raise AlreadyExists(f"Document {prepared.collection}/{prepared.doc_id} already exists.")
    changelog.after_write_committed()
    stamp = api_time(prepared.now)
    return WriteResult(prepared.doc_id, 1, StoredDocument(0, prepared.doc_id, prepared.data, 1, stamp, stamp), created=True)


def _create_in_one_statement(ctx: RequestContext, write: Write) -> WriteResult:
    """The commonest write, in one round trip: same checks, then one atomic statement."""
    now = datetime.now(timezone.utc)
    config = collection_config(project_id=ctx.project_id, name=write.collection)
    data = write.data or {}
    doc_id = write.doc_id or new_doc_id()
    encoded = _validated(config, data)
    check_document_access(ctx=ctx, config=config, operation="create", resource=None, request_data=data)
    collection_ensure(project_id=ctx.project_id, name=config.name)
    if not store.document_insert_logged(
        project_id=ctx.project_id, collection=config.name, doc_id=doc_id, data_json=encoded, now=now
    ):
        raise AlreadyExists(f"Document {config.name}/{doc_id} already exists.")
    changelog.after_write_committed()
    stamp = api_time(now)
    return WriteResult(doc_id, 1, StoredDocument(0, doc_id, data, 1, stamp, stamp), created=True)


def document_set(
    *,
    ctx: RequestContext,
    collection: str,
    doc_id: str,
    data: Any,
    transforms: Any = None,
    if_version: int | None = None,
    create_only: bool = False,
) -> WriteResult:
    op = "create" if create_only else "set"
    write = make_write(op=op, collection=collection, doc_id=doc_id, data=data, transforms=transforms, if_version=if_version)
    return _run(ctx, [write], index_errors=False)[0]


def document_update(
    *, ctx: RequestContext, collection: str, doc_id: str, data: Any, transforms: Any = None, if_version: int | None = None
) -> WriteResult:
    write = make_write(op="update", collection=collection, doc_id=doc_id, data=data, transforms=transforms, if_version=if_version)
    return _run(ctx, [write], index_errors=False)[0]


def document_delete(*, ctx: RequestContext, collection: str, doc_id: str, if_version: int | None = None) -> WriteResult:
    write = make_write(op="delete", collection=collection, doc_id=doc_id, if_version=if_version)
    return _run(ctx, [write], index_errors=False)[0]


def batch_write(*, ctx: RequestContext, writes: Any, max_writes: int) -> list[WriteResult]:
    """All or nothing; an error names the failing write in ``details.index``."""
    if not isinstance(writes, list) or not writes:
        raise InvalidArgument("'writes' is a non-empty array.", details={"field": "writes"})
    if len(writes) > max_writes:
        raise InvalidArgument(f"A batch holds at most {max_writes} writes.", details={"field": "writes", "limit": max_writes})
    parsed: list[Write] = []
    for index, raw in enumerate(writes):
        try:
            if not isinstance(raw, dict):
                raise InvalidArgument("Each write is an object.")
            unknown = set(raw) - {"op", "collection", "id", "data", "transforms", "ifVersion"}
            if unknown:
                raise InvalidArgument(f"Unknown write fields: {', '.join(sorted(unknown))}.")
            parsed.append(
                make_write(
                    op=raw.get("op"),
                    collection=raw.get("collection"),
                    doc_id=raw.get("id"),
                    data=raw.get("data"),
                    transforms=raw.get("transforms"),
                    if_version=parse_version(raw.get("ifVersion"), field="ifVersion"),
                )
            )
        except ApplicationError as error:
            error.details = {**error.details, "index": index}
            raise
    return _run(ctx, parsed, index_errors=True)


def collection_delete(*, ctx: RequestContext, name: str) -> int:
    """Delete a collection, its config and every document, logging a delete per document."""
    if not ctx.is_privileged:
        raise PermissionDenied("Deleting a collection needs a secret key.")
    check_collection_name(name)
    now = datetime.now(timezone.utc)
    jsonb = "::jsonb" if store.is_postgres() else ""
    indexes.indexes_drop_all(project_id=ctx.project_id, collection=name)
    with transaction.atomic():
        with connection.cursor() as cursor:
            select_deletes = (
                "INSERT INTO baas_change (project_id, collection, doc_id, op, version, data, before, time) "
                f"SELECT project_id, collection, doc_id, 'delete', version, NULL, data{jsonb}, %s "
                "FROM baas_document WHERE project_id = %s AND collection = %s ORDER BY doc_id RETURNING id, project_id"
            )
            params = [store.db_time(now), ctx.project_id, name]
            if store.is_postgres():
                cursor.execute(
                    f"WITH change AS ({select_deletes}) INSERT INTO baas_change_pending (change_id, project_id) "
                    "SELECT id, project_id FROM change",
                    params,
                )
            else:
                cursor.execute(select_deletes, params)
                cursor.executemany("INSERT INTO baas_change_pending (change_id, project_id) VALUES (%s, %s)", cursor.fetchall())
            cursor.execute(
                "DELETE FROM baas_document WHERE project_id = %s AND collection = %s", [ctx.project_id, name]
            )
            deleted = int(cursor.rowcount)
            cursor.execute("DELETE FROM baas_collection WHERE project_id = %s AND name = %s", [ctx.project_id, name])
        transaction.on_commit(changelog.after_write_committed)
        transaction.on_commit(lambda: collection_forget(project_id=ctx.project_id, name=name))
    collection_forget(project_id=ctx.project_id, name=name)
    forget_known(project_id=ctx.project_id, name=name)
    return deleted
