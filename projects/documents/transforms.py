"""JSON merge patch (RFC 7386) and server-side field transforms.

Both run inside the write transaction on the locked current document, so concurrent
transforms (50 increments at once) serialise on the row and never lose an update.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baas.api.errors import InvalidArgument
from baas.api.formats import rfc3339
from projects.documents.query import json_equal
from projects.documents.validation import parse_field_path

TRANSFORM_OPS = ("increment", "max", "min", "arrayUnion", "arrayRemove", "serverTimestamp", "delete")


@dataclass(frozen=True, slots=True)
class Transform:
    path: tuple[str, ...]
    op: str
    value: Any = None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_transforms(raw: Any, *, field: str = "transforms") -> list[Transform]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidArgument("'transforms' must be an array.", details={"field": field})
    transforms = []
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InvalidArgument("Each transform is an object.", details={"field": where})
        op = item.get("op")
        if op not in TRANSFORM_OPS:
            raise InvalidArgument(
                f"Unknown transform op {op!r}; expected one of {', '.join(TRANSFORM_OPS)}.", details={"field": where}
            )
        path = parse_field_path(item.get("field"), field=f"{where}.field")
        value = item.get("value")
        if op in ("increment", "max", "min") and not _is_number(value):
            raise InvalidArgument(f"'{op}' needs a numeric value.", details={"field": f"{where}.value"})
        if op in ("arrayUnion", "arrayRemove") and not isinstance(value, list):
            raise InvalidArgument(f"'{op}' needs an array value.", details={"field": f"{where}.value"})
        transforms.append(Transform(path=path, op=op, value=value))
    return transforms


def apply_transforms(data: dict[str, Any], transforms: list[Transform], *, now: datetime) -> dict[str, Any]:
    """Apply in order to a copy of ``data``; missing parents are created as objects."""
    if not transforms:
        return data
    result = copy.deepcopy(data)
    for transform in transforms:
        parent = result
        for depth, segment in enumerate(transform.path[:-1]):
            child = parent.get(segment)
            if child is None:
                if transform.op == "delete":
                    break
                child = parent[segment] = {}
            elif not isinstance(child, dict):
                raise InvalidArgument(
                    f"Cannot apply '{transform.op}': '{'.'.join(transform.path[: depth + 1])}' is not an object.",
                    details={"field": ".".join(transform.path)},
                )
            parent = child
        else:
            _apply_one(parent, transform, now)
    return result


def _apply_one(parent: dict[str, Any], transform: Transform, now: datetime) -> None:
    key, op, value = transform.path[-1], transform.op, transform.value
    current = parent.get(key)
    if op == "delete":
        parent.pop(key, None)
    elif op == "serverTimestamp":
        parent[key] = rfc3339(now)
    elif op == "increment":
        parent[key] = current + value if _is_number(current) else value
    elif op == "max":
        parent[key] = max(current, value) if _is_number(current) else value
    elif op == "min":
        parent[key] = min(current, value) if _is_number(current) else value
    elif op == "arrayUnion":
        items = list(current) if isinstance(current, list) else []
        for element in value:
            if not any(json_equal(element, existing) for existing in items):
                items.append(element)
        parent[key] = items
    elif op == "arrayRemove":
        items = list(current) if isinstance(current, list) else []
        parent[key] = [item for item in items if not any(json_equal(item, element) for element in value)]
