"""Reads on end users, scoped by the caller's project."""

from __future__ import annotations

from typing import Any

from baas.api.errors import NotFound
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
