"""Reads on end users, scoped by the caller's project."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from baas.api.errors import InvalidArgument, NotFound
from baas.api.formats import rfc3339
from endusers.models import EndUser


def user_providers(user: EndUser) -> list[str]:
    providers = []
    if user.is_anonymous:
        providers.append("anonymous")
    if user.has_password:
        providers.append("password")
    return providers


def user_json(user: EndUser) -> dict[str, Any]:
    """What a user and an admin see: never the password hash."""
    return {
        "uid": user.uid,
        "email": user.email,
        "emailVerified": user.email_verified,
        "displayName": user.display_name,
        "anonymous": user.is_anonymous,
        "disabled": user.disabled,
        "providers": user_providers(user),
        "claims": user.claims,
        "data": user.data,
        "createTime": rfc3339(user.created_at),
        "updateTime": rfc3339(user.updated_at),
        "lastSignInTime": rfc3339(user.last_sign_in_at),
    }


def session_json(session: Any) -> dict[str, Any]:
    return {
        "user": user_json(session.user),
        "accessToken": session.access_token,
        "refreshToken": session.refresh_token,
        "expiresIn": session.expires_in,
    }


def user_get(*, project_id: str, uid: str) -> EndUser:
    """Missing and other projects' users are the same 404."""
    user = EndUser.objects.for_project(project_id).filter(uid=uid).first()
    if user is None:
        raise NotFound("User not found.")
    return user


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[EndUser]
    next_cursor: str | None


def _cursor_decode(cursor: str) -> int:
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("Invalid cursor.", details={"field": "cursor"}) from None
    if value < 0:
        raise InvalidArgument("Invalid cursor.", details={"field": "cursor"})
    return value


def _cursor_encode(pk: int) -> str:
    return base64.urlsafe_b64encode(str(pk).encode()).rstrip(b"=").decode()


def users_list(*, project_id: str, search: str = "", cursor: str | None = None, limit: int = 100) -> UserPage:
    """Users in creation order; ``search`` matches the start of the email (any case) or
    the uid, or any part of the display name. Keyset pages: stable under inserts."""
    users = EndUser.objects.for_project(project_id)
    if search:
        users = users.filter(
            Q(email_normalized__startswith=search.casefold()) | Q(uid__startswith=search) | Q(display_name__icontains=search)
        )
    if cursor:
        users = users.filter(pk__gt=_cursor_decode(cursor))
    page = list(users.order_by("pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return UserPage(page, _cursor_encode(page[-1].pk) if more else None)
