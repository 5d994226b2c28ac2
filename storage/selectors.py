"""Reads: buckets, object metadata, listings and usage. Every one takes ``ctx`` first and
answers "not found" alike for a missing bucket and another project's."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Collate

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PermissionDenied
from baas.api.formats import rfc3339
from storage.access import bucket_rule, object_access_check, object_allowed, object_resource
from storage.models import Bucket, StorageUsage, StoredObject
from storage.validation import bucket_name_check, path_check, prefix_check, successor

MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100
SCAN_BATCH = 500


def require_secret(ctx: RequestContext) -> None:
    if not ctx.is_privileged:
        raise PermissionDenied("Bucket configuration needs a secret key.")


def bucket_access(*, ctx: RequestContext, name: str) -> Bucket:
    """The project's bucket ``name``; 404 when it has none (whoever else might)."""
    bucket = Bucket.objects.for_project(ctx.project_id).filter(name=bucket_name_check(name, field="bucket")).first()
    if bucket is None:
        raise NotFound(f"Bucket {name!r} not found.", details={"bucket": name})
    return bucket


def buckets_list(*, ctx: RequestContext) -> list[Bucket]:
    require_secret(ctx)
    return list(Bucket.objects.for_project(ctx.project_id).order_by("name"))


def bucket_json(bucket: Bucket) -> dict[str, Any]:
    return {
        "name": bucket.name,
        "maxFileSize": bucket.max_file_size,
        "allowedContentTypes": bucket.allowed_content_types or [],
        "rules": bucket.rules or {},
        "createTime": rfc3339(bucket.created_at),
        "updateTime": rfc3339(bucket.updated_at),
    }


def object_json(row: StoredObject, bucket_name: str) -> dict[str, Any]:
    return {
        "bucket": bucket_name,
        "path": row.path,
        "size": row.size,
        "contentType": row.content_type,
        "sha256": row.sha256,
        "metadata": row.metadata or {},
        "owner": row.owner,
        "createTime": rfc3339(row.created_at),
        "updateTime": rfc3339(row.updated_at),
    }


def object_row(*, bucket: Bucket, path: str) -> StoredObject | None:
    return StoredObject.objects.for_project(bucket.project_id).filter(bucket=bucket, path=path).first()


def object_get(*, ctx: RequestContext, bucket_name: str, path: str) -> tuple[Bucket, StoredObject]:
    """An object the caller may read (``get``): 403 when denied, existing or not; then 404."""
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    path = path_check(path)
    row = object_row(bucket=bucket, path=path)
    object_access_check(ctx=ctx, bucket=bucket, operation="get", resource=object_resource(row), request={"path": path})
    if row is None:
        raise NotFound(f"Object {path!r} not found.", details={"bucket": bucket.name, "path": path})
    return bucket, row


def usage_get(*, ctx: RequestContext) -> dict[str, int]:
    require_secret(ctx)
    usage = StorageUsage.objects.for_project(ctx.project_id).first()
    return {"bytes": usage.bytes if usage else 0, "objects": usage.objects_count if usage else 0}


# --- listing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListPage:
    objects: list[StoredObject]
    prefixes: list[str]
    next_cursor: str | None


def _cursor_encode(prefix: str, delimiter: str, start: str, inclusive: bool) -> str:
    raw = orjson.dumps({"p": prefix, "d": delimiter, "s": start, "i": inclusive})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_decode(cursor: str, prefix: str, delimiter: str) -> tuple[str, bool]:
    """(where the next page starts, whether that path itself is included)."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        decoded = None
    if (
        not isinstance(decoded, dict)
        or not isinstance(decoded.get("s"), str)
        or not isinstance(decoded.get("i"), bool)
        or decoded.get("p") != prefix
        or decoded.get("d") != delimiter
    ):
        raise InvalidArgument("Invalid cursor for this listing (prefix and delimiter must not change).", details={"field": "cursor"})
    return decoded["s"], decoded["i"]


def _ordered_paths(queryset: QuerySet[StoredObject]) -> tuple[QuerySet[StoredObject], str]:
    """Paths compared in code point order on both databases (SQLite's BINARY on UTF-8 is
    that order already; PostgreSQL needs the "C" collation, which an index serves)."""
    if connection.vendor == "postgresql":
        return queryset.alias(path_c=Collate("path", "C")), "path_c"
    return queryset, "path"


def objects_list(
    *,
    ctx: RequestContext,
    bucket_name: str,
    prefix: str | None = None,
    delimiter: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> ListPage:
    """One page of a bucket's objects under ``prefix`` in path order; with a delimiter,
    the "folders" directly under the prefix come back once each in ``prefixes``.

    Rules are evaluated per object (``list``); a folder is shown only when the caller may
    see an object inside it. Pages are full unless ``BAAS_STORAGE_LIST_SCAN_LIMIT`` rows
    were examined first (many hidden objects), and the cursor resumes exactly after the
    last entry returned or examined.
    """
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    prefix = prefix_check(prefix)
    delimiter = delimiter or ""
    if len(delimiter) > 1 or (delimiter and not delimiter.isprintable()):
        raise InvalidArgument("'delimiter' is one printable character, such as '/'.", details={"field": "delimiter"})
    if limit is None:
        limit = DEFAULT_LIST_LIMIT
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidArgument(f"'limit' is 1 to {MAX_LIST_LIMIT}.", details={"field": "limit"})
    if not ctx.is_privileged and bucket_rule(bucket, "list") is None:
        raise PermissionDenied(f"Missing or insufficient permissions for 'list' in bucket {bucket.name}.")
    start, inclusive = (prefix, True) if cursor is None else _cursor_decode(cursor, prefix, delimiter)
    if start < prefix:
        start, inclusive = prefix, True
    upper = successor(prefix) if prefix else None
    base, field = _ordered_paths(StoredObject.objects.for_project(ctx.project_id).filter(bucket=bucket))
    if upper is not None:
        base = base.filter(**{f"{field}__lt": upper})

    def visible(row: StoredObject) -> bool:
        return ctx.is_privileged or object_allowed(
            ctx=ctx, bucket=bucket, operation="list", resource=object_resource(row), request={"path": row.path, "prefix": prefix}
        )

    def page(cursor_at: tuple[str, bool] | None) -> ListPage:
        following = None if cursor_at is None else _cursor_encode(prefix, delimiter, *cursor_at)
        return ListPage(objects, prefixes, following)

    objects: list[StoredObject] = []
    prefixes: list[str] = []
    scanned, budget = 0, settings.BAAS_STORAGE_LIST_SCAN_LIMIT
    batch_size = min(SCAN_BATCH, limit + 1)  # enough when nothing is hidden; more once rows are
    while True:
        batch = list(base.filter(**{f"{field}__{'gte' if inclusive else 'gt'}": start}).order_by(field)[:batch_size])
        jumped = False
        for row in batch:
            if scanned >= budget:
                return page((start, inclusive))
            scanned += 1
            folder = _folder_of(row.path, prefix, delimiter)
            if not visible(row):
                start, inclusive = row.path, False
                continue
            if len(objects) + len(prefixes) >= limit:
                # The page is full and one more entry exists: the next page starts here.
                return page((start, inclusive))
            if folder is None:
                objects.append(row)
                start, inclusive = row.path, False
                continue
            prefixes.append(folder)
            after = successor(folder)
            if after is None:
                return page(None)
            start, inclusive, jumped = after, True, True
            break
        if not jumped and len(batch) < batch_size:
            return page(None)
        batch_size = SCAN_BATCH


def _folder_of(path: str, prefix: str, delimiter: str) -> str | None:
    """The "folder" directly under ``prefix`` that holds ``path``, if any."""
    if not delimiter:
        return None
    index = path.find(delimiter, len(prefix))
    return None if index < 0 else path[: index + len(delimiter)]
