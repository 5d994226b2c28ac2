"""REST edges of push: parse, call one service or selector, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from baas.api.errors import InvalidArgument
from baas.api.inputs import body_object
from baas.api.schema import json_body, responses
from baas.api.views import ProjectApiView
from projects.push import schemas as s
from projects.push import selectors, services


def fields_of(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The JSON body, refusing unknown fields (a typo must not pass silently)."""
    data = body_object(request)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"Unknown fields: {', '.join(unknown)}.", details={"fields": unknown})
    return data


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= selectors.MAX_LIST_LIMIT:
        raise InvalidArgument(f"'limit' must be 1-{selectors.MAX_LIST_LIMIT}.", details={"field": "limit"})
    return int(raw)


class CredentialsView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.CREDENTIALS}, 403),
        summary="Whether FCM credentials are set, and their public facts",
        operation_id="push_credentials_get",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response(selectors.push_credentials_get(ctx=self.ctx_of(request)))

    @extend_schema(
        request=json_body(s.CREDENTIALS_SET),
        responses=responses({200: s.CREDENTIALS}, 400, 403, 415),
        summary="Upload the FCM service account JSON (write-only)",
        operation_id="push_credentials_set",
    )
    def put(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"serviceAccount"})
        if "serviceAccount" not in data:
            raise InvalidArgument("'serviceAccount' is required.", details={"field": "serviceAccount"})
        row = services.push_credentials_set(ctx=self.ctx_of(request), service_account=data["serviceAccount"])
        return Response(selectors.credentials_json(row))

    @extend_schema(
        responses=responses({204: None}, 403),
        summary="Remove the FCM credentials (dry-run mode)",
        operation_id="push_credentials_delete",
    )
    def delete(self, request: Request, project_id: str) -> Response:
        services.push_credentials_delete(ctx=self.ctx_of(request))
        return Response(status=204)


class DevicesView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.DEVICE_LIST}, 400, 403),
        parameters=s.DEVICES_PARAMETERS,
        summary="Devices of the signed-in user, or of ?uid= with a secret key",
        operation_id="push_devices_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        devices = selectors.devices_list(ctx=self.ctx_of(request), uid=request.query_params.get("uid"), limit=_limit(request))
        return Response({"devices": devices})

    @extend_schema(
        request=json_body(s.DEVICE_REGISTER),
        responses=responses({200: s.DEVICE, 201: s.DEVICE}, 400, 403, 415),
        summary="Register or refresh a device token",
        operation_id="push_devices_register",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"token", "platform", "appVersion", "uid"})
        device, created = services.device_register(
            ctx=self.ctx_of(request),
            token=data.get("token"),
            platform=data.get("platform"),
            app_version=data.get("appVersion"),
            uid=data.get("uid"),
        )
        return Response(selectors.device_json(device), status=201 if created else 200)


class DeviceView(ProjectApiView):
    @extend_schema(
        responses=responses({200: s.DEVICE}, 400, 403, 404),
        summary="A device",
        operation_id="push_device_get",
    )
    def get(self, request: Request, project_id: str, token: str) -> Response:
        return Response(selectors.device_json(services.device_access(ctx=self.ctx_of(request), token=token)))

    @extend_schema(
        responses=responses({204: None}, 400, 403, 404),
        summary="Delete a device token",
        operation_id="push_device_delete",
    )
    def delete(self, request: Request, project_id: str, token: str) -> Response:
        services.device_delete(ctx=self.ctx_of(request), token=token)
        return Response(status=204)


class DeviceTopicView(ProjectApiView):
    @extend_schema(
        request=None,
        responses=responses({200: s.DEVICE}, 400, 403, 404),
        summary="Subscribe a device to a topic",
        operation_id="push_topic_subscribe",
    )
    def put(self, request: Request, project_id: str, token: str, topic: str) -> Response:
        device = services.device_topic_subscribe(ctx=self.ctx_of(request), token=token, topic=topic)
        return Response(selectors.device_json(device))

    @extend_schema(
        responses=responses({200: s.DEVICE}, 400, 403, 404),
        summary="Unsubscribe a device from a topic",
        operation_id="push_topic_unsubscribe",
    )
    def delete(self, request: Request, project_id: str, token: str, topic: str) -> Response:
        device = services.device_topic_unsubscribe(ctx=self.ctx_of(request), token=token, topic=topic)
        return Response(selectors.device_json(device))


class MessagesView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.MESSAGE_LIST}, 400, 403),
        parameters=[s.LIMIT],
        summary="The latest messages, newest first (?limit=)",
        operation_id="push_messages_list",
    )
    def get(self, request: Request, project_id: str) -> Response:
        return Response({"messages": selectors.messages_list(ctx=self.ctx_of(request), limit=_limit(request))})

    @extend_schema(
        request=json_body(s.MESSAGE_SEND),
        responses=responses({202: s.MESSAGE}, 400, 403, 413, 415),
        summary="Send a push message (202; delivery runs in the background)",
        operation_id="push_messages_send",
    )
    def post(self, request: Request, project_id: str) -> Response:
        data = fields_of(request, {"target", "notification", "data", "android", "apns", "webpush", "sendAt"})
        if "target" not in data:
            raise InvalidArgument("'target' is required.", details={"field": "target"})
        result = services.push_message_send(
            ctx=self.ctx_of(request),
            target=data["target"],
            notification=data.get("notification"),
            data=data.get("data"),
            android=data.get("android"),
            apns=data.get("apns"),
            webpush=data.get("webpush"),
            send_at=data.get("sendAt"),
        )
        return Response(result, status=202)


class MessageView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.MESSAGE}, 403, 404),
        summary="A message's status and counts",
        operation_id="push_message_get",
    )
    def get(self, request: Request, project_id: str, message_id: str) -> Response:
        return Response(selectors.message_json(selectors.message_access(ctx=self.ctx_of(request), message_id=message_id)))


class MessageDeliveriesView(ProjectApiView):
    secret_only = True

    @extend_schema(
        responses=responses({200: s.DELIVERY_LIST}, 400, 403, 404),
        parameters=s.DELIVERIES_PARAMETERS,
        summary="Per-token results of a message (?cursor=, ?limit=)",
        operation_id="push_message_deliveries",
    )
    def get(self, request: Request, project_id: str, message_id: str) -> Response:
        cursor = request.query_params.get("cursor") or "0"
        if not cursor.isdigit() or len(cursor) > 18:
            raise InvalidArgument("'cursor' is not valid.", details={"field": "cursor"})
        return Response(
            selectors.deliveries_list(ctx=self.ctx_of(request), message_id=message_id, after=int(cursor), limit=_limit(request))
        )
