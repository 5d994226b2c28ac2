"""Reads of push, each taking ``ctx`` first; another project's rows are "not found"."""

from __future__ import annotations

from typing import Any

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from baas.api.formats import rfc3339
from endusers.tokens import uid_check
from projects.push.models import Device, FcmCredential, PushDelivery, PushMessage, TopicSubscription

MAX_LIST_LIMIT = 1000


def credentials_json(row: FcmCredential | None) -> dict[str, Any]:
    """Only facts that are not secret: the key itself never leaves after upload."""
    if row is None:
        return {"configured": False, "dryRun": True}
    return {
        "configured": True,
        "dryRun": False,
        "projectId": row.fcm_project_id,
        "clientEmail": row.client_email,
        "version": row.version,
        "updateTime": rfc3339(row.updated_at),
    }


def push_credentials_get(*, ctx: RequestContext) -> dict[str, Any]:
    if not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")
    return credentials_json(FcmCredential.objects.for_project(ctx.project_id).first())


def device_json(device: Device, topics: list[str] | None = None) -> dict[str, Any]:
    if topics is None:
        topics = sorted(TopicSubscription.objects.for_project(device.project_id).filter(device=device).values_list("topic", flat=True))
    return {
        "token": device.token,
        "uid": device.uid,
        "platform": device.platform,
        "appVersion": device.app_version,
        "active": device.is_active,
        "topics": topics,
        "createTime": rfc3339(device.created_at),
        "updateTime": rfc3339(device.updated_at),
    }


def devices_list(*, ctx: RequestContext, uid: str | None, limit: int = 100) -> list[dict[str, Any]]:
    """A secret key lists any user's devices (``uid`` required); an end user their own."""
    if ctx.is_privileged:
        if uid is None:
            raise InvalidArgument("'uid' is required: devices are listed per user.", details={"field": "uid"})
        owner = uid_check(uid)
    elif ctx.auth is not None:
        owner = str(ctx.auth["uid"])
        if uid is not None and uid != owner:
            raise PermissionDenied("An end user can list their own devices only.")
    else:
        raise Unauthenticated("Sign in: send 'Authorization: Bearer <access token>'.")
    devices = list(Device.objects.for_project(ctx.project_id).filter(uid=owner).order_by("created_at", "pk")[:limit])
    topics: dict[int, list[str]] = {device.pk: [] for device in devices}
    for device_id, topic in (
        TopicSubscription.objects.for_project(ctx.project_id).filter(device_id__in=topics).order_by("topic").values_list("device_id", "topic")
    ):
        topics[device_id].append(topic)
    return [device_json(device, topics[device.pk]) for device in devices]


def message_json(message: PushMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "status": message.status,
        "target": message.target,
        "sendAt": rfc3339(message.send_at),
        "recipients": message.recipients,
        "counts": {
            "success": message.success_count,
            "failure": message.failure_count,
            "invalidTokens": message.invalid_token_count,
        },
        "createTime": rfc3339(message.created_at),
        "completeTime": rfc3339(message.completed_at),
    }


def messages_list(*, ctx: RequestContext, limit: int = 50) -> list[dict[str, Any]]:
    """The project's latest messages, newest first."""
    if not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")
    rows = PushMessage.objects.for_project(ctx.project_id).order_by("-created_at", "-pk")[:limit]
    return [message_json(message) for message in rows]


def message_access(*, ctx: RequestContext, message_id: str) -> PushMessage:
    if not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")
    message = PushMessage.objects.for_project(ctx.project_id).filter(pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.", details={"id": message_id})
    return message


def deliveries_list(*, ctx: RequestContext, message_id: str, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """Per-token results of a message, in order, ``limit`` at a time from ``after``."""
    message = message_access(ctx=ctx, message_id=message_id)
    rows = list(
        PushDelivery.objects.for_project(ctx.project_id).filter(message=message, pk__gt=after).order_by("pk")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "deliveries": [
            {
                "token": row.token,
                "status": row.status,
                "attempts": row.attempts,
                "messageId": row.fcm_message_id or None,
                "error": {"code": row.error_code, "message": row.error_message} if row.error_code else None,
                "updateTime": rfc3339(row.updated_at),
            }
            for row in rows
        ],
        "nextCursor": str(rows[-1].pk) if more and rows else None,
    }
