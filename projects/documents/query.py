"""Document queries: parsed once, then compiled to SQL (PostgreSQL or SQLite) or evaluated
in Python (realtime matching, and the reference the SQL is tested against).

Semantics, identical in the three forms:
- A path reaches into objects only (``a.b``); a missing path is absent, a JSON ``null``
  is present.
- ``==``/``in`` match equal values of the same JSON type (``1`` never equals ``"1"`` or
  ``true``; ``1`` equals ``1.0``). ``!=``/``not-in`` match present values that differ.
- ``< <= > >=`` match only values of the operand's JSON type (number, string or boolean).
- ``array-contains`` matches arrays holding an equal element; ``-any`` any of several.
- ``exists`` (true/false) tests presence.
- Order across types follows PostgreSQL's jsonb order: null < string < number <
  boolean < array < object; strings by code point. Ordering by a field keeps only the
  documents where it is present. Ties break by id, in the direction of the last key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from django.conf import settings

from baas.api.errors import InvalidArgument
from projects.documents.validation import parse_field_path

COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains", "array-contains-any", "exists")
RANGE_OPS = ("<", "<=", ">", ">=")
LIST_OPS = ("in", "not-in", "array-contains-any")
MAX_CLAUSES = 100
MAX_LIST = 100
MAX_ORDER = 8
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000

Missing = object()  # an absent field, distinct from JSON null


# --- the parsed form ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    path: tuple[str, ...]
    op: str
    value: Any

    @property
    def is_metadata(self) -> bool:
        return self.path[0].startswith("$")


@dataclass(frozen=True, slots=True)
class Junction:
    kind: str  # "and" | "or"
    parts: tuple[Filter, ...]


Filter = Compare | Junction


@dataclass(frozen=True, slots=True)
class OrderKey:
    path: tuple[str, ...]
    descending: bool

    @property
    def is_metadata(self) -> bool:
        return self.path[0].startswith("$")


@dataclass(frozen=True, slots=True)
class Query:
    where: Filter | None
    order: tuple[OrderKey, ...]
    limit: int
    cursor: Cursor | None
    select: tuple[tuple[str, ...], ...] | None
    aggregate: dict[str, Any] | None

    @property
    def shape(self) -> str:
        """What a cursor is bound to: the filter and the order, not the page."""
        raw = repr((self.where, self.order)).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    values: tuple[Any, ...]
    doc_id: str


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise InvalidArgument(f"Unsupported value {value!r}.")


def check_operand(value: Any, field: str) -> None:
    """Operands are JSON values without NUL characters (which jsonb cannot hold), nested
    no deeper than a document may be (deeper ones could never match, nor be serialised)."""
    limit = settings.BAAS_MAX_DOCUMENT_DEPTH
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = json_type(item)
        if kind == "string" and "\x00" in item:
            raise InvalidArgument("Strings cannot contain the NUL character (U+0000).", details={"field": field})
        if kind in ("array", "object"):
            if depth >= limit + 1:
                raise InvalidArgument(f"A value is nested deeper than {limit} levels.", details={"field": field})
            children = item if kind == "array" else [*item.keys(), *item.values()]
            stack.extend((child, depth + 1) for child in children)


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.astimezone(timezone.utc)
    raise InvalidArgument("Timestamps are RFC 3339 strings with a zone, e.g. 2026-01-31T12:00:00Z.", details={"field": field})


def _check_metadata_operand(compare: Compare, where: str) -> Compare:
    name = compare.path[0]
    if compare.op in ("array-contains", "array-contains-any"):
        raise InvalidArgument(f"'{compare.op}' does not apply to {name}.", details={"field": where})
    if compare.op == "exists":
        return compare
    values = compare.value if compare.op in LIST_OPS else [compare.value]
    if name == "$id":
        if not all(isinstance(v, str) for v in values):
            raise InvalidArgument("$id is compared with strings.", details={"field": where})
        return compare
    times = tuple(parse_time(v, where) for v in values)
    return Compare(compare.path, compare.op, times if compare.op in LIST_OPS else times[0])


def parse_filter(raw: Any, *, where: str = "where", budget: list[int] | None = None) -> Filter:
    budget = budget if budget is not None else [MAX_CLAUSES]
    budget[0] -= 1
    if budget[0] < 0:
        raise InvalidArgument(f"A filter has at most {MAX_CLAUSES} clauses.", details={"field": where})
    if not isinstance(raw, dict):
        raise InvalidArgument("A filter is an object.", details={"field": where})
    for kind in ("and", "or"):
        if kind in raw:
            parts = raw[kind]
            if len(raw) != 1 or not isinstance(parts, list) or not parts:
                raise InvalidArgument(f"'{kind}' takes a non-empty array of filters.", details={"field": where})
            return Junction(kind, tuple(parse_filter(p, where=f"{where}.{kind}[{i}]", budget=budget) for i, p in enumerate(parts)))
    op = raw.get("op")
    if op not in COMPARISON_OPS:
        raise InvalidArgument(f"Unknown operator {op!r}; expected one of {', '.join(COMPARISON_OPS)}.", details={"field": f"{where}.op"})
    if "value" not in raw:
        raise InvalidArgument("A comparison needs a 'value'.", details={"field": f"{where}.value"})
    path = parse_field_path(raw.get("field"), allow_metadata=True, field=f"{where}.field")
    value = raw["value"]
    check_operand(value, f"{where}.value")
    if op in LIST_OPS:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise InvalidArgument(f"'{op}' takes an array of 1 to {MAX_LIST} values.", details={"field": f"{where}.value"})
    elif op in RANGE_OPS:
        if json_type(value) not in ("number", "string", "boolean"):
            raise InvalidArgument(f"'{op}' compares numbers, strings or booleans.", details={"field": f"{where}.value"})
    elif op == "exists" and not isinstance(value, bool):
        raise InvalidArgument("'exists' takes true or false.", details={"field": f"{where}.value"})
    compare = Compare(path, op, value)
    return _check_metadata_operand(compare, where) if compare.is_metadata else compare


def parse_query(body: dict[str, Any]) -> Query:
    where = parse_filter(body["where"]) if body.get("where") is not None else None
    raw_order = body.get("orderBy") or []
    if not isinstance(raw_order, list) or len(raw_order) > MAX_ORDER:
        raise InvalidArgument(f"'orderBy' is an array of at most {MAX_ORDER} keys.", details={"field": "orderBy"})
    order = []
    for index, item in enumerate(raw_order):
        if isinstance(item, str):
            item = {"field": item}
        if not isinstance(item, dict):
            raise InvalidArgument("Each orderBy key is {field, direction}.", details={"field": f"orderBy[{index}]"})
        direction = item.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise InvalidArgument("direction is 'asc' or 'desc'.", details={"field": f"orderBy[{index}].direction"})
        path = parse_field_path(item.get("field"), allow_metadata=True, field=f"orderBy[{index}].field")
        if path == ("$id",):
            if index != len(raw_order) - 1:
                raise InvalidArgument("$id can only be the last orderBy key.", details={"field": f"orderBy[{index}]"})
            break  # the id is always the final key; only its direction matters
        order.append(OrderKey(path, direction == "desc"))
    last_descending = raw_order[-1].get("direction", "asc") == "desc" if raw_order and isinstance(raw_order[-1], dict) else False
    limit = body.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"'limit' is an integer from 1 to {MAX_LIMIT}.", details={"field": "limit"})
    select = None
    if body.get("select") is not None:
        if not isinstance(body["select"], list) or len(body["select"]) > 100:
            raise InvalidArgument("'select' is an array of field paths.", details={"field": "select"})
        select = tuple(parse_field_path(p, field="select") for p in body["select"])
    aggregate = _parse_aggregate(body.get("aggregate"))
    query = Query(where, tuple(order) + (OrderKey(("$id",), last_descending),), limit, None, select, aggregate)
    if body.get("cursor") is not None:
        query = Query(where, query.order, limit, decode_cursor(body["cursor"], query), select, aggregate)
    return query


def _parse_aggregate(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw or set(raw) - {"count", "sum", "avg"}:
        raise InvalidArgument("'aggregate' takes count (true), sum and avg (field paths).", details={"field": "aggregate"})
    result: dict[str, Any] = {}
    if "count" in raw:
        if raw["count"] is not True:
            raise InvalidArgument("'aggregate.count' must be true.", details={"field": "aggregate.count"})
        result["count"] = True
    for name in ("sum", "avg"):
        if name in raw:
            result[name] = parse_field_path(raw[name], field=f"aggregate.{name}")
    return result


# --- cursors -----------------------------------------------------------------------------


def encode_cursor(query: Query, values: tuple[Any, ...], doc_id: str) -> str:
    payload = orjson.dumps({"s": query.shape, "v": list(values), "i": doc_id})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(raw: Any, query: Query) -> Cursor:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        values, doc_id, shape = payload["v"], payload["i"], payload["s"]
        if not isinstance(values, list) or not isinstance(doc_id, str) or len(values) != len(query.order) - 1:
            raise ValueError
    except Exception:
        raise InvalidArgument("Invalid cursor.", details={"field": "cursor"}) from None
    if shape != query.shape:
        raise InvalidArgument("This cursor belongs to another query.", details={"field": "cursor"})
    converted = []
    for key, value in zip(query.order[:-1], values, strict=True):
        if key.path[0] in ("$createTime", "$updateTime"):
            value = parse_time(value, "cursor")
        converted.append(value)
    return Cursor(tuple(converted), doc_id)


# --- Python evaluation -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocumentView:
    """What filters look at: the id, the data and the two timestamps."""

    doc_id: str
    data: dict[str, Any]
    create_time: datetime
    update_time: datetime


def value_at(doc: DocumentView, path: tuple[str, ...]) -> Any:
    head = path[0]
    if head == "$id":
        return doc.doc_id
    if head == "$createTime":
        return doc.create_time
    if head == "$updateTime":
        return doc.update_time
    current: Any = doc.data
    for segment in path:
        if not isinstance(current, dict) or segment not in current:
            return Missing
        current = current[segment]
    return current


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime) and a == b
    if json_type(a) != json_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime)
    return json_type(a) == json_type(b)


def matches(node: Filter | None, doc: DocumentView) -> bool:
    if node is None:
        return True
    if isinstance(node, Junction):
        if node.kind == "and":
            return all(matches(part, doc) for part in node.parts)
        return any(matches(part, doc) for part in node.parts)
    value = value_at(doc, node.path)
    op, operand = node.op, node.value
    if op == "exists":
        return (value is not Missing) == operand
    if value is Missing:
        return False
    if op == "==":
        return json_equal(value, operand)
    if op == "!=":
        return not json_equal(value, operand)
    if op == "in":
        return any(json_equal(value, item) for item in operand)
    if op == "not-in":
        return not any(json_equal(value, item) for item in operand)
    if op in RANGE_OPS:
        if not _same_kind(value, operand):
            return False
        if op == "<":
            return bool(value < operand)
        if op == "<=":
            return bool(value <= operand)
        if op == ">":
            return bool(value > operand)
        return bool(value >= operand)
    if not isinstance(value, list):
        return False
    if op == "array-contains":
        return any(json_equal(element, operand) for element in value)
    return any(json_equal(element, item) for element in value for item in operand)


_TYPE_RANK = {"null": 0, "string": 1, "number": 2, "boolean": 3, "array": 4, "object": 5}


def sort_key(value: Any) -> tuple[int, Any]:
    """Python's rendering of the jsonb order (arrays and objects by their JSON text)."""
    if isinstance(value, datetime):
        return (0, value)
    kind = json_type(value)
    if kind in ("array", "object"):
        return (_TYPE_RANK[kind], orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (_TYPE_RANK[kind], value if value is not None else 0)
