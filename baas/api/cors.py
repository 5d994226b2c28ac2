"""CORS for the ASGI transports that answer before Django (the edge and storage).

Django-served routes get the same policy from django-cors-headers (configured in
settings from ``BAAS_CORS_ALLOWED_ORIGINS``); the edge and ``StorageApp`` answer their
routes themselves, so they need the headers and the preflight answers here. The API
authenticates by header, never by cookie, so no credentials are ever allowed and ``*``
is a safe default.

The hot path pays one dict lookup when a request has no ``Origin`` and a list append
of precomputed headers when it has one.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings

# The header lists are django-cors-headers' settings (CORS_ALLOW_HEADERS,
# CORS_EXPOSE_HEADERS), so both transports say the same. A preflight asking for other
# headers (X-Baas-Meta-*) is answered with what it asked for, when the names are tokens.
ALLOWED_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
MAX_AGE = 86400
_HEADER_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")



@functools.cache
def _expose() -> tuple[bytes, bytes]:
    return (b"access-control-expose-headers", ", ".join(settings.CORS_EXPOSE_HEADERS).encode())


def allowed_origins() -> tuple[str, ...]:
    """The setting as a tuple; ``("*",)`` allows every origin."""
    return tuple(settings.BAAS_CORS_ALLOWED_ORIGINS)


def _origin_headers(origin: str) -> list[tuple[bytes, bytes]] | None:
    origins = allowed_origins()
    if "*" in origins:
        return [(b"access-control-allow-origin", b"*"), _expose()]
    if origin in origins:
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"), _expose()]
    return None


def response_headers(origin: str | None) -> list[tuple[bytes, bytes]]:
    """Headers to add to an actual response (none without an allowed ``Origin``)."""
    if origin is None:
        return []
    return _origin_headers(origin) or []


def is_preflight(method: str, headers: dict[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def preflight_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The answer to a preflight (sent with 204); without CORS headers when the origin is
    not allowed, so the browser refuses the call."""
    found = _origin_headers(headers["origin"])
    if found is None:
        return []
    requested = headers.get("access-control-request-headers", "").strip()
    allow = ", ".join(settings.CORS_ALLOW_HEADERS)
    if requested and _HEADER_LIST.match(requested):
        allow = f"{allow}, {requested.lower()}"
    return [
        *found,
        (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
        (b"access-control-allow-headers", allow.encode("latin-1")),
        (b"access-control-max-age", str(MAX_AGE).encode()),
    ]
