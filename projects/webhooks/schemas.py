"""OpenAPI shapes of webhook endpoints and their delivery log (SPEC.md §Push and webhooks)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes

from baas.api.schema import BOOLEAN, INTEGER, STRING, STRING_LIST, TIMESTAMP, array, component, nullable, obj, query

DELIVERY_STATUSES = ["pending", "sending", "succeeded", "failed"]
_FIELDS = {
    "url": STRING,
    "events": {**STRING_LIST, "description": "Event types such as `document.created`, `user.created`, `object.finalized`."},
    "collections": nullable({**STRING_LIST, "description": "Only these collections' document events; null for all."}),
    "description": STRING,
    "enabled": BOOLEAN,
}
ENDPOINT = component(
    "WebhookEndpoint",
    obj({"id": STRING, **_FIELDS, "createTime": TIMESTAMP, "updateTime": TIMESTAMP},
        ["id", "url", "events", "collections", "description", "enabled", "createTime", "updateTime"]),
)  # fmt: skip
ENDPOINT_CREATED = component(
    "WebhookEndpointCreated",
    {"allOf": [ENDPOINT, obj({"secret": {**STRING, "description": "The signing secret, shown this once."}}, ["secret"])]},
)
ENDPOINT_LIST = component("WebhookEndpointList", obj({"webhooks": array(ENDPOINT)}, ["webhooks"]))
ENDPOINT_CREATE = component("WebhookEndpointCreate", obj(_FIELDS, ["url", "events"], additionalProperties=False))
ENDPOINT_UPDATE = component("WebhookEndpointUpdate", obj(_FIELDS, additionalProperties=False))
SECRET = component("WebhookSecret", obj({"secret": STRING}, ["secret"]))
DELIVERY = component(
    "WebhookDelivery",
    obj({"id": STRING, "eventId": STRING, "eventType": STRING, "status": {"type": "string", "enum": DELIVERY_STATUSES},
         "attempts": INTEGER, "responseCode": nullable(INTEGER), "error": nullable(STRING), "durationMs": nullable(INTEGER),
         "nextAttemptTime": nullable(TIMESTAMP), "createTime": TIMESTAMP, "updateTime": TIMESTAMP,
         "log": array(obj({"attempt": INTEGER, "succeeded": BOOLEAN, "responseCode": nullable(INTEGER), "error": nullable(STRING),
                           "durationMs": nullable(INTEGER), "time": TIMESTAMP}))},
        ["id", "eventId", "eventType", "status", "attempts", "createTime", "updateTime"]),
)  # fmt: skip
DELIVERY_LIST = component("WebhookDeliveryList", obj({"deliveries": array(DELIVERY)}, ["deliveries"]))
DELIVERIES_PARAMETERS = [
    query("status", "Only deliveries in this status.", enum=DELIVERY_STATUSES),
    query("limit", "Page size, 1-200 (default 50).", OpenApiTypes.INT),
]
