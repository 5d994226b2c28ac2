"""REST edges of webhooks (secret key): parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.errors import InvalidArgument
from baas.api.inputs import body_object
from baas.api.schema import json_body, responses
from baas.api.views import ProjectApiView
from projects.webhooks import schemas as s
from projects.webhooks import selectors, services
from projects.webhooks.models import DeliveryStatus

FIELDS = {"url", "events", "collections", "description", "enabled"}


def fields_of(request: Request, allowed: set[str]) -> dict[str, Any]:
    data = body_object(request)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(unknown)}.", details={"fields": unknown})
    return data


class EndpointsView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.ENDPOINT_LIST}, 403),
        summary="List webhook endpoints",
        operation_id="webhooks_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"webhooks": selectors.endpoints_list(ctx=self.ctx_of(request))})

    @extend_schema(
        request=json_body(s.ENDPOINT_CREATE),
        responses=responses({201: s.ENDPOINT_CREATED}, 400, 403, 415),
        summary="Create a webhook endpoint (the secret is shown once)",
        operation_id="webhooks_create",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, FIELDS)
        endpoint, secret = services.endpoint_create(
            ctx=self.ctx_of(request), url=data.get("url"), events=data.get("events"),
            collections=data.get("collections"), description=data.get("description"), enabled=data.get("enabled", True),
        )
        return Response({**selectors.endpoint_json(endpoint), "secret": secret}, status=201, headers={"Cache-Control": "no-store"})


class EndpointView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.ENDPOINT}, 403, 404),
        summary="A webhook endpoint",
        operation_id="webhook_get",
    )
    def get(self, request: Request, project_id: str, endpoint_id: str) -> Response:
        return Response(selectors.endpoint_json(services.endpoint_access(ctx=self.ctx_of(request), endpoint_id=endpoint_id)))

    @extend_schema(
        request=json_body(s.ENDPOINT_UPDATE),
        responses=responses({200: s.ENDPOINT}, 400, 403, 404, 415),
        summary="Change a webhook endpoint",
        operation_id="webhook_update",
    )
    def patch(self, request: Request, project_id: str, endpoint_id: str) -> Response:
        changes = fields_of(request, FIELDS)
        endpoint = services.endpoint_update(ctx=self.ctx_of(request), endpoint_id=endpoint_id, changes=changes)
        return Response(selectors.endpoint_json(endpoint))

    @extend_schema(
        responses=responses({204: None}, 403, 404),
        summary="Delete a webhook endpoint",
        operation_id="webhook_delete",
    )
    def delete(self, request: Request, project_id: str, endpoint_id: str) -> Response:
        services.endpoint_delete(ctx=self.ctx_of(request), endpoint_id=endpoint_id)
        return Response(status=204)


class EndpointSecretRotateView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=None,
        responses=responses({200: s.SECRET}, 403, 404),
        summary="Replace the signing secret (shown once)",
        operation_id="webhook_secret_rotate",
    )
    def post(self, request: Request, project_id: str, endpoint_id: str) -> Response:
        secret = services.endpoint_secret_rotate(ctx=self.ctx_of(request), endpoint_id=endpoint_id)
        return Response({"secret": secret}, headers={"Cache-Control": "no-store"})


class DeliveriesView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.DELIVERY_LIST}, 400, 403, 404),
        parameters=s.DELIVERIES_PARAMETERS,
        summary="Delivery log of an endpoint (?status=, ?limit=)",
        operation_id="webhook_deliveries",
    )
    def get(self, request: Request, project_id: str, endpoint_id: str) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in DeliveryStatus.values:
            raise InvalidArgument(f"'status' is one of {', '.join(DeliveryStatus.values)}.", details={"field": "status"})
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= selectors.MAX_LIST_LIMIT:
            raise InvalidArgument(f"'limit' must be 1-{selectors.MAX_LIST_LIMIT}.", details={"field": "limit"})
        deliveries = selectors.deliveries_list(ctx=self.ctx_of(request), endpoint_id=endpoint_id, status=status, limit=int(raw))
        return Response({"deliveries": deliveries})


class RedeliverView(ProjectApiView):
    secret_only = True

    @extend_schema(
        request=None,
        responses=responses({202: s.DELIVERY}, 403, 404, 412),
        summary="Send a delivery again",
        operation_id="webhook_redeliver",
    )
    def post(self, request: Request, project_id: str, endpoint_id: str, delivery_id: str) -> Response:
        delivery = services.delivery_redeliver(ctx=self.ctx_of(request), endpoint_id=endpoint_id, delivery_id=delivery_id)
        return Response(selectors.delivery_json(delivery), status=202)
