"""REST edges of collection config (DRF). The document data plane is served by api.py."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.errors import InvalidArgument
from baas.api.inputs import body_object
from baas.api.schema import json_body, responses
from baas.api.views import ProjectApiView
from projects.documents import config as collection_configs
from projects.documents import schemas as s
from projects.documents import services


class CollectionsView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.COLLECTION_LIST}, 403),
        summary="List collections",
        operation_id="collections_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        rows = collection_configs.collections_list(ctx=self.ctx_of(request))
        return Response({"collections": [collection_configs.collection_json(row) for row in rows]})


class CollectionView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.COLLECTION}, 400, 403, 404),
        summary="Get a collection's config",
        operation_id="collection_get",
    )
    def get(self, request: Request, project_id: str, collection: str) -> Response:
        row = collection_configs.collection_get(ctx=self.ctx_of(request), name=collection)
        return Response(collection_configs.collection_json(row))

    @extend_schema(
        request=json_body(s.COLLECTION_CONFIG),
        responses=responses({200: s.COLLECTION}, 400, 403, 415),
        summary="Set a collection's schema, rules and indexes",
        operation_id="collection_set",
    )
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

    @extend_schema(
        responses=responses({204: None}, 400, 403),
        summary="Delete a collection and its documents",
        operation_id="collection_delete",
    )
    def delete(self, request: Request, project_id: str, collection: str) -> Response:
        services.collection_delete(ctx=self.ctx_of(request), name=collection)
        return Response(status=204)
