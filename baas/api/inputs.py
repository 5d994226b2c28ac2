"""Small checks for untrusted JSON input, raising InvalidArgument with the field named."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from baas.api.errors import InvalidArgument

_MISSING = object()


def body_object(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    return data


def field_str(
    data: dict[str, Any], name: str, *, required: bool = True, default: str = "", max_length: int = 200
) -> str:
    value = data.get(name, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise InvalidArgument(f"'{name}' is required.", details={"field": name})
        return default
    if not isinstance(value, str):
        raise InvalidArgument(f"'{name}' must be a string.", details={"field": name})
    if len(value) > max_length:
        raise InvalidArgument(f"'{name}' is longer than {max_length} characters.", details={"field": name})
    return value


def path_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"'{name}' must be an integer.", details={"field": name}) from None
