"""Who may do what to objects: the bucket's security rules.

Operations and shorthands are the documents' (``read`` = get + list, ``write`` =
create + update + delete). Secret keys bypass rules; a missing rule denies; any
evaluation error denies. ``resource`` is the stored object's metadata (None when there
is none), ``request`` what the call would do.
"""

from __future__ import annotations

from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import PermissionDenied
from projects.documents.access import SHORTHANDS
from projects.rules.engine import now, rule_allows
from storage.models import Bucket, StoredObject

OPERATIONS = ("get", "list", "create", "update", "delete", "read", "write")


def bucket_rule(bucket: Bucket, operation: str) -> str | None:
    rules = bucket.rules or {}
    return rules.get(operation) or rules.get(SHORTHANDS[operation])


def object_resource(row: StoredObject | None) -> dict[str, Any] | None:
    """The rules' view of a stored object."""
    if row is None:
        return None
    return {
        "path": row.path,
        "size": row.size,
        "contentType": row.content_type,
        "metadata": dict(row.metadata or {}),
        "owner": row.owner,
        "sha256": row.sha256,
        "createTime": row.created_at,
        "updateTime": row.updated_at,
    }


def object_allowed(
    *, ctx: RequestContext, bucket: Bucket, operation: str, resource: dict[str, Any] | None, request: dict[str, Any]
) -> bool:
    if ctx.is_privileged:
        return True
    return rule_allows(
        bucket_rule(bucket, operation),
        project_id=ctx.project_id,
        auth=ctx.auth,
        resource=resource,
        request={"time": now(), **request},
    )


def object_access_check(
    *, ctx: RequestContext, bucket: Bucket, operation: str, resource: dict[str, Any] | None, request: dict[str, Any]
) -> None:
    """Raise 403 unless allowed: the same answer whether or not the object exists."""
    if not object_allowed(ctx=ctx, bucket=bucket, operation=operation, resource=resource, request=request):
        raise PermissionDenied(f"Missing or insufficient permissions for '{operation}' in bucket {bucket.name}.")
