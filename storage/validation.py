"""Checks for untrusted storage input: object paths, bucket names, content types and
custom metadata. Each raises InvalidArgument (400) naming what was wrong."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from baas.api.errors import InvalidArgument

MAX_PATH_BYTES = 1024
MAX_METADATA_BYTES = 8 * 1024
MAX_METADATA_ENTRIES = 64
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,62}$")
METADATA_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]{1,127}"
CONTENT_TYPE = re.compile(rf"^({_TOKEN})/({_TOKEN})$")
CONTENT_TYPE_PATTERN = re.compile(rf"^(\*/\*|{_TOKEN}/\*|{_TOKEN}/{_TOKEN})$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Backslash, and the bidirectional controls that make "exe.txt" display as "txt.exe".
_REFUSED = frozenset("\\\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


def path_check(raw: Any, *, field: str = "path") -> str:
    """A normalised object path (NFC), or 400.

    Refused: empty, absolute ("/a"), a folder ("a/"), empty segments ("a//b"), "." and
    ".." segments, backslashes, control characters, line separators and bidirectional
    overrides, and anything over 1024 bytes of UTF-8.
    """
    if not isinstance(raw, str) or raw == "":
        raise InvalidArgument("An object path is required.", details={"field": field})
    path = unicodedata.normalize("NFC", raw)
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidArgument(f"An object path is at most {MAX_PATH_BYTES} bytes of UTF-8.", details={"field": field})
    for char in path:
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _REFUSED:
            raise InvalidArgument(
                f"Object paths may not contain U+{ord(char):04X}.", details={"field": field, "reason": "character"}
            )
    if path.startswith("/"):
        raise InvalidArgument("Object paths are relative to the bucket: no leading '/'.", details={"field": field})
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidArgument(
                "Object paths have no empty, '.' or '..' segments and do not end with '/'.", details={"field": field}
            )
    return path


def prefix_check(raw: Any, *, field: str = "prefix") -> str:
    """A listing prefix: like a path, but it may be empty or end with '/'."""
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str):
        raise InvalidArgument("'prefix' must be a string.", details={"field": field})
    body = raw[:-1] if raw.endswith("/") else raw
    if body == "":
        raise InvalidArgument("'prefix' may not be just '/'.", details={"field": field})
    return path_check(body, field=field) + ("/" if raw.endswith("/") else "")


def bucket_name_check(raw: Any, *, field: str = "name") -> str:
    if not isinstance(raw, str) or not BUCKET_NAME.match(raw):
        raise InvalidArgument(
            "Bucket names are 3-63 characters: a-z or 0-9 first, then a-z, 0-9, '_' or '-'.", details={"field": field}
        )
    return raw


def content_type_check(raw: str | None, *, field: str = "contentType") -> str:
    """The media type (lower-cased, parameters such as charset kept), or 400."""
    if raw is None or raw.strip() == "":
        return DEFAULT_CONTENT_TYPE
    if len(raw) > 255:
        raise InvalidArgument("A content type is at most 255 characters.", details={"field": field})
    base, _, params = raw.partition(";")
    base = base.strip().lower()
    if not CONTENT_TYPE.match(base) or not all(c.isprintable() for c in params):
        raise InvalidArgument(f"Invalid content type {raw!r}.", details={"field": field})
    params = params.strip()
    return f"{base}; {params}" if params else base


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# Served inline; anything else (HTML, SVG, XML, scripts, unknown types) is an attachment,
# so an uploaded page can never run as the API's origin.
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp", "text/plain", "text/csv",
     "application/pdf", "application/json"}
)  # fmt: skip
INLINE_KINDS = ("audio/", "video/")


def content_disposition(path: str, content_type: str) -> str:
    name = path.rsplit("/", 1)[-1]
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    kind = media_type(content_type)
    inline = kind in INLINE_TYPES or kind.startswith(INLINE_KINDS)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def content_type_patterns_check(raw: Any, *, field: str = "allowedContentTypes") -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 64:
        raise InvalidArgument("'allowedContentTypes' is a list of at most 64 patterns.", details={"field": field})
    patterns: list[str] = []
    for index, pattern in enumerate(raw):
        if not isinstance(pattern, str) or not CONTENT_TYPE_PATTERN.match(pattern.strip().lower()):
            raise InvalidArgument(
                "Content type patterns look like 'image/png', 'image/*' or '*/*'.", details={"field": f"{field}[{index}]"}
            )
        if pattern.strip().lower() not in patterns:
            patterns.append(pattern.strip().lower())
    return patterns


def content_type_allowed(content_type: str, patterns: list[str]) -> bool:
    if not patterns:
        return True
    kind, _, _ = media_type(content_type).partition("/")
    base = media_type(content_type)
    return any(p == "*/*" or p == base or (p.endswith("/*") and p[:-2] == kind) for p in patterns)


def metadata_check(raw: Any, *, field: str = "metadata") -> dict[str, str]:
    """Custom metadata: at most 64 string entries, 8 KiB in all; keys are lower-cased
    (they also travel as case-insensitive ``X-Baas-Meta-*`` headers)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument("'metadata' must be an object of strings.", details={"field": field})
    if len(raw) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(f"At most {MAX_METADATA_ENTRIES} metadata entries.", details={"field": field})
    result: dict[str, str] = {}
    total = 0
    for key, value in raw.items():
        name = key.lower() if isinstance(key, str) else key
        if not isinstance(name, str) or not METADATA_KEY.match(name):
            raise InvalidArgument(
                "Metadata keys are 1-64 characters of a-z, 0-9, '_', '.' or '-'.", details={"field": f"{field}.{key}"}
            )
        if not isinstance(value, str) or not value.isprintable():
            raise InvalidArgument("Metadata values are printable strings.", details={"field": f"{field}.{key}"})
        total += len(name) + len(value.encode())
        result[name] = value
    if total > MAX_METADATA_BYTES:
        raise InvalidArgument(f"Metadata is at most {MAX_METADATA_BYTES} bytes.", details={"field": field})
    return result


def successor(prefix: str) -> str | None:
    """The least string greater than every string that starts with ``prefix`` (in code
    point order); None when there is none. Turns "starts with" into a range that an
    index can serve, and that never depends on a database's LIKE or collation quirks."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None
