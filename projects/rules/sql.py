"""List rules as SQL filters: the part of CEL that maps to a WHERE clause.

No CEL library compiles to SQL, so this module does, from the parse tree of cel-python's
CEL grammar (``celpy.celparser``). Subexpressions that do not mention ``resource`` (such
as ``auth.uid`` or ``request.time < timestamp(...)``) are constants of the query: they
are evaluated once by the same engine that evaluates rules per document, and bound as
parameters. What is left must be one of

    && || ! ?:  ==  !=  <  <=  >  >=  in  has()  startsWith()
    over resource.data.<path> (JSON fields), resource.id, and constants

and anything else makes the rule "evaluated": correct, but filtered row by row.

CEL has three outcomes (true, false, error) and an error denies; ``false || x`` and
``error && false`` differ from SQL's NULL logic. So every boolean node compiles to two
SQL conditions: when it is *true* and when it is *false* (an error is neither). ``!``
swaps them, ``&&``/``||`` combine them as CEL's commutative logic does, and only the
"true" side ever reaches the WHERE clause. No SQL NOT is applied above a leaf, so a NULL
inside a leaf can only mean "not true".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Union

import cel
from celpy.celparser import CELParser
from lark import Tree

SEGMENT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_SAFE_INTEGER = 2**53


class NotCompilable(Exception):
    """This rule (or, at query time, this constant) needs per-row evaluation."""


# --- the compilable subset, as a small tree ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    source: str
    program: Any


@dataclass(frozen=True, slots=True)
class Field:
    path: tuple[str, ...]  # under resource.data


@dataclass(frozen=True, slots=True)
class DocId:
    pass


@dataclass(frozen=True, slots=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class Cond:
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class In:
    item: Node
    container: Node


@dataclass(frozen=True, slots=True)
class Has:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StartsWith:
    target: Node
    prefix: Node


Node = Union[Const, Field, DocId, And, Or, Not, Cond, Compare, In, Has, StartsWith]
Operand = (Const, Field, DocId)

_RELATIONS = {
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_in": "in",
}
_PASS_THROUGH = {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member", "primary"}


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def build(self, tree: Tree) -> Node:
        if not _mentions_resource(tree):
            return self.const(tree)
        data, children = tree.data, tree.children
        if data in _PASS_THROUGH and len(children) == 1:
            return self.build(children[0])
        if data == "expr":
            return Cond(self.build(children[0]), self.build(children[1]), self.build(children[2]))
        if data == "conditionalor":
            return Or(self.build(children[0]), self.build(children[1]))
        if data == "conditionaland":
            return And(self.build(children[0]), self.build(children[1]))
        if data == "relation":
            op_node, right_tree = children
            op = _RELATIONS.get(op_node.data)
            if op is None:
                raise NotCompilable(op_node.data)
            left, right = self.operand(op_node.children[0]), self.operand(right_tree)
            if op == "in":
                if not (isinstance(right, Const) or (isinstance(left, Const) and isinstance(right, Field | DocId))):
                    raise NotCompilable("'in' between these operands")
                return In(left, right)
            if not isinstance(left, Const) and not isinstance(right, Const):
                raise NotCompilable("a comparison between two fields")
            return Compare(op, left, right)
        if data == "unary" and len(children) == 2 and children[0].data == "unary_not":
            return Not(self.build(children[1]))
        if data == "paren_expr":
            return self.build(children[0])
        if data == "ident_arg" and children[0] == "has" and len(children) == 2:
            (argument,) = children[1].children
            target = self.build(argument)
            if not isinstance(target, Field):
                raise NotCompilable("has() of something other than a field")
            return Has(target.path)
        if data == "member_dot_arg" and children[1] == "startsWith" and len(children) == 3:
            (argument,) = children[2].children
            target, prefix = self.operand(children[0]), self.operand(argument)
            if not isinstance(prefix, Const):
                raise NotCompilable("a computed prefix")
            return StartsWith(target, prefix)
        if data in ("member_dot", "member_index"):
            return self.path(tree)
        raise NotCompilable(data)

    def operand(self, tree: Tree) -> Node:
        node = self.build(tree)
        if not isinstance(node, Operand):
            raise NotCompilable("a comparison of computed values")
        return node

    def const(self, tree: Tree) -> Const:
        text = unparse(tree)
        try:
            return Const(text, cel.compile(text))
        except Exception as exc:  # noqa: BLE001 - the two parsers disagree: stay correct, evaluate
            raise NotCompilable(str(exc)) from None

    def path(self, tree: Tree) -> Node:
        """resource.id, or resource.data.a.b / resource.data["a"] as a JSON path."""
        segments: list[str] = []
        node = tree
        while True:
            if node.data in ("member", "primary") and len(node.children) == 1:
                node = node.children[0]
            elif node.data == "member_dot":
                segments.append(str(node.children[1]))
                node = node.children[0]
            elif node.data == "member_index":
                key = self.build(node.children[1])
                if not isinstance(key, Const):
                    raise NotCompilable("a computed index")
                try:
                    value = key.program.execute({})
                except Exception:  # noqa: BLE001
                    raise NotCompilable("an index that is not a literal") from None
                if not isinstance(value, str):
                    raise NotCompilable("a non-string index")
                segments.append(value)
                node = node.children[0]
            elif node.data == "ident" and node.children[0] == "resource":
                break
            else:
                raise NotCompilable(node.data)
        segments.reverse()
        if segments == ["id"]:
            return DocId()
        if len(segments) < 2 or segments[0] != "data":
            raise NotCompilable("resource itself")
        path = tuple(segments[1:])
        if not all(SEGMENT.match(s) and not s.isdigit() for s in path):
            raise NotCompilable("a field name outside the indexable alphabet")
        return Field(path)


_BINARY = {
    "conditionalor": "||", "conditionaland": "&&",
    "relation_eq": "==", "relation_ne": "!=", "relation_lt": "<", "relation_le": "<=",
    "relation_gt": ">", "relation_ge": ">=", "relation_in": "in",
    "addition_add": "+", "addition_sub": "-",
    "multiplication_mul": "*", "multiplication_div": "/", "multiplication_mod": "%",
}  # fmt: skip


def unparse(tree: Tree | Any) -> str:
    """CEL text for a parse tree, fully parenthesised.

    The grammar drops some token positions (``true``/``false``), so a subexpression's
    text is rebuilt rather than sliced from the source.
    """
    if not isinstance(tree, Tree):
        return str(tree)
    data, children = tree.data, tree.children
    if len(children) == 1 and data in _PASS_THROUGH:
        return unparse(children[0])
    if data == "expr":
        return f"({unparse(children[0])} ? {unparse(children[1])} : {unparse(children[2])})"
    if data in ("conditionalor", "conditionaland"):
        return f"({unparse(children[0])} {_BINARY[data]} {unparse(children[1])})"
    if data in ("relation", "addition", "multiplication"):
        op_node, right = children
        return f"({unparse(op_node.children[0])} {_BINARY[op_node.data]} {unparse(right)})"
    if data == "unary":
        return ("!" if children[0].data == "unary_not" else "-") + unparse(children[1])
    if data == "member_dot":
        return f"{unparse(children[0])}.{children[1]}"
    if data == "member_dot_arg":
        return f"{unparse(children[0])}.{children[1]}({unparse(children[2]) if len(children) > 2 else ''})"
    if data == "member_index":
        return f"{unparse(children[0])}[{unparse(children[1])}]"
    if data == "member_object":
        return f"{unparse(children[0])}{{{unparse(children[1]) if len(children) > 1 else ''}}}"
    if data == "dot_ident_arg":
        return f".{children[0]}({unparse(children[1]) if len(children) > 1 else ''})"
    if data == "dot_ident":
        return f".{children[0]}"
    if data == "ident_arg":
        return f"{children[0]}({unparse(children[1]) if len(children) > 1 else ''})"
    if data in ("ident", "literal"):
        return str(children[0])
    if data == "paren_expr":
        return f"({unparse(children[0])})"
    if data == "list_lit":
        return f"[{unparse(children[0]) if children else ''}]"
    if data == "map_lit":
        return f"{{{unparse(children[0]) if children else ''}}}"
    if data == "exprlist":
        return ", ".join(unparse(child) for child in children)
    if data in ("fieldinits", "mapinits"):
        pairs = zip(children[::2], children[1::2], strict=True)
        return ", ".join(f"{unparse(key)}: {unparse(value)}" for key, value in pairs)
    raise NotCompilable(f"cannot rebuild {data}")


def _mentions_resource(tree: Tree) -> bool:
    return any(
        sub.data == "ident" and sub.children and sub.children[0] == "resource" for sub in tree.iter_subtrees()
    )


_parser: CELParser | None = None


@lru_cache(maxsize=4096)
def rule_filter(source: str) -> Node | None:
    """The rule as a filter tree, or None when it must be evaluated per row."""
    global _parser
    if _parser is None:
        _parser = CELParser()
    try:
        tree = _parser.parse(source)
        return _Builder(source).build(tree)
    except NotCompilable:
        return None
    except Exception:  # noqa: BLE001 - a parse this grammar rejects: evaluate instead
        return None


# --- SQL fragments with their parameters, in order ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Sql:
    text: str
    params: tuple[Any, ...] = ()


TRUE, FALSE = Sql("TRUE"), Sql("FALSE")


def param(value: Any) -> Sql:
    return Sql("%s", (value,))


def fmt(template: str, *parts: Sql) -> Sql:
    """``template`` with ``{}`` holes filled by fragments, parameters kept in order."""
    return Sql(template.format(*(p.text for p in parts)), tuple(v for p in parts for v in p.params))


def any_of(parts: list[Sql]) -> Sql:
    parts = [p for p in parts if p is not FALSE]
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else fmt("(" + " OR ".join(["{}"] * len(parts)) + ")", *parts)


def all_of(parts: list[Sql]) -> Sql:
    if any(p is FALSE for p in parts):
        return FALSE
    parts = [p for p in parts if p is not TRUE]
    if not parts:
        return TRUE
    return parts[0] if len(parts) == 1 else fmt("(" + " AND ".join(["{}"] * len(parts)) + ")", *parts)


Outcome = tuple[Sql, Sql]  # (when true, when false); an error is neither
ERROR: Outcome = (FALSE, FALSE)
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_COMPLEMENT = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class _Error:
    """A constant whose evaluation failed (as CEL errors propagate)."""


CONST_ERROR = _Error()


def _kind(value: Any) -> str:
    if value is CONST_ERROR:
        return "error"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise NotCompilable("an integer beyond 2^53")
        return "number"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotCompilable("a non-finite number")
        return "number"
    if isinstance(value, str):
        if "\x00" in value:
            raise NotCompilable("a NUL character")
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, datetime | timedelta | bytes):
        return "opaque"  # never equal to a JSON value, never ordered against one
    raise NotCompilable(f"a constant of type {type(value).__name__}")


# --- per-vendor leaves -------------------------------------------------------------------------


class _Dialect:
    """Leaves over one JSON field (``path``) of ``d.data``."""

    def defined(self, path: tuple[str, ...]) -> Sql: ...
    def typed(self, path: tuple[str, ...], kind: str) -> Sql: ...
    def equal(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome: ...
    def order(self, path: tuple[str, ...], kind: str, op: str, value: Any) -> Sql: ...
    def contains(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome: ...
    def has_key(self, path: tuple[str, ...], key: str) -> Outcome: ...
    def starts_with(self, path: tuple[str, ...], prefix: str) -> Outcome: ...
    def boolean(self, path: tuple[str, ...]) -> Outcome: ...


def _valid_map_key(kind: str, value: Any) -> bool:
    """CEL map keys are strings, ints and bools; testing a null or double is an error."""
    return kind in ("string", "bool") or (kind == "number" and isinstance(value, int))


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


class _Postgres(_Dialect):
    _TYPES = {"null": "null", "bool": "boolean", "number": "number", "string": "string", "array": "array", "object": "object"}

    @staticmethod
    def field(path: tuple[str, ...]) -> Sql:
        return Sql("(d.data #> '{" + ",".join(path) + "}')")

    def defined(self, path: tuple[str, ...]) -> Sql:
        return fmt("{} IS NOT NULL", self.field(path))

    def typed(self, path: tuple[str, ...], kind: str) -> Sql:
        return fmt(f"jsonb_typeof({{}}) = '{self._TYPES[kind]}'", self.field(path))

    def equal(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome:
        # jsonb equality is CEL's for scalars: numbers by value, no cross-type matches.
        f = self.field(path)
        return fmt("{} = {}::jsonb", f, param(_json(value))), fmt("{} <> {}::jsonb", f, param(_json(value)))

    def order(self, path: tuple[str, ...], kind: str, op: str, value: Any) -> Sql:
        f = self.field(path)
        if kind == "string":  # code point order, whatever the database collation
            return fmt(f"({{}} AND ({{}} #>> '{{{{}}}}') COLLATE \"C\" {op} {{}})", self.typed(path, kind), f, param(value))
        return fmt(f"({{}} AND {{}} {op} {{}}::jsonb)", self.typed(path, kind), f, param(_json(value)))

    def contains(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome:
        f, element = self.field(path), param(_json([value]))
        array = self.typed(path, "array")
        yes = [fmt("({} AND {} @> {}::jsonb)", array, f, element)]
        no = [fmt("({} AND NOT ({} @> {}::jsonb))", array, f, element)]
        obj = self.typed(path, "object")
        if kind == "string":
            yes.append(fmt("({} AND jsonb_exists({}, {}))", obj, f, param(value)))
            no.append(fmt("({} AND NOT jsonb_exists({}, {}))", obj, f, param(value)))
        elif _valid_map_key(kind, value):
            no.append(obj)  # `1 in {"a": 1}` is false: JSON maps are keyed by strings
        return any_of(yes), any_of(no)

    def has_key(self, path: tuple[str, ...], key: str) -> Outcome:
        full = (*path, key)
        if not path:
            return self.defined(full), fmt("{} IS NULL", self.field(full))
        parent = self.typed(path, "object")
        return fmt("({} AND {} IS NOT NULL)", parent, self.field(full)), fmt("({} AND {} IS NULL)", parent, self.field(full))

    def starts_with(self, path: tuple[str, ...], prefix: str) -> Outcome:
        f, string = self.field(path), self.typed(path, "string")
        head = fmt(f"left({{}} #>> '{{{{}}}}', {len(prefix)})", f)
        return fmt("({} AND {} = {})", string, head, param(prefix)), fmt("({} AND {} <> {})", string, head, param(prefix))

    def boolean(self, path: tuple[str, ...]) -> Outcome:
        f = self.field(path)
        return fmt("{} = 'true'::jsonb", f), fmt("{} = 'false'::jsonb", f)


class _Sqlite(_Dialect):
    _TYPES = {
        "null": "('null')",
        "bool": "('true', 'false')",
        "number": "('integer', 'real')",
        "string": "('text')",
        "array": "('array')",
        "object": "('object')",
    }

    @staticmethod
    def json_path(path: tuple[str, ...]) -> str:
        return "'$" + "".join(f'."{segment}"' for segment in path) + "'"

    def type_of(self, path: tuple[str, ...]) -> Sql:
        return Sql(f"json_type(d.data, {self.json_path(path)})")

    def value_of(self, path: tuple[str, ...]) -> Sql:
        return Sql(f"json_extract(d.data, {self.json_path(path)})")

    def defined(self, path: tuple[str, ...]) -> Sql:
        return fmt("{} IS NOT NULL", self.type_of(path))

    def typed(self, path: tuple[str, ...], kind: str) -> Sql:
        return fmt(f"{{}} IN {self._TYPES[kind]}", self.type_of(path))

    def _equal(self, type_sql: Sql, value_sql: Sql, kind: str, value: Any) -> Sql:
        if kind == "null":
            return fmt("{} = 'null'", type_sql)
        if kind == "bool":
            return fmt(f"{{}} = '{'true' if value else 'false'}'", type_sql)
        if kind == "number":
            return fmt("({} IN ('integer', 'real') AND {} = {})", type_sql, value_sql, param(value))
        return fmt("({} = 'text' AND {} = {})", type_sql, value_sql, param(value))

    def equal(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome:
        t = self.type_of(path)
        same = self._equal(t, self.value_of(path), kind, value)
        # Where the field exists, json_type and the comparison are never NULL: NOT is safe.
        return same, fmt("({} IS NOT NULL AND NOT {})", t, same)

    def order(self, path: tuple[str, ...], kind: str, op: str, value: Any) -> Sql:
        operand = int(value) if kind == "bool" else value
        return fmt(f"({{}} AND {{}} {op} {{}})", self.typed(path, kind), self.value_of(path), param(operand))

    def contains(self, path: tuple[str, ...], kind: str, value: Any) -> Outcome:
        p = self.json_path(path)
        match = self._equal(Sql("e.type"), Sql("e.value"), kind, value)
        exists = fmt(f"EXISTS (SELECT 1 FROM json_each(d.data, {p}) AS e WHERE {{}})", match)
        array = self.typed(path, "array")
        yes = [fmt("({} AND {})", array, exists)]
        no = [fmt("({} AND NOT {})", array, exists)]
        obj = self.typed(path, "object")
        if kind == "string":
            key = fmt(f"EXISTS (SELECT 1 FROM json_each(d.data, {p}) AS e WHERE e.key = {{}})", param(value))
            yes.append(fmt("({} AND {})", obj, key))
            no.append(fmt("({} AND NOT {})", obj, key))
        elif _valid_map_key(kind, value):
            no.append(obj)
        return any_of(yes), any_of(no)

    def has_key(self, path: tuple[str, ...], key: str) -> Outcome:
        full = (*path, key)
        if not path:
            return self.defined(full), fmt("{} IS NULL", self.type_of(full))
        parent = self.typed(path, "object")
        return (
            fmt("({} AND {} IS NOT NULL)", parent, self.type_of(full)),
            fmt("({} AND {} IS NULL)", parent, self.type_of(full)),
        )

    def starts_with(self, path: tuple[str, ...], prefix: str) -> Outcome:
        string = self.typed(path, "string")
        head = fmt(f"substr({{}}, 1, {len(prefix)})", self.value_of(path))
        return fmt("({} AND {} = {})", string, head, param(prefix)), fmt("({} AND {} <> {})", string, head, param(prefix))

    def boolean(self, path: tuple[str, ...]) -> Outcome:
        t = self.type_of(path)
        return fmt("{} = 'true'", t), fmt("{} = 'false'", t)


_DIALECTS: dict[str, _Dialect] = {"postgresql": _Postgres(), "sqlite": _Sqlite()}


# --- from tree and constants to SQL ------------------------------------------------------------


class _Emitter:
    def __init__(self, dialect: _Dialect, constants: dict[str, Any]) -> None:
        self.dialect = dialect
        self.constants = constants
        self._values: dict[str, Any] = {}

    def value(self, node: Const) -> Any:
        if node.source not in self._values:
            try:
                self._values[node.source] = node.program.execute(self.constants)
            except Exception:  # noqa: BLE001 - an error is a value in CEL's logic
                self._values[node.source] = CONST_ERROR
        return self._values[node.source]

    def outcome(self, node: Node) -> Outcome:
        if isinstance(node, Const):
            value = self.value(node)
            if value is True:
                return TRUE, FALSE
            if value is False:
                return FALSE, TRUE
            return ERROR
        if isinstance(node, And):
            (lt, lf), (rt, rf) = self.outcome(node.left), self.outcome(node.right)
            return all_of([lt, rt]), any_of([lf, rf])
        if isinstance(node, Or):
            (lt, lf), (rt, rf) = self.outcome(node.left), self.outcome(node.right)
            return any_of([lt, rt]), all_of([lf, rf])
        if isinstance(node, Not):
            yes, no = self.outcome(node.operand)
            return no, yes
        if isinstance(node, Cond):
            (ct, cf), (tt, tf), (ot, of) = (self.outcome(n) for n in (node.test, node.then, node.otherwise))
            return any_of([all_of([ct, tt]), all_of([cf, ot])]), any_of([all_of([ct, tf]), all_of([cf, of])])
        if isinstance(node, Field):
            return self.dialect.boolean(node.path)
        if isinstance(node, DocId):
            return ERROR  # a string is not a condition
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, In):
            return self.membership(node)
        if isinstance(node, Has):
            return self.dialect.has_key(node.path[:-1], node.path[-1])
        if isinstance(node, StartsWith):
            return self.starts_with(node)
        raise NotCompilable(type(node).__name__)

    def compare(self, node: Compare) -> Outcome:
        op, left, right = node.op, node.left, node.right
        if isinstance(left, Const):
            op, left, right = _FLIP[op], right, left
        if not isinstance(right, Const):
            raise NotCompilable("a comparison between two fields")
        value = self.value(right)
        kind = _kind(value)
        if kind == "error":
            return ERROR
        if op in ("==", "!="):
            yes, no = self.equal(left, kind, value)
            return (yes, no) if op == "==" else (no, yes)
        if kind not in ("number", "string", "bool"):
            return ERROR  # null, lists, maps, timestamps have no order against JSON values
        return self.order(left, kind, op, value), self.order(left, kind, _COMPLEMENT[op], value)

    def equal(self, operand: Node, kind: str, value: Any) -> Outcome:
        if kind in ("list", "map"):
            raise NotCompilable("equality with a list or map")
        if isinstance(operand, DocId):
            if kind == "string":
                return fmt("d.doc_id = {}", param(value)), fmt("d.doc_id <> {}", param(value))
            return FALSE, TRUE
        assert isinstance(operand, Field)
        if kind == "opaque":
            return FALSE, self.dialect.defined(operand.path)
        return self.dialect.equal(operand.path, kind, value)

    def order(self, operand: Node, kind: str, op: str, value: Any) -> Sql:
        if isinstance(operand, DocId):
            return fmt(f"d.doc_id {op} {{}}", param(value)) if kind == "string" else FALSE
        assert isinstance(operand, Field)
        return self.dialect.order(operand.path, kind, op, value)

    def membership(self, node: In) -> Outcome:
        item, container = node.item, node.container
        if isinstance(container, Const) and not isinstance(item, Const):
            items = self.value(container)
            if items is CONST_ERROR:
                return ERROR
            if not isinstance(items, list):
                raise NotCompilable("'in' over something other than a list")
            outcomes = []
            for element in items:
                kind = _kind(element)
                if kind in ("list", "map", "error"):
                    raise NotCompilable("a list of lists or maps")
                outcomes.append(self.equal(item, kind, element))
            if not outcomes:
                return FALSE, self.dialect.defined(item.path) if isinstance(item, Field) else TRUE
            return any_of([yes for yes, _ in outcomes]), all_of([no for _, no in outcomes])
        if isinstance(item, Const) and isinstance(container, Field):
            value = self.value(item)
            kind = _kind(value)
            if kind == "error":
                return ERROR
            if kind not in ("null", "bool", "number", "string"):
                raise NotCompilable("'in' of a list, map or timestamp")
            return self.dialect.contains(container.path, kind, value)
        if isinstance(item, Const) and isinstance(container, DocId):
            return ERROR  # `x in "a string"` has no overload
        raise NotCompilable("'in' between these operands")

    def starts_with(self, node: StartsWith) -> Outcome:
        if not isinstance(node.prefix, Const):
            raise NotCompilable("a computed prefix")
        prefix = self.value(node.prefix)
        if prefix is CONST_ERROR or not isinstance(prefix, str):
            return ERROR
        _kind(prefix)
        if isinstance(node.target, DocId):
            head = Sql(f"substr(d.doc_id, 1, {len(prefix)})")
            return fmt("{} = {}", head, param(prefix)), fmt("{} <> {}", head, param(prefix))
        if isinstance(node.target, Field):
            return self.dialect.starts_with(node.target.path, prefix)
        return ERROR  # a constant target would have made the whole call a constant


def filter_sql(node: Node, *, vendor: str, constants: dict[str, Any]) -> Sql:
    """The WHERE condition admitting exactly the rows the rule allows.

    ``constants`` is the activation without ``resource``. Raises NotCompilable when a
    constant's value has no exact SQL form (the caller then evaluates per row).
    """
    yes, _ = _Emitter(_DIALECTS[vendor], constants).outcome(node)
    return yes

