"""Signed object URLs: HMAC-SHA256 over (method, project, bucket, path, expiry).

The signing key is ``BAAS_STORAGE_SIGNING_KEY`` or, by default, a key derived from
SECRET_KEY for this one purpose. Signatures are compared in constant time; a tampered
and an expired URL are both 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
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


# --- direct-upload tokens -------------------------------------------------------------------


def _token_mac(body: bytes) -> str:
    # A key of its own, so an upload token can never pass for a URL signature or back.
    key = hmac.new(signing_key(), b"baas.storage.direct-upload", hashlib.sha256).digest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def token_sign(payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=")
    return f"{body.decode()}.{_token_mac(body)}"


def token_verify(token: Any) -> dict[str, Any]:
    """The payload of an untampered token; 403 otherwise (expiry is the caller's to judge)."""
    if not isinstance(token, str) or len(token) > 8192 or token.count(".") != 1:
        raise PermissionDenied("Invalid upload token.")
    body, mac = token.split(".")
    if not hmac.compare_digest(_token_mac(body.encode()).encode(), mac.encode()):
        raise PermissionDenied("Invalid upload token.")
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise PermissionDenied("Invalid upload token.") from None
    if not isinstance(payload, dict):
        raise PermissionDenied("Invalid upload token.")
    return payload
