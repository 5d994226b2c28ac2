"""Compile parsed queries (query.py) to SQL for PostgreSQL (jsonb) or SQLite (JSON1).

Field paths are inlined as literals (their alphabet is restricted by validation) so that
PostgreSQL matches them against expression indexes; every value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from projects.documents.query import (
    Compare,
    Cursor,
    Filter,
    Junction,
    OrderKey,
    json_type,
)

_METADATA_COLUMNS = {"$id": "d.doc_id", "$createTime": "d.create_time", "$updateTime": "d.update_time"}


def canonical_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def sqlite_time(value: datetime) -> str:
    """How Django stores aware datetimes in SQLite: naive UTC text; fixed width sorts right."""
    return value.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Compiler:
    vendor: str  # "postgresql" | "sqlite"
    params: list[Any] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.vendor == "postgresql"

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "%s"

    def bind_time(self, value: datetime) -> str:
        return self.bind(value if self.is_postgres else sqlite_time(value))

    # --- field expressions ---------------------------------------------------------------

    @staticmethod
    def pg_field(path: tuple[str, ...], column: str = "d.data") -> str:
        return f"({column} #> '{{{','.join(path)}}}')"

    @staticmethod
    def sqlite_path(path: tuple[str, ...]) -> str:
        return "'$" + "".join(f'."{segment}"' for segment in path) + "'"

    def sqlite_type(self, path: tuple[str, ...]) -> str:
        return f"json_type(d.data, {self.sqlite_path(path)})"

    def sqlite_value(self, path: tuple[str, ...]) -> str:
        return f"json_extract(d.data, {self.sqlite_path(path)})"

    # --- filters -------------------------------------------------------------------------

    def filter(self, node: Filter) -> str:
        if isinstance(node, Junction):
            joiner = " AND " if node.kind == "and" else " OR "
            return "(" + joiner.join(self.filter(part) for part in node.parts) + ")"
        if node.is_metadata:
            return self._metadata_compare(node)
        if self.is_postgres:
            return self._pg_compare(node)
        return self._sqlite_compare(node)

    def _metadata_compare(self, node: Compare) -> str:
        column = _METADATA_COLUMNS[node.path[0]]
        op, value = node.op, node.value
        if op == "exists":
            return "TRUE" if value else "FALSE"
        bind = self.bind if node.path[0] == "$id" else self.bind_time
        if op in ("in", "not-in"):
            items = ", ".join(bind(v) for v in value)
            return f"{column} {'IN' if op == 'in' else 'NOT IN'} ({items})"
        sql_op = "<>" if op == "!=" else ("=" if op == "==" else op)
        return f"{column} {sql_op} {bind(value)}"

    # PostgreSQL: jsonb values compare within their type exactly as the spec wants, so the
    # comparison is done on jsonb (index-friendly), with a type guard for ranges.
    def _pg_compare(self, node: Compare) -> str:
        f = self.pg_field(node.path)
        op, value = node.op, node.value
        if op == "exists":
            return f"{f} IS {'NOT ' if value else ''}NULL"
        if op == "==":
            return f"{f} = {self.bind(canonical_json(value))}::jsonb"
        if op == "!=":
            return f"({f} IS NOT NULL AND {f} <> {self.bind(canonical_json(value))}::jsonb)"
        if op in ("in", "not-in"):
            items = ", ".join(f"{self.bind(canonical_json(v))}::jsonb" for v in value)
            if op == "in":
                return f"{f} IN ({items})"
            return f"({f} IS NOT NULL AND {f} NOT IN ({items}))"
        if op in ("<", "<=", ">", ">="):
            kind = json_type(value)
            guard = f"jsonb_typeof({f}) = '{kind}'"
            if kind == "number" and op in (">", ">="):
                guard = f"{f} < 'false'::jsonb"  # numbers sort below booleans: a pure range
            return f"({f} {op} {self.bind(canonical_json(value))}::jsonb AND {guard})"
        if op == "array-contains":
            return f"(jsonb_typeof({f}) = 'array' AND {self._pg_element_match(f, value)})"
        # array-contains-any
        alternatives = " OR ".join(self._pg_element_match(f, v) for v in value)
        return f"(jsonb_typeof({f}) = 'array' AND ({alternatives}))"

    def _pg_element_match(self, f: str, value: Any) -> str:
        if json_type(value) in ("array", "object"):
            # @> would also accept partial objects and nested arrays: compare whole elements.
            return f"EXISTS (SELECT 1 FROM jsonb_array_elements({f}) AS e(v) WHERE e.v = {self.bind(canonical_json(value))}::jsonb)"
        return f"{f} @> {self.bind(canonical_json([value]))}::jsonb"

    # SQLite: json_type() tells the JSON type apart (json_extract maps true to 1 and
    # null to NULL), so every comparison is guarded by it.
    def _sqlite_equal(self, type_expr: str, value_expr: str, value: Any) -> str:
        kind = json_type(value)
        if kind == "null":
            return f"{type_expr} = 'null'"
        if kind == "boolean":
            return f"{type_expr} = '{'true' if value else 'false'}'"
        if kind == "number":
            return f"({type_expr} IN ('integer', 'real') AND {value_expr} = {self.bind(value)})"
        if kind == "string":
            return f"({type_expr} = 'text' AND {value_expr} = {self.bind(value)})"
        return f"({type_expr} = '{kind}' AND {value_expr} = {self.bind(canonical_json(value))})"

    def _sqlite_compare(self, node: Compare) -> str:
        t, x = self.sqlite_type(node.path), self.sqlite_value(node.path)
        op, value = node.op, node.value
        if op == "exists":
            return f"{t} IS {'NOT ' if value else ''}NULL"
        if op == "==":
            return self._sqlite_equal(t, x, value)
        if op == "!=":
            return f"({t} IS NOT NULL AND NOT {self._sqlite_equal(t, x, value)})"
        if op in ("in", "not-in"):
            any_equal = "(" + " OR ".join(self._sqlite_equal(t, x, v) for v in value) + ")"
            return any_equal if op == "in" else f"({t} IS NOT NULL AND NOT {any_equal})"
        if op in ("<", "<=", ">", ">="):
            kind = json_type(value)
            types = {"number": "('integer', 'real')", "string": "('text')", "boolean": "('true', 'false')"}[kind]
            operand = int(value) if kind == "boolean" else value
            return f"({t} IN {types} AND {x} {op} {self.bind(operand)})"
        values = [value] if op == "array-contains" else value
        element = " OR ".join(self._sqlite_equal("e.type", "e.value", v) for v in values)
        return f"({t} = 'array' AND EXISTS (SELECT 1 FROM json_each(d.data, {self.sqlite_path(node.path)}) AS e WHERE {element}))"

    # --- ordering and keyset cursors -----------------------------------------------------

    def _sqlite_rank(self, path: tuple[str, ...]) -> str:
        return (
            f"(CASE {self.sqlite_type(path)} WHEN 'null' THEN 0 WHEN 'text' THEN 1 WHEN 'integer' THEN 2 "
            "WHEN 'real' THEN 2 WHEN 'false' THEN 3 WHEN 'true' THEN 3 WHEN 'array' THEN 4 ELSE 5 END)"
        )

    def order_by(self, order: tuple[OrderKey, ...]) -> str:
        terms = []
        for key in order:
            direction = "DESC" if key.descending else "ASC"
            if key.is_metadata:
                terms.append(f"{_METADATA_COLUMNS[key.path[0]]} {direction}")
            elif self.is_postgres:
                terms.append(f"{self.pg_field(key.path)} {direction}")
            else:
                terms.append(f"{self._sqlite_rank(key.path)} {direction}")
                terms.append(f"{self.sqlite_value(key.path)} {direction}")
        return ", ".join(terms)

    def order_presence(self, order: tuple[OrderKey, ...]) -> list[str]:
        """Ordering by a field keeps only documents that have it."""
        conditions = []
        for key in order:
            if key.is_metadata:
                continue
            if self.is_postgres:
                conditions.append(f"{self.pg_field(key.path)} IS NOT NULL")
            else:
                conditions.append(f"{self.sqlite_type(key.path)} IS NOT NULL")
        return conditions

    def after_cursor(self, order: tuple[OrderKey, ...], cursor: Cursor) -> str:
        """Rows strictly after the cursor in the (mixed-direction) order.

        Built front to back so parameters are bound in the order they appear.
        """
        pairs = list(zip(order, (*cursor.values, cursor.doc_id), strict=True))

        def build(index: int) -> str:
            key, value = pairs[index]
            beyond = self._key_beyond(key, value)
            if index == len(pairs) - 1:
                return beyond
            equal = self._key_equal(key, value)
            return f"({beyond} OR ({equal} AND {build(index + 1)}))"

        return build(0)

    def _key_beyond(self, key: OrderKey, value: Any) -> str:
        op = "<" if key.descending else ">"
        if key.is_metadata:
            bind = self.bind if key.path[0] == "$id" else self.bind_time
            return f"{_METADATA_COLUMNS[key.path[0]]} {op} {bind(value)}"
        if self.is_postgres:
            return f"{self.pg_field(key.path)} {op} {self.bind(canonical_json(value))}::jsonb"
        rank, operand = self._sqlite_rank_of(value)
        r, x = self._sqlite_rank(key.path), self.sqlite_value(key.path)
        return f"({r} {op} {rank} OR ({r} = {rank} AND {x} {op} {self.bind(operand)}))"

    def _key_equal(self, key: OrderKey, value: Any) -> str:
        if key.is_metadata:
            bind = self.bind if key.path[0] == "$id" else self.bind_time
            return f"{_METADATA_COLUMNS[key.path[0]]} = {bind(value)}"
        if self.is_postgres:
            return f"{self.pg_field(key.path)} = {self.bind(canonical_json(value))}::jsonb"
        rank, operand = self._sqlite_rank_of(value)
        return f"({self._sqlite_rank(key.path)} = {rank} AND {self.sqlite_value(key.path)} IS {self.bind(operand)})"

    @staticmethod
    def _sqlite_rank_of(value: Any) -> tuple[int, Any]:
        kind = json_type(value)
        rank = {"null": 0, "string": 1, "number": 2, "boolean": 3, "array": 4, "object": 5}[kind]
        if kind == "boolean":
            return rank, int(value)
        if kind in ("array", "object"):
            return rank, canonical_json(value)
        return rank, value

    # --- aggregates ----------------------------------------------------------------------

    def numeric(self, path: tuple[str, ...]) -> str:
        """The field as a number where it is one, else NULL (ignored by SUM and COUNT)."""
        if self.is_postgres:
            f = self.pg_field(path)
            return f"(CASE WHEN jsonb_typeof({f}) = 'number' THEN ({f})::numeric END)"
        return f"(CASE WHEN {self.sqlite_type(path)} IN ('integer', 'real') THEN {self.sqlite_value(path)} END)"
