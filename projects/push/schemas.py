"""OpenAPI shapes of push devices, topics and messages (SPEC.md §Push notifications)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes

from baas.api.schema import (
    ANY_OBJECT,
    BOOLEAN,
    CURSOR,
    CURSOR_PARAM,
    INTEGER,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    array,
    component,
    nullable,
    obj,
    query,
)

STATUSES = ["scheduled", "queued", "sending", "sent", "partially_failed", "failed", "dry_run"]
CREDENTIALS = component(
    "PushCredentials",
    obj({"configured": BOOLEAN, "dryRun": BOOLEAN, "projectId": STRING, "clientEmail": STRING, "version": INTEGER,
         "updateTime": TIMESTAMP}, ["configured", "dryRun"]),
)  # fmt: skip
CREDENTIALS_SET = component(
    "PushCredentialsSet",
    obj({"serviceAccount": {**ANY_OBJECT, "description": "The FCM service account JSON (write-only)."}}, ["serviceAccount"],
        additionalProperties=False),
)  # fmt: skip
DEVICE = component(
    "Device",
    obj({"token": STRING, "uid": STRING, "platform": {"type": "string", "enum": ["android", "ios", "web"]},
         "appVersion": nullable(STRING), "active": BOOLEAN, "topics": STRING_LIST, "createTime": TIMESTAMP, "updateTime": TIMESTAMP},
        ["token", "uid", "platform", "active", "topics", "createTime", "updateTime"]),
)  # fmt: skip
DEVICE_LIST = component("DeviceList", obj({"devices": array(DEVICE)}, ["devices"]))
DEVICE_REGISTER = component(
    "DeviceRegister",
    obj({"token": STRING, "platform": {"type": "string", "enum": ["android", "ios", "web"]}, "appVersion": STRING,
         "uid": {**STRING, "description": "Secret keys only: register for this user."}},
        ["token", "platform"], additionalProperties=False),
)  # fmt: skip
TARGET = component(
    "PushTarget",
    obj({"users": STRING_LIST, "tokens": STRING_LIST, "topic": STRING}, description="Exactly one of users, tokens or topic."),
)
MESSAGE_SEND = component(
    "PushMessageSend",
    obj({"target": TARGET, "notification": obj({"title": STRING, "body": STRING, "image": STRING}),
         "data": obj({}, additionalProperties=STRING), "android": ANY_OBJECT, "apns": ANY_OBJECT, "webpush": ANY_OBJECT,
         "sendAt": TIMESTAMP}, ["target"], additionalProperties=False),
)  # fmt: skip
MESSAGE = component(
    "PushMessage",
    obj({"id": STRING, "status": {"type": "string", "enum": STATUSES}, "target": TARGET, "sendAt": nullable(TIMESTAMP),
         "recipients": INTEGER,
         "counts": obj({"success": INTEGER, "failure": INTEGER, "invalidTokens": INTEGER}, ["success", "failure", "invalidTokens"]),
         "createTime": TIMESTAMP, "completeTime": nullable(TIMESTAMP)},
        ["id", "status", "target", "counts", "createTime"]),
)  # fmt: skip
MESSAGE_LIST = component("PushMessageList", obj({"messages": array(MESSAGE)}, ["messages"]))
DELIVERY_LIST = component(
    "PushDeliveryList",
    obj({"deliveries": array(obj({"token": STRING, "status": STRING, "attempts": INTEGER, "messageId": nullable(STRING),
                                  "error": nullable(obj({"code": STRING, "message": STRING})), "updateTime": TIMESTAMP},
                                 ["token", "status", "attempts", "updateTime"])),
         "nextCursor": CURSOR}, ["deliveries", "nextCursor"]),
)  # fmt: skip
LIMIT = query("limit", "Page size, 1-1000 (default 100).", OpenApiTypes.INT)
DEVICES_PARAMETERS = [query("uid", "Secret keys: whose devices (required); end users: their own only."), LIMIT]
DELIVERIES_PARAMETERS = [CURSOR_PARAM, LIMIT]
