"""Signed object URLs: HMAC-SHA256 over (method, project, bucket, path, expiry).

The signing key is ``BAAS_STORAGE_SIGNING_KEY`` or, by default, a key derived from
SECRET_KEY for this one purpose. Signatures are compared in constant time; a tampered
and an expired URL are both 403.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

import orjson
from django.conf import settings

from baas.api.errors import PermissionDenied

VERSION = "v1"


def signing_key() -> bytes:
    configured = settings.BAAS_STORAGE_SIGNING_KEY
    if configured:
        return configured.encode()
    return hmac.new(settings.SECRET_KEY.encode(), b"baas.storage.signed-url", hashlib.sha256).digest()


def url_signature(*, method: str, project_id: str, bucket: str, path: str, expires: int) -> str:
    # A JSON array keeps the fields apart whatever characters a path holds.
    message = orjson.dumps([VERSION, method, project_id, bucket, path, expires])
    return hmac.new(signing_key(), message, hashlib.sha256).hexdigest()


def signed_url(*, project_id: str, bucket: str, path: str, expires: int, method: str = "GET") -> str:
    signature = url_signature(method=method, project_id=project_id, bucket=bucket, path=path, expires=expires)
    return (
        f"{settings.BAAS_PUBLIC_URL}/v1/projects/{project_id}/buckets/{bucket}/objects/{quote(path, safe='/')}"
        f"?expires={expires}&signature={signature}"
    )


def url_verify(*, method: str, project_id: str, bucket: str, path: str, expires: str, signature: str) -> None:
    """Raise PermissionDenied unless the signature is valid and unexpired."""
    if not expires.isdigit() or len(expires) > 12 or len(signature) != 64:
        raise PermissionDenied("Invalid signed URL.")
    expected = url_signature(method=method, project_id=project_id, bucket=bucket, path=path, expires=int(expires))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise PermissionDenied("Invalid signed URL.")
    if int(expires) < time.time():
        raise PermissionDenied("This signed URL has expired.", details={"reason": "expired"})
