"""A project's end-user auth settings, with the deployment's defaults filling gaps."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument
from endusers.models import AuthConfig


EMAIL_PURPOSES = ("verify", "reset")
EMAIL_PLACEHOLDERS = ("project_name", "display_name", "email", "token", "link", "minutes")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def email_template_render(text: str, values: dict[str, Any]) -> str:
    """``{{ name }}`` placeholders replaced by their values: a project's own templates are
    plain text with these names only, never Django template code (which could include
    the server's other templates)."""
    return _PLACEHOLDER.sub(lambda match: str(values.get(match.group(1), "") or ""), text)


def email_templates_check(raw: Any) -> dict[str, dict[str, str]]:
    """``{"verify" | "reset": {"subject", "body"} | null}``; null goes back to the built-in
    wording. Every placeholder must be known, and a body must carry the code or the link."""
    field = "emailTemplates"
    if not isinstance(raw, dict) or set(raw) - set(EMAIL_PURPOSES):
        raise InvalidArgument(f"'{field}' maps 'verify' and 'reset' to {{subject, body}} or null.", details={"field": field})
    templates: dict[str, dict[str, str]] = {}
    for purpose, template in raw.items():
        where = f"{field}.{purpose}"
        if template is None:
            continue
        if not isinstance(template, dict) or set(template) != {"subject", "body"}:
            raise InvalidArgument(f"'{where}' is {{subject, body}} or null.", details={"field": where})
        subject, body = template["subject"], template["body"]
        if not isinstance(subject, str) or not subject.strip() or len(subject) > 200 or "\n" in subject:
            raise InvalidArgument(f"'{where}.subject' is one line of 1-200 characters.", details={"field": f"{where}.subject"})
        if not isinstance(body, str) or not body.strip() or len(body) > 10_000:
            raise InvalidArgument(f"'{where}.body' is 1-10,000 characters.", details={"field": f"{where}.body"})
        for part, text in (("subject", subject), ("body", body)):
            unknown = sorted({name for name in _ANY_PLACEHOLDER.findall(text) if name not in EMAIL_PLACEHOLDERS})
            if unknown:
                raise InvalidArgument(
                    f"Unknown placeholder {{{{ {unknown[0]} }}}} in '{where}.{part}'; known: {', '.join(EMAIL_PLACEHOLDERS)}.",
                    details={"field": f"{where}.{part}"},
                )
        if not {"token", "link"} & set(_PLACEHOLDER.findall(body)):
            raise InvalidArgument(
                f"'{where}.body' must contain {{{{ token }}}} or {{{{ link }}}}: the mail is useless without it.",
                details={"field": f"{where}.body"},
            )
        templates[purpose] = {"subject": subject, "body": body}
    return templates


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
        # The project's own wording per purpose, null where the built-in one is used.
        "emailTemplates": {purpose: (row.email_templates or {}).get(purpose) if row is not None else None for purpose in EMAIL_PURPOSES},
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
    *,
    ctx: RequestContext,
    access_token_lifetime: Any = ...,
    email_action_url: Any = ...,
    redirect_uris: Any = ...,
    email_templates: Any = ...,
) -> dict[str, Any]:
    """``accessTokenLifetime``: 60 seconds up to the deployment's maximum, or null for
    the default; ``emailActionUrl``: the app page mails link to, or null;
    ``emailTemplates``: purposes to change (see ``email_templates_check``)."""
    row, _ = AuthConfig.objects.for_project(ctx.project_id).get_or_create(project_id=ctx.project_id)
    if email_templates is not ...:
        changed = email_templates_check(email_templates)
        current = dict(row.email_templates or {})
        for purpose in email_templates:  # a purpose sent as null goes back to the built-in wording
            if purpose in changed:
                current[purpose] = changed[purpose]
            else:
                current.pop(purpose, None)
        row.email_templates = current
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
