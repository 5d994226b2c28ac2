"""Building blocks for the OpenAPI document: named component schemas, the error
responses and the common parameters, used by each capability's ``schemas.py`` with
drf-spectacular's ``extend_schema``.

Most views render plain dicts, so drf-spectacular sees no serializer: their shapes are
written as JSON Schema here (OpenAPI 3.0 dialect: ``nullable`` rather than type lists)
and registered by name, so a generated client gets one model per resource."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

Schema = dict[str, Any]

# Filled at import by each capability's schemas module; merged into the document by
# baas.openapi (a component is only declared once, so a clash is a programming error).
COMPONENTS: dict[str, Schema] = {}

ERROR_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists or aborted",
    412: "failed_precondition",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "function_error",
    429: "resource_exhausted (with Retry-After)",
    504: "deadline_exceeded",
}
ERROR = {"$ref": "#/components/schemas/Error"}


def component(name: str, schema: Schema) -> Schema:
    """Register ``schema`` as ``#/components/schemas/<name>``; returns the reference."""
    if name in COMPONENTS and COMPONENTS[name] != schema:
        raise ValueError(f"OpenAPI component {name!r} is declared twice")
    COMPONENTS[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object; extra fields are allowed (the API may add some in a later version)."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:  # 3.0: siblings of $ref are ignored, so wrap it
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}
STRING_LIST: Schema = array(STRING)
CURSOR: Schema = nullable({"type": "string", "description": "Pass as `cursor` for the next page; null on the last one."})


def json_body(schema: Schema) -> dict[str, Schema]:
    """A request body for ``extend_schema(request=...)``."""
    return {"application/json": schema}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation documents, each in the one error shape."""
    return {status: OpenApiResponse(ERROR, description=ERROR_CODES[status]) for status in statuses}


def raw_errors(*statuses: int) -> dict[str, Any]:
    """``errors`` as plain OpenAPI responses, for documents drf-spectacular does not build."""
    return {
        str(status): {"description": ERROR_CODES[status], "content": {"application/json": {"schema": ERROR}}}
        for status in sorted(set(statuses))
    }


def responses(ok: dict[int, Any], *error_statuses: int) -> dict[int, Any]:
    """Success responses plus 401/429 (every call) and the given error statuses."""
    return {**ok, **errors(*sorted({401, 429, *error_statuses}))}


def query(name: str, description: str, type: Any = OpenApiTypes.STR, **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(name, type, OpenApiParameter.QUERY, required=False, description=description, **extra)


def header(name: str, description: str, **extra: Any) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False, description=description, **extra)


LIMIT = query("limit", "Page size.", OpenApiTypes.INT)
CURSOR_PARAM = query("cursor", "The `nextCursor` of the previous page.")


_TAGS = {"auth": "auth", "users": "auth", "collections": "documents", "batch": "documents", "rules:test": "rules",
         "buckets": "storage", "storage": "storage", "functions": "functions", "functions:discover": "functions",
         "push": "push", "webhooks": "webhooks"}  # fmt: skip


def operation_tag(path: str) -> str:
    """Operations are grouped by capability (a generated client's modules follow it)."""
    prefix = "/v1/projects/{project_id}/"
    if not path.startswith(prefix):
        return "projects"
    return _TAGS.get(path[len(prefix):].split("/", 1)[0], "projects")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's, except that a view's description is its own docstring only: the
    base views' docstrings speak of the server's internals, not of the call."""

    def get_description(self) -> str:  # type: ignore[override]
        method = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        own = vars(type(self.view)).get("__doc__")
        return get_doc(method) or (get_doc(type(self.view)) if own else "")

    def get_tags(self) -> list[str]:
        return [operation_tag(self.path)]
