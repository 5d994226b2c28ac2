"""OpenAPI additions: the edge routes and the storage object calls, which DRF's schema
generator cannot see."""

from __future__ import annotations

from typing import Any


def add_edge_routes(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    from baas.api.edge import openapi_paths
    from baas.routes import EDGE_ROUTES

    from storage.http import openapi_paths as storage_paths

    result.setdefault("paths", {}).update(openapi_paths(EDGE_ROUTES))
    result["paths"].update(storage_paths())
    result["paths"] = dict(sorted(result["paths"].items()))
    components = result.setdefault("components", {})
    components.setdefault("securitySchemes", {})["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    return result
