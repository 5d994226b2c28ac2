"""Who may read and write documents.

Secret keys (and console members with write roles) bypass rules. Everyone else is held to
the collection's rules, and a missing rule denies. The CEL rules engine plugs in here;
until a collection has an engine-evaluable rule for an operation, that operation is
denied to publishable keys.
"""

from __future__ import annotations

from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import PermissionDenied
from projects.documents.config import CollectionConfig

SHORTHANDS = {"get": "read", "list": "read", "create": "write", "update": "write", "delete": "write"}


def rule_for(config: CollectionConfig, operation: str) -> str | None:
    return config.rules.get(operation) or config.rules.get(SHORTHANDS[operation])


def check_document_access(
    *,
    ctx: RequestContext,
    config: CollectionConfig,
    operation: str,
    resource: dict[str, Any] | None,
    request_data: dict[str, Any] | None,
) -> None:
    """Raise PermissionDenied unless ``ctx`` may do ``operation`` on this document."""
    if ctx.is_privileged:
        return
    raise PermissionDenied(f"Missing or insufficient permissions for '{operation}' on {config.name}.")
