"""Who is calling: API keys, personal access tokens, and end-user access tokens.

Plain functions, so the REST views, the WebSocket consumer and any fast path share them.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from baas.api.context import Origin, RequestContext
from baas.api.errors import PermissionDenied, Unauthenticated
from endusers.tokens import access_token_verify, access_token_verify_cached
from projects import caching
from projects.models import ROLE_RANK, Role
from projects.services import PAT_PREFIX, secret_hash

WRITER_ROLES = {Role.OWNER, Role.ADMIN, Role.DEVELOPER}
TOUCH_INTERVAL_SECONDS = 60


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'.")
    return value.strip()


def authenticate_project_request(
    *,
    project_id: str,
    api_key: str | None,
    authorization: str | None,
    safe_method: bool,
    origin: Origin = "rest",
) -> RequestContext:
    """Build the context for a call on ``project_id`` or raise Unauthenticated.

    A key of another project, a revoked key and a malformed key are all the same 401,
    so the answer tells nothing about which projects exist.
    """
    token = bearer_token(authorization)
    if api_key:
        resolved = caching.api_key_resolve(secret_hash(api_key)) if api_key[:3] in ("pk_", "sk_") else None
        if resolved is None or resolved.project_id != project_id:
            raise Unauthenticated("Invalid API key for this project.")
        _touch_later(resolved.key_id)
        return RequestContext(
            project_id=project_id,
            key_kind=resolved.kind,  # type: ignore[arg-type]
            key_id=resolved.key_id,
            origin=origin,
            auth=end_user_auth(project_id, token),
        )
    if token and token.startswith(PAT_PREFIX):
        return authenticate_console_token(project_id=project_id, token=token, safe_method=safe_method, origin=origin)
    raise Unauthenticated("Missing API key: send it in the X-Api-Key header.")


def end_user_auth(project_id: str, token: str | None) -> dict[str, Any] | None:
    """The signed-in end user beside a key: a bearer that is not a console token."""
    if token is None or token.startswith(PAT_PREFIX):
        return None
    return access_token_verify(project_id, token)


def authenticate_cached(
    *, project_id: str, api_key: str | None, origin: Origin = "rest", authorization: str | None = None
) -> RequestContext | None:
    """``authenticate_project_request`` from the process cache alone, for code on an
    event loop; None when the answer needs I/O (the caller takes the general path).

    Callers must pass the request's ``authorization`` header: an end-user token is
    verified here when its key is cached, else the general path verifies it.
    """
    if not api_key or api_key[:3] not in ("pk_", "sk_"):
        return None
    token = bearer_token(authorization)
    resolved = caching.api_key_peek(secret_hash(api_key))
    if resolved is False:
        return None
    if resolved is None or resolved.project_id != project_id:  # type: ignore[union-attr]
        raise Unauthenticated("Invalid API key for this project.")
    if time.monotonic() - _last_touch.get(resolved.key_id, -TOUCH_INTERVAL_SECONDS) >= TOUCH_INTERVAL_SECONDS:  # type: ignore[union-attr]
        return None  # recording the key's use touches the cache and the broker
    auth: dict[str, Any] | None = None
    if token is not None and not token.startswith(PAT_PREFIX):
        auth = access_token_verify_cached(project_id, token)
        if auth is None:
            return None
    return RequestContext(project_id=project_id, key_kind=resolved.kind, key_id=resolved.key_id, origin=origin, auth=auth)  # type: ignore[union-attr,arg-type]


def authenticate_console_token(*, project_id: str, token: str, safe_method: bool, origin: Origin) -> RequestContext:
    """A console member acting through a personal access token gets their role's power."""
    user_id = console_user_for_token(token)
    role = caching.member_role(project_id, user_id)
    if role is None:
        raise Unauthenticated("Invalid API key for this project.")
    if role not in WRITER_ROLES and not safe_method:
        raise PermissionDenied("Viewers cannot change a project.")
    return RequestContext(
        project_id=project_id,
        key_kind="secret",
        origin=origin,
        console_user_id=user_id,
        role=role,
    )


def console_user_for_token(token: str) -> int:
    resolved = caching.access_token_resolve(secret_hash(token))
    if resolved is None:
        raise Unauthenticated("Invalid or revoked access token.")
    return resolved.user_id


def require_role(ctx: RequestContext, minimum: str) -> None:
    """Key-management and member calls: secret keys pass; members need the rank."""
    if ctx.console_user_id is None:
        if not ctx.is_privileged:
            raise PermissionDenied("This call needs a secret key.")
        return
    if ROLE_RANK.get(ctx.role or "", 0) < ROLE_RANK[Role(minimum)]:
        raise PermissionDenied(f"This call needs the {minimum} role.")


_last_touch: dict[int, float] = {}


def _touch_later(key_id: int) -> None:
    """Queue a last-used update at most once a minute per key, after the request.

    A process-local clock skips the shared-cache check on all but one request a minute.
    """
    now = time.monotonic()
    if now - _last_touch.get(key_id, -TOUCH_INTERVAL_SECONDS) < TOUCH_INTERVAL_SECONDS:
        return
    _last_touch[key_id] = now
    if not cache.add(f"keytouch:{key_id}", 1, timeout=TOUCH_INTERVAL_SECONDS):
        return
    used_at = datetime.now(timezone.utc).isoformat()

    def enqueue() -> None:
        from projects.tasks import api_key_touch

        api_key_touch.delay(key_id, used_at)

    transaction.on_commit(enqueue, robust=True)


def client_ip(meta: dict[str, Any]) -> str:
    if settings.BAAS_TRUST_X_FORWARDED_FOR:
        forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return str(meta.get("REMOTE_ADDR") or "unknown")
