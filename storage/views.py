"""Bucket configuration and storage usage (DRF, secret key). Object bytes go through
storage/http.py, which streams."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.inputs import body_object
from baas.api.schema import json_body, responses
from baas.api.views import ProjectApiView
from storage import schemas as s
from storage import selectors, services


class BucketsView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.BUCKET_LIST}, 403),
        summary="List buckets",
        operation_id="buckets_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        buckets = selectors.buckets_list(ctx=self.ctx_of(request))
        return Response({"buckets": [selectors.bucket_json(bucket) for bucket in buckets]})

    @extend_schema(
        request=json_body(s.BUCKET_CREATE),
        responses=responses({201: s.BUCKET}, 400, 403, 409, 415),
        summary="Create a bucket",
        operation_id="buckets_create",
    )
    def post(self, request: Request, project_id: str) -> Response:
        bucket = services.bucket_create(ctx=self.ctx_of(request), data=body_object(request))
        return Response(selectors.bucket_json(bucket), status=201)


class BucketView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.BUCKET}, 403, 404),
        summary="Get a bucket's config",
        operation_id="bucket_get",
    )
    def get(self, request: Request, project_id: str, bucket: str) -> Response:
        ctx = self.ctx_of(request)
        selectors.require_secret(ctx)
        return Response(selectors.bucket_json(selectors.bucket_access(ctx=ctx, name=bucket)))

    @extend_schema(
        request=json_body(s.BUCKET_UPDATE),
        responses=responses({200: s.BUCKET}, 400, 403, 404, 415),
        summary="Change a bucket's limits or rules",
        operation_id="bucket_update",
    )
    def patch(self, request: Request, project_id: str, bucket: str) -> Response:
        row = services.bucket_update(ctx=self.ctx_of(request), name=bucket, data=body_object(request))
        return Response(selectors.bucket_json(row))

    @extend_schema(
        responses=responses({204: None}, 403, 404, 412),
        summary="Delete an empty bucket",
        operation_id="bucket_delete",
    )
    def delete(self, request: Request, project_id: str, bucket: str) -> Response:
        services.bucket_delete(ctx=self.ctx_of(request), name=bucket)
        return Response(status=204)


class StorageUsageView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.STORAGE_USAGE}, 403),
        summary="Bytes and objects stored by the project",
        operation_id="storage_usage",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response(selectors.usage_get(ctx=self.ctx_of(request)))
