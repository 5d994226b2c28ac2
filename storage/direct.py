"""Presigned direct uploads (S3 mode, ``BAAS_S3_PRESIGNED=1``): the client sends the bytes
straight to S3, and the API only decides and records.

``start`` checks what it can before any byte moves (path, bucket, type, declared size,
rules) and answers with an S3 POST form for one new random key, limited to that exact
size and Content-Type until it expires, plus a signed token naming the upload.
``finalize`` trusts neither the client nor the endpoint's enforcement of the form's
policy: it looks at the stored object (HEAD for size, type and write time; the bytes
for the sha256), then writes the row, usage and event through ``object_finalize``
exactly as a proxied upload does. A refused finalize deletes the bytes; an upload that
is never finalized has no object row, so it is invisible and counted nowhere, and its
``DirectUpload`` row lets the sweep (storage/sweep.py) delete the bytes later.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings

from baas.api.context import RequestContext
from baas.api.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
)
from baas.api.formats import rfc3339
from storage import signing
from storage.backends import backend_get, project_prefix
from storage.models import Bucket, DirectUpload, StoredObject
from storage.selectors import bucket_access
from storage.services import (
    UploadOptions,
    WrittenBlob,
    object_finalize,
    release_database,
    upload_options,
    upload_precheck,
)
from storage.validation import path_check

START_FIELDS = frozenset({"contentType", "size", "sha256", "metadata", "owner", "expiresIn"})
DEFAULT_EXPIRES_IN = 900
# How long after the form expires a finalize is still taken (a large upload that began
# in time may end well after), and how far S3's clock may run ahead of ours.
FINALIZE_GRACE_SECONDS = 3600
CLOCK_SKEW_SECONDS = 2
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


logger = logging.getLogger("baas.storage")

def _backend() -> Any:
    backend = backend_get()
    if not settings.BAAS_S3_PRESIGNED or not hasattr(backend, "presigned_post"):
        raise FailedPrecondition("Direct uploads need S3 storage with BAAS_S3_PRESIGNED=1; upload through the API instead.")
    return backend


def _uid(ctx: RequestContext) -> str | None:
    return ctx.auth.get("uid") if ctx.auth else None


def direct_upload_start(*, ctx: RequestContext, bucket_name: str, path: str, data: dict[str, Any]) -> dict[str, Any]:
    backend = _backend()
    path = path_check(path)
    unknown = set(data) - START_FIELDS
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(sorted(unknown))}.", details={"fields": sorted(unknown)})
    size = data.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidArgument("'size' is the object's length in bytes.", details={"field": "size"})
    sha256 = data.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise InvalidArgument("'sha256' is 64 lower-case hex digits.", details={"field": "sha256"})
    expires_in = data.get("expiresIn", DEFAULT_EXPIRES_IN)
    ceiling = settings.BAAS_STORAGE_MAX_SIGNED_URL_SECONDS
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not 1 <= expires_in <= ceiling:
        raise InvalidArgument(f"'expiresIn' is 1 to {ceiling} seconds.", details={"field": "expiresIn"})
    content_type = data.get("contentType")
    if content_type is not None and not isinstance(content_type, str):
        raise InvalidArgument("'contentType' must be a string.", details={"field": "contentType"})
    options = upload_options(ctx=ctx, content_type=content_type, metadata=data.get("metadata"), owner=data.get("owner"))
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    upload_precheck(ctx=ctx, bucket=bucket, path=path, declared_size=size, options=options)
    key = f"{project_prefix(ctx.project_id)}{bucket.pk}/{uuid.uuid4().hex}"
    expires = int(time.time()) + expires_in
    form = backend.presigned_post(key, content_type=options.content_type, size=size, expires_in=expires_in)
    # Until finalize takes the bytes (or can no longer), the sweep knows where they are.
    DirectUpload.objects.create(
        key=key, project_id=ctx.project_id,
        finalize_by=datetime.fromtimestamp(expires + FINALIZE_GRACE_SECONDS, tz=dt_timezone.utc),
    )  # fmt: skip
    token = signing.token_sign({
        "v": 1, "project": ctx.project_id, "bucket": bucket.name, "bucketId": bucket.pk, "path": path, "key": key,
        "contentType": options.content_type, "size": size, "sha256": sha256, "metadata": options.metadata,
        "owner": options.owner, "uid": _uid(ctx), "expires": expires,
    })  # fmt: skip
    return {
        "method": "POST",
        "url": form["url"],
        "fields": form["fields"],
        "fileField": "file",
        "expireTime": rfc3339(datetime.fromtimestamp(expires, tz=dt_timezone.utc)),
        "upload": token,
    }


def _discard(backend: Any, key: str) -> None:
    try:
        backend.delete(key)
    except Exception:  # the refusal matters more; the sweep deletes the leftover later
        logger.warning("could not delete the bytes of a refused direct upload (%s)", key, exc_info=True)
        return
    DirectUpload.objects.filter(key=key).delete()


def direct_upload_finalize(
    *, ctx: RequestContext, bucket_name: str, path: str, data: dict[str, Any]
) -> tuple[Bucket, StoredObject, bool]:
    """(bucket, row, created). Repeating a finalize that succeeded answers the same row."""
    backend = _backend()
    unknown = set(data) - {"upload"}
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(sorted(unknown))}.", details={"fields": sorted(unknown)})
    claim = signing.token_verify(data.get("upload"))
    path = path_check(path)
    if (claim.get("v"), claim.get("project"), claim.get("bucket"), claim.get("path")) != (1, ctx.project_id, bucket_name, path):
        raise PermissionDenied("This upload token is for another object.")
    if claim.get("uid") != _uid(ctx):
        raise PermissionDenied("Finalize an upload as the caller who started it.")
    if time.time() > claim["expires"] + FINALIZE_GRACE_SECONDS:
        raise PermissionDenied("This upload can no longer be finalized.", details={"reason": "expired"})
    bucket = bucket_access(ctx=ctx, name=bucket_name)
    if bucket.pk != claim["bucketId"]:
        raise NotFound(f"Bucket {bucket_name!r} not found.", details={"bucket": bucket_name})
    key = claim["key"]
    done = StoredObject.objects.for_project(ctx.project_id).filter(bucket=bucket, path=path, blob_key=key).first()
    if done is not None:
        DirectUpload.objects.filter(key=key).delete()
        return bucket, done, False
    release_database()
    found = backend.head(key)
    if found is None:
        raise NotFound("Nothing was uploaded with this form (or it was already replaced).", details={"path": path})
    try:
        size, declared = found["size"], claim["size"]
        if found["last_modified"].timestamp() > claim["expires"] + CLOCK_SKEW_SECONDS:
            raise PermissionDenied("The object was uploaded after the form expired.", details={"reason": "expired"})
        if size > declared or size > bucket.max_file_size:
            raise PayloadTooLarge(
                f"The upload has {size} bytes; {declared} were declared (limit {bucket.max_file_size}).",
                details={"limitBytes": min(declared, bucket.max_file_size), "size": size},
            )
        if size != declared:
            raise InvalidArgument(f"The upload has {size} bytes; {declared} were declared.", details={"size": size})
        if found["content_type"] != claim["contentType"]:
            raise UnsupportedMediaType(
                "The upload's Content-Type is not the one declared.",
                details={"contentType": found["content_type"], "expected": claim["contentType"]},
            )
        digest = hashlib.sha256()
        for chunk in backend.read(key):
            digest.update(chunk)
        sha256 = digest.hexdigest()
        if claim.get("sha256") is not None and sha256 != claim["sha256"]:
            raise InvalidArgument("The upload's sha256 is not the one declared.", details={"sha256": sha256})
    except BaseException:
        _discard(backend, key)
        raise
    options = UploadOptions(content_type=claim["contentType"], metadata=claim["metadata"] or {}, owner=claim.get("owner"))
    existed = StoredObject.objects.for_project(ctx.project_id).filter(bucket=bucket, path=path).exists()
    row = object_finalize(ctx=ctx, bucket=bucket, path=path, blob=WrittenBlob(key, size, sha256), options=options)
    DirectUpload.objects.filter(key=key).delete()  # a crash before this: the sweep sees the row took the bytes
    return bucket, row, not existed
