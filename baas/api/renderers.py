"""JSON rendering through orjson: several times faster than the standard library."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import BaseRenderer


def json_dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


class JSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        return json_dumps(data)
