"""JSON parsing with the body limit enforced while reading.

DRF's own parser reads the request stream without Django's size check, so the limit is
applied here: at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes are ever read.
"""

from __future__ import annotations

from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework.parsers import BaseParser

from baas.api.errors import InvalidArgument, PayloadTooLarge


def read_limited(stream: IO[bytes] | None, limit: int) -> bytes:
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"Request body exceeds {limit} bytes.", details={"limitBytes": limit})
    return body


NUL_MESSAGE = "Strings cannot contain the NUL character (U+0000)."


def nul_check(value: str, field: str) -> str:
    """No database column can hold U+0000 (PostgreSQL refuses it in text and jsonb):
    refused at the edge, so both modes answer the same 400 instead of one storing it and
    the other failing."""
    if "\x00" in value:
        raise InvalidArgument(NUL_MESSAGE, details={"field": field})
    return value


def _nul_walk(value: Any, path: str) -> None:
    if isinstance(value, str):
        nul_check(value, path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            nul_check(key, f"{path}.{key}" if path else key)
            _nul_walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _nul_walk(item, f"{path}.{index}" if path else str(index))


def json_loads(body: bytes) -> Any:
    """Parse a JSON body; a NUL character can only arrive escaped, so the walk that
    names the field runs only when the escape is there."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"Malformed JSON: {exc}", details={"position": exc.pos}) from None
    if b"\\u0000" in body:
        _nul_walk(data, "")
    return data


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = read_limited(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if not body.strip():
            return {}
        return json_loads(body)
