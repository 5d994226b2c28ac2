"""Who may read and write documents: the collection's security rules.

Secret keys (and console members with write roles) bypass rules. Everyone else is held to
the collection's rules (projects/rules), and a missing rule denies. Reads of one document
and every write are checked per document; ``list`` becomes a filter (``list_access``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import PermissionDenied
from projects.documents.config import CollectionConfig
from projects.rules.engine import Rule, RuleSetCache, activation, now
from projects.rules.sql import NotCompilable, Sql, filter_sql

SHORTHANDS = {"get": "read", "list": "read", "create": "write", "update": "write", "delete": "write"}

_compiled = RuleSetCache()


def rule_for(config: CollectionConfig, operation: str) -> str | None:
    return config.rules.get(operation) or config.rules.get(SHORTHANDS[operation])


def compiled_rule(config: CollectionConfig, operation: str) -> Rule | None:
    """The compiled rule for ``operation`` (cached per collection config version)."""
    # The rules are part of the key: a collection deleted and made again starts its
    # version over, and must not find the old collection's compiled rules.
    rules = _compiled.get((config.cache_key, tuple(sorted(config.rules.items()))), config.rules)
    return rules.get(operation) or rules.get(SHORTHANDS[operation])


def list_mode(config: CollectionConfig) -> str | None:
    """"sql" when the list rule runs inside the query, "evaluated" when per row."""
    rule = compiled_rule(config, "list")
    return rule.list_mode if rule is not None else None


def _denied(config: CollectionConfig, operation: str) -> PermissionDenied:
    return PermissionDenied(f"Missing or insufficient permissions for '{operation}' on {config.name}.")


def check_document_access(
    *,
    ctx: RequestContext,
    config: CollectionConfig,
    operation: str,
    resource: dict[str, Any] | None,
    request_data: dict[str, Any] | None,
) -> None:
    """Raise PermissionDenied unless ``ctx`` may do ``operation`` on this document.

    ``resource`` is the stored document (None when there is none), ``request_data`` the
    document as it would be after the write.
    """
    if ctx.is_privileged:
        return
    rule = compiled_rule(config, operation)
    if rule is None:
        raise _denied(config, operation)
    variables = activation(project_id=ctx.project_id, auth=ctx.auth, resource=resource, request={"data": request_data})
    if not rule.allows(variables):
        raise _denied(config, operation)


@dataclass(frozen=True, slots=True)
class ListAccess:
    """How a query is held to the list rule: nothing (secret key), a WHERE condition, or a
    rule evaluated on each row."""

    where: Sql | None = None
    rule: Rule | None = None
    variables: dict[str, Any] | None = None

    def allows(self, doc_id: str, data: dict[str, Any]) -> bool:
        if self.rule is None:
            return True
        assert self.variables is not None
        return self.rule.allows({**self.variables, "resource": {"id": doc_id, "data": data}})


def list_access(*, ctx: RequestContext, config: CollectionConfig, vendor: str) -> ListAccess:
    if ctx.is_privileged:
        return ListAccess()
    rule = compiled_rule(config, "list")
    if rule is None:
        raise _denied(config, "list")
    variables = activation(project_id=ctx.project_id, auth=ctx.auth, resource=None, request={"time": now()})
    node = rule.filter
    if node is not None:
        constants = {name: value for name, value in variables.items() if name != "resource"}
        try:
            return ListAccess(where=filter_sql(node, vendor=vendor, constants=constants))
        except NotCompilable:
            pass  # a constant with no exact SQL form (a huge number, say): evaluate instead
    return ListAccess(rule=rule, variables=variables)
