"""REST edges of documents: parse the request, call one service or selector, render."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.errors import InvalidArgument
from baas.api.inputs import body_object
from baas.api.views import ProjectApiView
from projects.documents import config as collection_configs
from projects.documents import selectors, services
from projects.documents.services import WriteResult
from projects.documents.validation import parse_field_path

OBJECT = OpenApiTypes.OBJECT


def _etag(version: int) -> str:
    return f'"{version}"'


def _version_header(request: Request, name: str) -> int | None:
    """``If-Match: "3"`` (also ``3`` or ``W/"3"``) → 3."""
    raw = request.headers.get(name)
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or int(value) < 1:
        raise InvalidArgument(f"{name} must be a document version such as \"3\".", details={"header": name})
    return int(value)


def _fields_param(request: Request) -> tuple[tuple[str, ...], ...] | None:
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    return tuple(parse_field_path(part.strip(), field="fields") for part in raw.split(",") if part.strip())


def _document_response(result: WriteResult, status: int) -> Response:
    assert result.document is not None
    return Response(selectors.document_json(result.document), status=status, headers={"ETag": _etag(result.version or 0)})


class CollectionsView(ProjectApiView):
    secret_only = True

    @extend_schema(responses=OBJECT, summary="List collections", operation_id="collections_list")
    def get(self, request: Request, project_id: str) -> Response:
        rows = collection_configs.collections_list(ctx=self.ctx_of(request))
        return Response({"collections": [collection_configs.collection_json(row) for row in rows]})


class CollectionView(ProjectApiView):
    secret_only = True

    @extend_schema(responses=OBJECT, summary="Get a collection's config", operation_id="collection_get")
    def get(self, request: Request, project_id: str, collection: str) -> Response:
        row = collection_configs.collection_get(ctx=self.ctx_of(request), name=collection)
        return Response(collection_configs.collection_json(row))

    @extend_schema(request=OBJECT, responses=OBJECT, summary="Set a collection's schema, rules and indexes", operation_id="collection_set")
    def put(self, request: Request, project_id: str, collection: str) -> Response:
        data = body_object(request)
        unknown = set(data) - {"schema", "rules", "indexes"}
        if unknown:
            raise InvalidArgument(f"Unknown config fields: {', '.join(sorted(unknown))}.")
        ctx = self.ctx_of(request)
        collection_configs.collection_config_set(
            ctx=ctx, name=collection, schema=data.get("schema"), rules=data.get("rules"), indexes=data.get("indexes")
        )
        row = collection_configs.collection_get(ctx=ctx, name=collection)
        return Response(collection_configs.collection_json(row))

    @extend_schema(responses={204: None}, summary="Delete a collection and its documents", operation_id="collection_delete")
    def delete(self, request: Request, project_id: str, collection: str) -> Response:
        services.collection_delete(ctx=self.ctx_of(request), name=collection)
        return Response(status=204)
