"""Writes: buckets, uploads, deletes and signed URLs. The one write path every caller
(REST, console, functions) goes through.

An upload streams into a fresh backend key while hashing and counting; only then, in
one transaction, is the rule checked with everything known, the metadata row written,
usage adjusted and the event queued. Any failure before commit deletes the new bytes,
so an interrupted or refused upload leaves neither bytes nor a row; an overwrite frees
the old bytes only after commit.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from baas.api.context import RequestContext
from baas.api.formats import rfc3339
from baas.api.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from projects.rules.engine import rule_compile
from storage import signing
from storage.access import OPERATIONS, object_access_check, object_resource
from storage.backends import Backend, BlobWriter, backend_get, project_prefix
from storage.events import storage_event_emit
from storage.models import Bucket, StorageUsage, StoredObject
from storage.selectors import bucket_access, object_get, object_json, object_row, require_secret
from storage.validation import (
    content_disposition,
    bucket_name_check,
    content_type_allowed,
    content_type_check,
    content_type_patterns_check,
    metadata_check,
    path_check,
)

logger = logging.getLogger("baas.storage")

BUCKET_FIELDS = frozenset({"name", "maxFileSize", "allowedContentTypes", "rules"})


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# --- buckets ------------------------------------------------------------------------------


def _max_file_size_check(raw: Any) -> int:
    ceiling = settings.BAAS_STORAGE_MAX_FILE_SIZE
    if raw is None:
        return ceiling
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= ceiling:
        raise InvalidArgument(f"'maxFileSize' is a number of bytes from 1 to {ceiling}.", details={"field": "maxFileSize"})
    return raw


def _rules_check(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument("'rules' maps operations to expressions.", details={"field": "rules"})
    for operation, source in raw.items():
        if operation not in OPERATIONS:
            raise InvalidArgument(
                f"Unknown rule operation {operation!r}; expected {', '.join(OPERATIONS)}.", details={"field": f"rules.{operation}"}
            )
        rule_compile(source, field=f"rules.{operation}")
    return dict(raw)


def _unknown_fields_check(data: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise InvalidArgument(f"Unknown bucket fields: {', '.join(sorted(unknown))}.", details={"fields": sorted(unknown)})


def bucket_create(*, ctx: RequestContext, data: dict[str, Any]) -> Bucket:
    require_secret(ctx)
    _unknown_fields_check(data, BUCKET_FIELDS)
    bucket = Bucket(
        project_id=ctx.project_id,
        name=bucket_name_check(data.get("name")),
        max_file_size=_max_file_size_check(data.get("maxFileSize")),
        allowed_content_types=content_type_patterns_check(data.get("allowedContentTypes")),
        rules=_rules_check(data.get("rules")),
    )
    try:
        with transaction.atomic():
            bucket.save()
    except IntegrityError:
        raise AlreadyExists(f"Bucket {bucket.name!r} already exists.", details={"bucket": bucket.name}) from None
    return bucket


def bucket_update(*, ctx: RequestContext, name: str, data: dict[str, Any]) -> Bucket:
    """Change the fields given; the others keep their values."""
    require_secret(ctx)
    _unknown_fields_check(data, BUCKET_FIELDS - {"name"})
    with transaction.atomic():
        bucket = bucket_access(ctx=ctx, name=name)
        if "maxFileSize" in data:
            bucket.max_file_size = _max_file_size_check(data["maxFileSize"])
        if "allowedContentTypes" in data:
            bucket.allowed_content_types = content_type_patterns_check(data["allowedContentTypes"])
        if "rules" in data:
            bucket.rules = _rules_check(data["rules"])
        bucket.save()
    return bucket


def bucket_delete(*, ctx: RequestContext, name: str) -> None:
    """Only an empty bucket can be deleted (412 otherwise): objects are deleted one by
    one, so each delete is checked, counted and announced."""
    require_secret(ctx)
    with transaction.atomic():
        bucket = bucket_access(ctx=ctx, name=name)
        if StoredObject.objects.for_project(ctx.project_id).filter(bucket=bucket).exists():
            raise FailedPrecondition(f"Bucket {name!r} is not empty.", details={"bucket": name})
        bucket.delete()


# --- usage --------------------------------------------------------------------------------


def _usage_add(project_id: str, size: int, count: int) -> None:
    """Adjust the project's counters inside the caller's transaction."""
    if not StorageUsage.objects.for_project(project_id).update(bytes=F("bytes") + size, objects_count=F("objects_count") + count):
        try:
            with transaction.atomic():
                StorageUsage(project_id=project_id, bytes=size, objects_count=count).save(force_insert=True)
        except IntegrityError:
            StorageUsage.objects.for_project(project_id).update(bytes=F("bytes") + size, objects_count=F("objects_count") + count)


# --- uploads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrittenBlob:
    key: str
    size: int
    sha256: str


class BlobUpload:
    """Bytes on their way into the backend: hashed and counted as they pass, refused with
    413 the moment they exceed the bucket's limit."""

    def __init__(self, *, backend: Backend, bucket: Bucket, content_type: str) -> None:
        if not content_type_allowed(content_type, bucket.allowed_content_types or []):
            raise UnsupportedMediaType(
                f"Content type {content_type!r} is not allowed in bucket {bucket.name}.",
                details={"contentType": content_type, "allowed": bucket.allowed_content_types},
            )
        self.backend, self.limit = backend, bucket.max_file_size
        self.key = f"{project_prefix(bucket.project_id)}{bucket.pk}/{uuid.uuid4().hex}"
        self.size = 0
        self.hash = hashlib.sha256()
        self.writer: BlobWriter | None = backend.writer(self.key, content_type=content_type)

    def write(self, chunk: bytes) -> None:
        assert self.writer is not None
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise PayloadTooLarge(f"The object exceeds this bucket's limit of {self.limit} bytes.", details={"limitBytes": self.limit})
        self.hash.update(chunk)
        self.writer.write(chunk)

    def commit(self) -> WrittenBlob:
        assert self.writer is not None
        writer, self.writer = self.writer, None
        writer.commit()
        return WrittenBlob(self.key, self.size, self.hash.hexdigest())

    def abort(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            try:
                writer.abort()
            except Exception:
                logger.exception("could not discard an unfinished upload")


@dataclass(frozen=True, slots=True)
class UploadOptions:
    content_type: str
    metadata: dict[str, str]
    owner: str | None = None  # secret keys only: upload on behalf of a user
    if_none_match: bool = False  # create only: 409 when the path exists
    if_match: str | None = None  # replace only this content (sha256): 412 otherwise


def upload_options(
    *, ctx: RequestContext, content_type: str | None, metadata: Any, owner: Any = None, if_none_match: str | None = None,
    if_match: str | None = None,
) -> UploadOptions:
    """Checked upload options from untrusted input."""
    if owner is not None and not ctx.is_privileged:
        raise InvalidArgument("Only a secret key may set an object's owner.", details={"field": "owner"})
    if owner is not None and (not isinstance(owner, str) or not 1 <= len(owner) <= 128):
        raise InvalidArgument("'owner' is a user id of 1-128 characters.", details={"field": "owner"})
    if if_none_match is not None and if_none_match.strip() != "*":
        raise InvalidArgument("If-None-Match on an upload must be '*'.", details={"header": "If-None-Match"})
    match = None
    if if_match is not None:
        match = if_match.strip().removeprefix("W/").strip('"')
    return UploadOptions(
        content_type=content_type_check(content_type),
        metadata=metadata_check(metadata),
        owner=owner,
        if_none_match=if_none_match is not None,
        if_match=match,
    )


def _request_vars(path: str, size: int | None, options: UploadOptions) -> dict[str, Any]:
    return {"path": path, "size": size, "contentType": options.content_type, "metadata": options.metadata}


def _preconditions_check(existing: StoredObject | None, options: UploadOptions) -> None:
    if options.if_none_match and existing is not None:
        raise AlreadyExists(f"Object {existing.path!r} already exists.", details={"path": existing.path})
    if options.if_match is not None and (existing is None or existing.sha256 != options.if_match):
        raise FailedPrecondition("The object's current content does not match If-Match.", details={"header": "If-Match"})


def upload_precheck(
    *, ctx: RequestContext, bucket: Bucket, path: str, declared_size: int | None, options: UploadOptions
) -> None:
    """Fail before a byte is read when the answer is already known: type, declared size,
    preconditions, rules (with the declared size). The commit checks again."""
    if not content_type_allowed(options.content_type, bucket.allowed_content_types or []):
        raise UnsupportedMediaType(
            f"Content type {options.content_type!r} is not allowed in bucket {bucket.name}.",
            details={"contentType": options.content_type, "allowed": bucket.allowed_content_types},
        )
    if declared_size is not None and declared_size > bucket.max_file_size:
        limit = bucket.max_file_size
        raise PayloadTooLarge(f"The object exceeds this bucket's limit of {limit} bytes.", details={"limitBytes": limit})
    existing = object_row(bucket=bucket, path=path)
    _preconditions_check(existing, options)
    if declared_size is not None:
        object_access_check(
            ctx=ctx,
            bucket=bucket,
            operation="update" if existing else "create",
            resource=object_resource(existing),
            request=_request_vars(path, declared_size, options),
        )


def release_database() -> None:
    """Give a pooled PostgreSQL connection back while bytes stream, so a slow transfer
    holds no database connection (outside a transaction only). SQLite has no pool to
    drain, and closing its last connection costs a WAL checkpoint."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        connection.close()


def object_upload(
    *,
    ctx: RequestContext,
    bucket_name: str,
    path: str,
    stream: Readable,
    declared_size: int | None,
    options: UploadOptions,
) -> tuple[Bucket, StoredObject]:
    """Stream ``stream`` into ``path``. Must not run inside a transaction (the bytes go
    in before the metadata transaction opens)."""
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    path = path_check(path)
    upload_precheck(ctx=ctx, bucket=bucket, path=path, declared_size=declared_size, options=options)
    release_database()
    upload = BlobUpload(backend=backend_get(), bucket=bucket, content_type=options.content_type)
    try:
        chunk_size = settings.BAAS_STORAGE_CHUNK_SIZE
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:
                break
            upload.write(chunk)
        blob = upload.commit()
    except BaseException:
        upload.abort()
        raise
    if declared_size is not None and blob.size != declared_size:
        backend_get().delete(blob.key)
        raise InvalidArgument("The body is shorter or longer than its Content-Length.")
    return bucket, object_finalize(ctx=ctx, bucket=bucket, path=path, blob=blob, options=options)


def object_finalize(
    *, ctx: RequestContext, bucket: Bucket, path: str, blob: WrittenBlob, options: UploadOptions
) -> StoredObject:
    """Make written bytes the object at ``path``: rules (now with the real size),
    preconditions, the row, usage and the finalized event, in one transaction. On any
    failure the bytes are deleted."""
    backend = backend_get()
    try:
        for attempt in range(2):
            try:
                with transaction.atomic():
                    return _finalize_locked(ctx=ctx, bucket=bucket, path=path, blob=blob, options=options, backend=backend)
            except IntegrityError:
                if attempt:
                    raise  # a concurrent create of the same path won twice: give up
        raise AssertionError("unreachable")
    except BaseException:
        try:
            backend.delete(blob.key)
        except Exception:
            logger.exception("could not delete the bytes of a refused upload")
        raise


def _finalize_locked(
    *, ctx: RequestContext, bucket: Bucket, path: str, blob: WrittenBlob, options: UploadOptions, backend: Backend
) -> StoredObject:
    rows = StoredObject.objects.for_project(ctx.project_id).select_for_update()
    existing = rows.filter(bucket=bucket, path=path).first()
    if existing is not None and existing.blob_key == blob.key:
        return existing  # a repeated direct-upload finalize: already done, and the bytes are live
    _preconditions_check(existing, options)
    object_access_check(
        ctx=ctx,
        bucket=bucket,
        operation="update" if existing else "create",
        resource=object_resource(existing),
        request=_request_vars(path, blob.size, options),
    )
    now = timezone.now()
    uploader = ctx.auth.get("uid") if ctx.auth else None
    if existing is None:
        row = StoredObject(
            project_id=ctx.project_id,
            bucket=bucket,
            path=path,
            created_at=now,
            owner=options.owner or uploader,
        )
        old_key, old_size, added = None, 0, 1
    else:
        row, old_key, old_size, added = existing, existing.blob_key, existing.size, 0
        if options.owner is not None:
            row.owner = options.owner
    row.blob_key, row.size, row.sha256 = blob.key, blob.size, blob.sha256
    row.content_type, row.metadata, row.updated_at = options.content_type, options.metadata, now
    with transaction.atomic():
        row.save()
    _usage_add(ctx.project_id, blob.size - old_size, added)
    if old_key is not None:
        transaction.on_commit(lambda: _blob_discard(backend, old_key), robust=True)
    storage_event_emit(
        type="object.finalized", project_id=ctx.project_id, bucket=bucket.name, path=path, object=object_json(row, bucket.name)
    )
    return row


def _blob_discard(backend: Backend, key: str) -> None:
    try:
        backend.delete(key)
    except Exception:
        logger.exception("could not delete replaced or deleted bytes")


# --- delete -------------------------------------------------------------------------------


def object_delete(*, ctx: RequestContext, bucket_name: str, path: str) -> bool:
    """Delete an object (the rule sees it as ``resource``); False when there was none.
    The bytes go after commit."""
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    path = path_check(path)
    backend = backend_get()
    with transaction.atomic():
        row = StoredObject.objects.for_project(ctx.project_id).select_for_update().filter(bucket=bucket, path=path).first()
        object_access_check(ctx=ctx, bucket=bucket, operation="delete", resource=object_resource(row), request={"path": path})
        if row is None:
            return False
        key, size = row.blob_key, row.size
        deleted = object_json(row, bucket.name)
        row.delete()
        _usage_add(ctx.project_id, -size, -1)
        transaction.on_commit(lambda: _blob_discard(backend, key), robust=True)
        storage_event_emit(type="object.deleted", project_id=ctx.project_id, bucket=bucket.name, path=path, object=deleted)
    return True


# --- signed URLs --------------------------------------------------------------------------


def object_sign(*, ctx: RequestContext, bucket_name: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    """A URL that downloads the object without keys until it expires. The caller must be
    allowed to ``get`` it now; the URL carries that permission, not the caller's key."""
    unknown = set(data) - {"expiresIn"}
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(sorted(unknown))}.", details={"fields": sorted(unknown)})
    expires_in = data.get("expiresIn", 3600)
    ceiling = settings.BAAS_STORAGE_MAX_SIGNED_URL_SECONDS
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 1 <= expires_in <= ceiling:
        raise InvalidArgument(f"'expiresIn' is 1 to {ceiling} seconds.", details={"field": "expiresIn"})
    bucket, row = object_get(ctx=ctx, bucket_name=bucket_name, path=path)
    expires = int(time.time()) + expires_in
    answer: dict[str, Any] = {
        "url": signing.signed_url(project_id=ctx.project_id, bucket=bucket.name, path=row.path, expires=expires),
        "expireTime": rfc3339(datetime.fromtimestamp(expires, tz=dt_timezone.utc)),
    }
    if settings.BAAS_S3_PRESIGNED:
        direct = backend_get().presigned_url(
            row.blob_key, method="GET", expires_in=expires_in, content_type=row.content_type, disposition=content_disposition(row.path, row.content_type)
        )
        if direct is not None:
            answer["directUrl"] = direct
    return answer
