"""Checks on untrusted document input: names, ids, paths, size, depth and JSON Schema."""

from __future__ import annotations

import re
import threading
from typing import Any

import orjson
from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from baas.api.errors import InvalidArgument, PayloadTooLarge

COLLECTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
DOC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Field path segments are inlined into SQL (so expression indexes match): a strict
# alphabet keeps that safe. All-digit segments would mean array positions on one
# database and object keys on the other, so they are refused.
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
METADATA_FIELDS = ("$id", "$createTime", "$updateTime")


def check_collection_name(name: Any) -> str:
    if not isinstance(name, str) or not COLLECTION_RE.match(name):
        raise InvalidArgument(
            "Collection names match ^[A-Za-z][A-Za-z0-9_-]{0,63}$.", details={"field": "collection", "value": str(name)[:80]}
        )
    return name


def check_doc_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str) or not DOC_ID_RE.match(doc_id):
        raise InvalidArgument(
            "Document ids match ^[A-Za-z0-9_-]{1,128}$.", details={"field": "id", "value": str(doc_id)[:140]}
        )
    return doc_id


def parse_field_path(path: Any, *, allow_metadata: bool = False, field: str = "field") -> tuple[str, ...]:
    """``"a.b.c"`` → ``("a", "b", "c")``; metadata paths stay whole (``("$id",)``)."""
    if isinstance(path, str) and allow_metadata and path in METADATA_FIELDS:
        return (path,)
    if not isinstance(path, str) or not path:
        raise InvalidArgument("A field path must be a non-empty string.", details={"field": field})
    segments = tuple(path.split("."))
    for segment in segments:
        if not SEGMENT_RE.match(segment) or segment.isdigit():
            raise InvalidArgument(
                f"Invalid field path {path!r}: segments use A-Z a-z 0-9 _ - and are not all digits.",
                details={"field": field, "path": path},
            )
    if len(segments) > settings.BAAS_MAX_DOCUMENT_DEPTH + 1:
        raise InvalidArgument(f"Field path {path!r} is deeper than the document limit.", details={"field": field})
    return segments


def encode_data(data: Any) -> bytes:
    """Validate a document body and return its canonical JSON (sorted keys, compact)."""
    if not isinstance(data, dict):
        raise InvalidArgument("'data' must be a JSON object.", details={"field": "data"})
    _check_depth(data)
    try:
        encoded = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:  # e.g. integers beyond 64 bits
        raise InvalidArgument(f"Document is not representable: {exc}", details={"field": "data"}) from None
    limit = settings.BAAS_MAX_DOCUMENT_BYTES
    if len(encoded) > limit:
        raise PayloadTooLarge(
            f"Document is {len(encoded)} bytes; the limit is {limit}.", details={"limitBytes": limit, "size": len(encoded)}
        )
    return encoded


def check_text(value: str, path: str) -> None:
    """PostgreSQL's jsonb cannot hold U+0000: refused everywhere, so both databases agree."""
    if "\x00" in value:
        raise InvalidArgument("Strings cannot contain the NUL character (U+0000).", details={"path": path})


def _check_depth(data: dict[str, Any]) -> None:
    """Each object or array inside ``data`` is one level; iterative, so no recursion limit.

    The same walk refuses NUL characters in keys and strings.
    """
    limit = settings.BAAS_MAX_DOCUMENT_DEPTH
    stack: list[tuple[Any, int, str]] = []
    for key, value in data.items():
        check_text(key, key)
        stack.append((value, 1, key))
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            check_text(value, path)
        elif isinstance(value, dict):
            if depth > limit:
                raise InvalidArgument(f"Document nesting is deeper than {limit} levels.", details={"path": path, "limit": limit})
            for key, child in value.items():
                check_text(key, f"{path}.{key}")
                stack.append((child, depth + 1, f"{path}.{key}"))
        elif isinstance(value, list):
            if depth > limit:
                raise InvalidArgument(f"Document nesting is deeper than {limit} levels.", details={"path": path, "limit": limit})
            stack.extend((child, depth + 1, f"{path}[{index}]") for index, child in enumerate(value))


# --- JSON Schema --------------------------------------------------------------------------

_validators: dict[tuple[str, str, int], Draft202012Validator] = {}
_validators_lock = threading.Lock()


def check_schema(schema: Any) -> None:
    """A collection's schema must itself be valid JSON Schema 2020-12."""
    if schema is None:
        return
    if not isinstance(schema, dict):
        raise InvalidArgument("'schema' must be a JSON Schema object or null.", details={"field": "schema"})
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidArgument(
            f"Invalid JSON Schema: {exc.message}",
            details={"field": "schema", "schemaPath": "/".join(str(p) for p in exc.absolute_path)},
        ) from None


def validate_against_schema(*, key: tuple[str, str, int], schema: dict[str, Any] | None, data: dict[str, Any]) -> None:
    """Raise 400 naming every failing path; validators are cached per config version."""
    if schema is None:
        return
    validator = _validators.get(key)
    if validator is None:
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        with _validators_lock:
            if len(_validators) > 2000:
                _validators.clear()
            _validators[key] = validator
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidArgument(
            "Document does not match the collection schema.",
            details={
                "violations": [
                    {"path": "/" + "/".join(str(p) for p in error.absolute_path), "message": error.message}
                    for error in errors[:50]
                ]
            },
        )
