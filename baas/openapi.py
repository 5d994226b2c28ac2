"""OpenAPI additions: the edge routes and the storage object calls, which DRF's schema
generator cannot see."""

from __future__ import annotations

from typing import Any

from baas.api.schema import COMPONENTS, ERROR, component, obj

component(
    "Error",
    obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "example": "invalid_argument"},
                    "message": {"type": "string"},
                    "details": {"type": "object", "additionalProperties": True},
                },
                ["code", "message", "details"],
            )
        },
        ["error"],
    ),
)


def add_edge_routes(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    from baas.api.edge import openapi_paths
    from baas.routes import EDGE_ROUTES

    from storage.schemas import openapi_paths as storage_paths

    result.setdefault("paths", {}).update(openapi_paths(EDGE_ROUTES))
    result["paths"].update(storage_paths())
    result["paths"] = dict(sorted(result["paths"].items()))
    describe_security_and_errors(result)
    describe_path_parameters(result)
    return result


def describe_path_parameters(result: dict[str, Any]) -> None:
    """The names the server accepts, from the same patterns it checks them with, so a
    client can validate before sending (and a fuzzer generates real-looking ids)."""
    from functions.services import NAME_PATTERN
    from projects.documents.validation import COLLECTION_RE, DOC_ID_RE
    from projects.schemas import PROJECT_ID
    from storage.validation import BUCKET_NAME

    patterns = {
        "project_id": PROJECT_ID["pattern"],
        "collection": COLLECTION_RE.pattern,
        "doc_id": DOC_ID_RE.pattern,
        "bucket": BUCKET_NAME.pattern,
        "name": NAME_PATTERN.pattern,
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                pattern = patterns.get(parameter["name"])
                if parameter["in"] == "path" and pattern is not None:
                    parameter["schema"] = {"type": "string", "pattern": pattern}


def describe_security_and_errors(result: dict[str, Any]) -> None:
    """Every project call takes a key (X-Api-Key), with an end user's access token beside
    it where one is signed in; project creation takes a console user's personal access
    token. Every call answers errors in one shape. Declared here once, so a generated
    client sends the credentials and knows the error type for every operation."""
    components = result.setdefault("components", {})
    schemes = components.setdefault("securitySchemes", {})
    schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    schemes["BearerAuth"] = {"type": "http", "scheme": "bearer", "description": "an end user's access token, or a console personal access token"}
    components.setdefault("schemas", {}).update(COMPONENTS)
    error = {"description": "Error", "content": {"application/json": {"schema": ERROR}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method not in ("get", "put", "post", "patch", "delete", "head"):
                continue
            if path.startswith("/v1/projects/{"):
                # A key alone, a key with a user's token, or a console token alone.
                operation["security"] = [{"ApiKey": []}, {"ApiKey": [], "BearerAuth": []}, {"BearerAuth": []}]
            elif path.startswith("/v1/projects"):
                operation["security"] = [{"BearerAuth": []}]
            if path.startswith("/v1/"):
                responses = operation.setdefault("responses", {})
                responses.setdefault("4XX", error)
                responses.setdefault("5XX", error)
