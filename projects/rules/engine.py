"""Security rules: CEL expressions checked when saved and evaluated per document.

Parsing and evaluation are cel-rust's (the ``common-expression-language`` package): a
conformant, fast CEL with heterogeneous equality and linear-time ``matches``. What it does
not do is check names against our declarations, so that is done here from the compiled
program's references; and it cannot turn a rule into SQL, which ``sql.py`` does.

Any evaluation error denies, as in Firebase: ``resource.data.owner == auth.uid`` with no
signed-in user is a denial, not a 500.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import cel

from baas.api.errors import InvalidArgument

VARIABLES = frozenset({"auth", "resource", "request", "project"})
# Type names may appear as values (``type(x) == string``).
TYPE_NAMES = frozenset({"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"})
FUNCTIONS = frozenset(
    {
        "size", "has", "matches", "startsWith", "endsWith", "contains",
        "exists", "all", "exists_one", "map", "filter",
        "timestamp", "duration", "int", "uint", "double", "string", "bytes", "dyn", "type",
        "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
        "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
MAX_RULE_LENGTH = 10_000

_PARSE_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
_MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([_A-Za-z][_A-Za-z0-9]*)\s*,")


class RuleSyntaxError(InvalidArgument):
    """A rule that cannot be saved; ``details`` point at the offending position."""


def _line_column(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _offset(source: str, line: int, column: int) -> int:
    lines = source.split("\n")
    return sum(len(text) + 1 for text in lines[: line - 1]) + column - 1


def _syntax_error(source: str, message: str, offset: int, field: str | None) -> RuleSyntaxError:
    line, column = _line_column(source, max(0, min(offset, len(source))))
    details: dict[str, Any] = {"line": line, "column": column, "position": offset}
    if field:
        details["field"] = field
    return RuleSyntaxError(f"{message} (line {line}, column {column})", details=details)


def _name_offset(source: str, name: str, *, call: bool) -> int:
    """Where a name is first used as a variable (or called, for functions)."""
    pattern = rf"\b{re.escape(name)}\s*\(" if call else rf"(?<![\w.]){re.escape(name)}\b(?!\s*\()"
    match = re.search(pattern, source)
    return match.start() if match else 0


@dataclass(frozen=True, slots=True)
class Rule:
    source: str
    program: Any  # cel.Program

    def allows(self, activation: dict[str, Any]) -> bool:
        """True only when the rule evaluates to exactly ``true``; errors deny."""
        try:
            return self.program.execute(activation) is True
        except Exception:  # noqa: BLE001 - cel raises many types; every failure is a denial
            return False

    def explain(self, activation: dict[str, Any]) -> tuple[bool, str | None]:
        """The decision and, when evaluation failed, why (for the rules playground)."""
        try:
            result = self.program.execute(activation)
        except Exception as exc:  # noqa: BLE001
            return False, (str(exc).splitlines() or [type(exc).__name__])[0]
        if not isinstance(result, bool):
            return False, f"The rule evaluated to {type(result).__name__}, not a bool."
        return result, None

    @property
    def filter(self) -> Any:
        """The SQL-compilable form of the rule, or None (evaluated per row)."""
        from projects.rules.sql import rule_filter

        return rule_filter(self.source)

    @property
    def list_mode(self) -> str:
        return "sql" if self.filter is not None else "evaluated"


def rule_compile(source: Any, *, field: str | None = None) -> Rule:
    """Parse and check a rule; raise RuleSyntaxError (400) with its position."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidArgument("A rule is a non-empty CEL expression string.", details={"field": field} if field else {})
    if len(source) > MAX_RULE_LENGTH:
        raise InvalidArgument(f"A rule is at most {MAX_RULE_LENGTH} characters.", details={"field": field} if field else {})
    rule = _compile_cached(source)
    if isinstance(rule, tuple):
        message, offset = rule
        raise _syntax_error(source, message, offset, field)
    return rule


@lru_cache(maxsize=4096)
def _compile_cached(source: str) -> Rule | tuple[str, int]:
    try:
        program = cel.compile(source)
    except Exception as exc:  # noqa: BLE001 - cel reports syntax errors as ValueError
        text = str(exc)
        found = _PARSE_POSITION.search(text)
        if found:
            line, column, message = int(found.group(1)), int(found.group(2)), found.group(3).split("\n")[0]
            return f"Syntax error: {message}", _offset(source, line, column)
        return f"Syntax error: {text.splitlines()[0] if text else 'invalid expression'}", 0
    bound = set(_MACRO_VARIABLE.findall(source))
    for name in sorted(program.variables()):
        if name not in VARIABLES and name not in TYPE_NAMES and name not in bound:
            known = ", ".join(sorted(VARIABLES))
            return f"Unknown variable '{name}'; rules can use {known}", _name_offset(source, name, call=False)
    for name in sorted(program.functions()):
        if name[0] in "_!@" or name in FUNCTIONS:
            continue
        return f"Unknown function '{name}'", _name_offset(source, name, call=True)
    return Rule(source=source, program=program)


# --- activations ------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(timezone.utc)


def activation(
    *,
    project_id: str,
    auth: dict[str, Any] | None,
    resource: dict[str, Any] | None,
    request: dict[str, Any],
) -> dict[str, Any]:
    """The variables a rule sees (spec: auth, resource, request, project)."""
    request = dict(request)
    request.setdefault("time", now())
    request.setdefault("data", None)
    return {"auth": auth, "resource": resource, "request": request, "project": {"id": project_id}}


def rule_allows(
    source: str | None,
    *,
    project_id: str,
    auth: dict[str, Any] | None,
    resource: dict[str, Any] | None,
    request: dict[str, Any] | None = None,
) -> bool:
    """The one check documents, storage and realtime share. A missing rule denies."""
    if not source:
        return False
    try:
        rule = rule_compile(source)
    except InvalidArgument:
        return False
    return rule.allows(activation(project_id=project_id, auth=auth, resource=resource, request=request or {}))


# --- compiled rule sets, cached per config version -------------------------------------------


class RuleSetCache:
    """Compiled rules keyed by (owner, name, config version): a new version compiles anew."""

    def __init__(self, size: int = 2048) -> None:
        self._entries: OrderedDict[tuple[Any, ...], dict[str, Rule | None]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], rules: dict[str, str]) -> dict[str, Rule | None]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
        compiled: dict[str, Rule | None] = {}
        for operation, source in rules.items():
            try:
                compiled[operation] = rule_compile(source)
            except InvalidArgument:
                compiled[operation] = None  # saved before checks existed: deny
        with self._lock:
            self._entries[key] = compiled
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return compiled

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
