"""Small helpers every console view shares: errors shown in place, JSON from forms."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from baas.api.errors import ApplicationError, InvalidArgument, NotFound, PermissionDenied
from dashboard.access import Console, forbidden


def page(request: HttpRequest, console: Console | None, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    return render(request, template, {"console": console, **context}, status=status)


def error_info(error: ApplicationError) -> dict[str, Any]:
    """What a template shows of a service error: the message and the field it is about."""
    return {"code": error.code, "message": error.message, "details": error.details, "field": error.details.get("field")}


def error_status(error: ApplicationError) -> int:
    return error.status if 400 <= error.status < 500 else 400


def answer_error(request: HttpRequest, console: Console | None, error: ApplicationError) -> HttpResponse | None:
    """Not-found and forbidden errors get their own pages; others are shown in place (None)."""
    if isinstance(error, NotFound):
        return page(request, console, "dashboard/not_found.html", {"message": error.message}, status=404)
    if isinstance(error, PermissionDenied):
        return forbidden(request, console, error.message)
    return None


def json_field(raw: str, field: str, *, allow_empty: bool = True) -> Any:
    """Parse a JSON textarea; a syntax error names its line and column."""
    if not raw.strip():
        if allow_empty:
            return None
        raise InvalidArgument(f"'{field}' must be JSON.", details={"field": field})
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidArgument(
            f"Invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}.",
            details={"field": field, "line": error.lineno, "column": error.colno},
        ) from None


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
