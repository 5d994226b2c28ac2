"""A project's end-user auth settings, with the deployment's defaults filling gaps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument
from endusers.models import AuthConfig


def access_token_lifetime(project_id: str) -> int:
    configured = (
        AuthConfig.objects.for_project(project_id).values_list("access_token_lifetime", flat=True).first()
    )
    return int(configured or settings.BAAS_AUTH_ACCESS_TOKEN_LIFETIME)


def auth_config_json(project_id: str) -> dict[str, Any]:
    row = AuthConfig.objects.for_project(project_id).first()
    configured = row.access_token_lifetime if row is not None else None
    return {
        "accessTokenLifetime": int(configured or settings.BAAS_AUTH_ACCESS_TOKEN_LIFETIME),
        "accessTokenLifetimeDefault": configured is None,
        "emailActionUrl": (row.email_action_url if row is not None else "") or None,
        "redirectUris": list(row.redirect_uris) if row is not None else [],
    }


def _url_check(value: Any, field: str) -> str:
    if value is None or value == "":
        return ""
    try:
        if not isinstance(value, str) or len(value) > 500:
            raise ValidationError("bad")
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise InvalidArgument(f"'{field}' must be an http(s) URL of at most 500 characters.", details={"field": field}) from None
    return value


def auth_config_update(
    *, ctx: RequestContext, access_token_lifetime: Any = ..., email_action_url: Any = ..., redirect_uris: Any = ...
) -> dict[str, Any]:
    """``accessTokenLifetime``: 60 seconds up to the deployment's maximum, or null for
    the default; ``emailActionUrl``: the app page mails link to, or null."""
    row, _ = AuthConfig.objects.for_project(ctx.project_id).get_or_create(project_id=ctx.project_id)
    if redirect_uris is not ...:
        if not isinstance(redirect_uris, list) or len(redirect_uris) > 50:
            raise InvalidArgument("'redirectUris' must be a list of at most 50 URLs.", details={"field": "redirectUris"})
        row.redirect_uris = [_url_check(uri, "redirectUris") for uri in redirect_uris if uri]
    if email_action_url is not ...:
        row.email_action_url = _url_check(email_action_url, "emailActionUrl")
    if access_token_lifetime is not ...:
        value = access_token_lifetime
        maximum = int(settings.BAAS_AUTH_MAX_TOKEN_LIFETIME)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= maximum):
            raise InvalidArgument(
                f"'accessTokenLifetime' must be 60-{maximum} seconds, or null.", details={"field": "accessTokenLifetime"}
            )
        row.access_token_lifetime = value
    row.save()
    return auth_config_json(ctx.project_id)
