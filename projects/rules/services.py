"""The rules playground: evaluate a rule against a hand-made auth, resource and request."""

from __future__ import annotations

from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, PermissionDenied
from baas.api.formats import parse_rfc3339
from projects.rules.engine import activation, rule_compile

OPERATIONS = ("get", "list", "create", "update", "delete", "read", "write")


def _object_or_null(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidArgument(f"'{name}' is an object or null.", details={"field": name})
    return value


def rules_test(*, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
    """``{"allowed", "listRuleMode"?, "error"?}`` for a rule given inline or by collection."""
    if not ctx.is_privileged:
        raise PermissionDenied("Testing rules needs a secret key.")
    operation = body.get("operation")
    if operation is not None and operation not in OPERATIONS:
        raise InvalidArgument(f"'operation' is one of {', '.join(OPERATIONS)}.", details={"field": "operation"})
    source = body.get("rule")
    if source is None:
        collection = body.get("collection")
        if not isinstance(collection, str) or operation is None:
            raise InvalidArgument("Send 'rule', or 'collection' and 'operation'.", details={"field": "rule"})
        source = _collection_rule(ctx, collection, operation)
        if source is None:
            return {"allowed": False, "error": f"No '{operation}' rule on {collection}: missing rules deny."}
    rule = rule_compile(source, field="rule")
    auth = _object_or_null(body, "auth")
    if auth is not None and not isinstance(auth.get("uid"), str):
        raise InvalidArgument("'auth.uid' is a string.", details={"field": "auth.uid"})
    if auth is not None:
        auth = {"uid": auth["uid"], "token": auth.get("token") or {}}
    resource = _object_or_null(body, "resource")
    request = dict(_object_or_null(body, "request") or {})
    if "time" in request:
        try:
            request["time"] = parse_rfc3339(request["time"])
        except (TypeError, ValueError):
            raise InvalidArgument("'request.time' is an RFC 3339 timestamp.", details={"field": "request.time"}) from None
    variables = activation(project_id=ctx.project_id, auth=auth, resource=resource, request=request)
    allowed, error = rule.explain(variables)
    result: dict[str, Any] = {"allowed": allowed}
    if operation in ("list", "read"):
        result["listRuleMode"] = rule.list_mode
    if error:
        result["error"] = error
    return result


def _collection_rule(ctx: RequestContext, collection: str, operation: str) -> str | None:
    from projects.documents.access import SHORTHANDS
    from projects.documents.config import collection_config
    from projects.documents.validation import check_collection_name

    check_collection_name(collection)
    rules = collection_config(project_id=ctx.project_id, name=collection).rules
    return rules.get(operation) or rules.get(SHORTHANDS.get(operation, operation))
