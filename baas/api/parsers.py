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


def json_loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"Malformed JSON: {exc}", details={"position": exc.pos}) from None


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = read_limited(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if not body.strip():
            return {}
        return json_loads(body)
