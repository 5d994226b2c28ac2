"""Writes of push: credentials, devices and topics, and sending messages.

A send records the message and queues one dispatch job after commit. The dispatch
resolves the recipients into one result row per token (unique per message and token)
and queues a job per batch of at most 500. A batch job claims its pending rows with a
random claim id before it calls FCM, so a duplicate run of the same job finds nothing
to send; transient failures go back to pending and are retried with exponential
backoff, jitter and the server's Retry-After, up to ``BAAS_PUSH_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from baas.api.formats import parse_rfc3339
from endusers.crypto import secret_open, secret_seal
from endusers.tokens import uid_check
from projects.push import fcm
from projects.push.models import (
    DeliveryStatus,
    Device,
    FcmCredential,
    MessageStatus,
    Platform,
    PushDelivery,
    PushMessage,
    TopicSubscription,
)
from projects.push.selectors import message_json
from projects.usage import usage_record

logger = logging.getLogger("baas.push")

TOPIC_PATTERN = re.compile(r"^[a-zA-Z0-9\-_.~%]{1,900}$")
MAX_TOKEN_LENGTH = 1024
MAX_TARGET_TOKENS = 1000
MAX_TARGET_USERS = 1000
MAX_CONTENT_BYTES = 4096  # FCM's own payload ceiling
CONTENT_FIELDS = ("notification", "data", "android", "apns", "webpush")


def require_secret(ctx: RequestContext) -> None:
    if not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")


# --- credentials --------------------------------------------------------------------------


def push_credentials_set(*, ctx: RequestContext, service_account: Any) -> FcmCredential:
    """Validate, seal and store the project's service account (replacing any before it)."""
    require_secret(ctx)
    info = fcm.service_account_check(service_account)
    sealed = secret_seal(orjson.dumps(info))
    with transaction.atomic():
        row = FcmCredential.objects.for_project(ctx.project_id).select_for_update().first()
        if row is None:
            row = FcmCredential(project_id=ctx.project_id, version=0)
        row.sealed = sealed
        row.fcm_project_id = info["project_id"]
        row.client_email = info["client_email"]
        row.version += 1
        row.save()
    return row


def push_credentials_delete(*, ctx: RequestContext) -> None:
    require_secret(ctx)
    deleted, _ = FcmCredential.objects.for_project(ctx.project_id).delete()
    if not deleted:
        raise NotFound("The project has no FCM credentials.")
    fcm.messaging_app_drop(ctx.project_id)


def push_credentials_reseal() -> int:
    """Seal every stored credential again with the current SECRET_KEY, so an old key can
    leave SECRET_KEY_FALLBACKS. Returns how many were resealed."""
    count = 0
    for row in FcmCredential.objects.unscoped().only("project_id", "sealed"):
        FcmCredential.objects.unscoped().filter(pk=row.pk, sealed=row.sealed).update(
            sealed=secret_seal(secret_open(row.sealed))
        )
        count += 1
    return count


def _credential_info(row: FcmCredential) -> dict[str, Any]:
    return orjson.loads(secret_open(row.sealed))


# --- devices and topics -------------------------------------------------------------------


def _token_check(token: Any) -> str:
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH or not token.isprintable() or "/" in token or " " in token:
        raise InvalidArgument(f"'token' must be 1-{MAX_TOKEN_LENGTH} printable characters, without '/' or spaces.", details={"field": "token"})
    return token


def topic_check(topic: Any) -> str:
    if isinstance(topic, str) and topic.startswith("/topics/"):
        topic = topic[len("/topics/"):]
    if not isinstance(topic, str) or not TOPIC_PATTERN.match(topic):
        raise InvalidArgument("'topic' must be 1-900 of a-z, A-Z, 0-9 and -_.~%.", details={"field": "topic"})
    return topic


def _acting_uid(ctx: RequestContext, uid: Any = None) -> str:
    """The signed-in end user; a secret key may act for any ``uid``."""
    if ctx.auth is not None:
        if uid is not None and uid != ctx.auth["uid"] and not ctx.is_privileged:
            raise PermissionDenied("Devices can be registered for the signed-in user only.")
        return uid_check(uid) if uid is not None else str(ctx.auth["uid"])
    if ctx.is_privileged and uid is not None:
        return uid_check(uid)
    if ctx.is_privileged:
        raise InvalidArgument("'uid' is required with a secret key.", details={"field": "uid"})
    raise Unauthenticated("Sign in: send 'Authorization: Bearer <access token>'.")


def device_register(
    *, ctx: RequestContext, token: Any, platform: Any, app_version: Any = None, uid: Any = None
) -> tuple[Device, bool]:
    """Register or refresh a token for the signed-in user. A token already known moves to
    this user (a phone changes hands, a user signs out and another in). Returns
    (device, created)."""
    owner = _acting_uid(ctx, uid)
    token = _token_check(token)
    if platform not in Platform.values:
        raise InvalidArgument("'platform' must be android, ios or web.", details={"field": "platform"})
    if app_version is not None and (not isinstance(app_version, str) or len(app_version) > 64):
        raise InvalidArgument("'appVersion' must be a string of at most 64 characters.", details={"field": "appVersion"})
    values = {"uid": owner, "platform": platform, "app_version": app_version or "", "is_active": True}
    for _ in range(2):
        try:
            with transaction.atomic():
                device, created = Device.objects.for_project(ctx.project_id).select_for_update().get_or_create(
                    project_id=ctx.project_id, token=token, defaults=values
                )
                if not created:
                    if device.uid != owner:
                        # The previous owner's topics do not follow the token to someone else.
                        TopicSubscription.objects.for_project(ctx.project_id).filter(device=device).delete()
                    for name, value in values.items():
                        setattr(device, name, value)
                    device.save()
                return device, created
        except IntegrityError:  # registered concurrently: the second pass updates it
            continue
    raise InvalidArgument("The token is being registered concurrently; retry.")


def device_access(*, ctx: RequestContext, token: str) -> Device:
    """The project's device with this token, if the caller may act on it; missing, foreign
    and another user's devices are the same 404."""
    device = Device.objects.for_project(ctx.project_id).filter(token=token).first()
    if device is None or not (ctx.is_privileged or (ctx.auth is not None and device.uid == ctx.auth["uid"])):
        if not ctx.is_privileged and ctx.auth is None:
            raise Unauthenticated("Sign in: send 'Authorization: Bearer <access token>'.")
        raise NotFound("Device not found.", details={"token": token})
    return device


def device_delete(*, ctx: RequestContext, token: str) -> None:
    device_access(ctx=ctx, token=token).delete()


def device_topic_subscribe(*, ctx: RequestContext, token: str, topic: Any) -> Device:
    topic = topic_check(topic)
    device = device_access(ctx=ctx, token=token)
    try:
        with transaction.atomic():
            TopicSubscription.objects.for_project(ctx.project_id).get_or_create(
                project_id=ctx.project_id, device=device, topic=topic
            )
    except IntegrityError:
        pass  # subscribed concurrently: the outcome wanted
    return device


def device_topic_unsubscribe(*, ctx: RequestContext, token: str, topic: Any) -> Device:
    topic = topic_check(topic)
    device = device_access(ctx=ctx, token=token)
    TopicSubscription.objects.for_project(ctx.project_id).filter(device=device, topic=topic).delete()
    return device


# --- sending ------------------------------------------------------------------------------


def _target_check(target: Any) -> dict[str, Any]:
    if not isinstance(target, dict) or len(target) != 1 or next(iter(target)) not in ("users", "tokens", "topic"):
        raise InvalidArgument("'target' is exactly one of {users}, {tokens} or {topic}.", details={"field": "target"})
    kind, value = next(iter(target.items()))
    if kind == "topic":
        return {"topic": topic_check(value)}
    limit = MAX_TARGET_USERS if kind == "users" else MAX_TARGET_TOKENS
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise InvalidArgument(f"'target.{kind}' is a list of 1-{limit} entries.", details={"field": f"target.{kind}"})
    check = uid_check if kind == "users" else _token_check
    return {kind: sorted({check(item) for item in value})}


def _send_at_check(send_at: Any) -> datetime | None:
    if send_at is None:
        return None
    if isinstance(send_at, datetime):
        if send_at.tzinfo is None:
            raise InvalidArgument("'sendAt' needs a time zone.", details={"field": "sendAt"})
        return send_at
    try:
        return parse_rfc3339(send_at)
    except (TypeError, ValueError):
        raise InvalidArgument("'sendAt' must be an RFC 3339 time with a zone.", details={"field": "sendAt"}) from None


def push_message_send(
    *,
    ctx: RequestContext,
    target: Any,
    notification: Any = None,
    data: Any = None,
    android: Any = None,
    apns: Any = None,
    webpush: Any = None,
    send_at: Any = None,
) -> dict[str, Any]:
    """Record a message and queue its delivery (after commit); what the REST call returns.

    The one send path of the REST API, the console and functions' ``ctx.push``.
    """
    require_secret(ctx)
    target = _target_check(target)
    content = {name: value for name, value in zip(CONTENT_FIELDS, (notification, data, android, apns, webpush)) if value is not None}
    if not content:
        raise InvalidArgument("A message needs at least one of notification, data, android, apns, webpush.")
    if len(orjson.dumps(content)) > MAX_CONTENT_BYTES:
        raise InvalidArgument(f"The message is larger than {MAX_CONTENT_BYTES} bytes.", details={"limit": MAX_CONTENT_BYTES})
    fcm.content_check(content)
    when = _send_at_check(send_at)
    is_scheduled = when is not None and when > timezone.now()
    message = PushMessage.objects.for_project(ctx.project_id).create(
        id="msg_" + uuid.uuid4().hex,
        project_id=ctx.project_id,
        target=target,
        content=content,
        send_at=when,
        status=MessageStatus.SCHEDULED if is_scheduled else MessageStatus.QUEUED,
        origin=ctx.origin,
    )
    message_id = message.id
    transaction.on_commit(lambda: _enqueue_dispatch(message_id, when if is_scheduled else None), robust=True)
    return message_json(message)


def _enqueue_dispatch(message_id: str, eta: datetime | None) -> None:
    from projects.push.tasks import message_dispatch

    if eta is None:
        message_dispatch.delay(message_id)
    else:
        # Long waits are capped: the sweep picks the message up when it is due anyway.
        countdown = min((eta - timezone.now()).total_seconds(), settings.BAAS_PUSH_SWEEP_INTERVAL_SECONDS * 10)
        message_dispatch.apply_async((message_id,), countdown=max(0.0, countdown))


def _recipients(message: PushMessage) -> list[tuple[str, int | None]]:
    """(token, device id) of every active device the target names, in a stable order."""
    devices = Device.objects.for_project(message.project_id).filter(is_active=True)
    target = message.target
    if "topic" in target:
        ids = TopicSubscription.objects.for_project(message.project_id).filter(topic=target["topic"]).values("device_id")
        devices = devices.filter(pk__in=ids)
    elif "users" in target:
        devices = devices.filter(uid__in=target["users"])
    else:
        known = dict(devices.filter(token__in=target["tokens"]).values_list("token", "pk"))
        inactive = set(
            Device.objects.for_project(message.project_id).filter(is_active=False, token__in=target["tokens"]).values_list("token", flat=True)
        )
        return [(token, known.get(token)) for token in target["tokens"] if token not in inactive]
    return list(devices.order_by("pk").values_list("token", "pk"))


def push_message_dispatch(message_id: str) -> list[int]:
    """Turn a queued (or due scheduled) message into result rows, one batch per 500
    tokens; returns the batches to send. Idempotent: a message past ``queued`` is left
    alone. Without credentials the project is in dry-run mode: rows are recorded, not sent."""
    with transaction.atomic():
        message = PushMessage.objects.unscoped().select_for_update().filter(pk=message_id).first()
        if message is None or message.status not in (MessageStatus.QUEUED, MessageStatus.SCHEDULED):
            return []
        if message.status == MessageStatus.SCHEDULED and message.send_at and message.send_at > timezone.now():
            when = message.send_at
            transaction.on_commit(lambda: _enqueue_dispatch(message_id, when), robust=True)  # not yet: wait again
            return []
        recipients = _recipients(message)
        is_dry_run = not FcmCredential.objects.for_project(message.project_id).exists()
        status = DeliveryStatus.DRY_RUN if is_dry_run else DeliveryStatus.PENDING
        PushDelivery.objects.for_project(message.project_id).bulk_create(
            [
                PushDelivery(message=message, project_id=message.project_id, device_id=device_id, token=token,
                             batch=index // fcm.MAX_BATCH, status=status)
                for index, (token, device_id) in enumerate(recipients)
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        message.recipients = len(recipients)
        message.batches = math.ceil(len(recipients) / fcm.MAX_BATCH)
        if is_dry_run:
            message.status = MessageStatus.DRY_RUN
            message.completed_at = timezone.now()
        elif not recipients:
            message.status = MessageStatus.SENT
            message.completed_at = timezone.now()
        else:
            message.status = MessageStatus.SENDING
        message.save(update_fields=["recipients", "batches", "status", "completed_at", "updated_at"])
        batches = list(range(message.batches)) if message.status == MessageStatus.SENDING else []
        if batches:
            transaction.on_commit(lambda: _enqueue_batches(message_id, batches), robust=True)
    return batches


def _enqueue_batches(message_id: str, batches: list[int], countdown: float | None = None) -> None:
    from projects.push.tasks import message_batch_send

    for batch in batches:
        message_batch_send.apply_async((message_id, batch), countdown=countdown)


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the server asked."""
    base = settings.BAAS_PUSH_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1))
    delay = random.uniform(base / 2, base)
    cap = settings.BAAS_PUSH_RETRY_MAX_SECONDS
    return max(min(delay, cap), min(retry_after or 0.0, cap))


def push_batch_send(message_id: str, batch: int) -> float | None:
    """Send one batch's pending rows. Returns the delay before a retry when some rows
    failed transiently and may be tried again (the caller schedules it), else None."""
    claim = uuid.uuid4().hex
    claimed = (
        PushDelivery.objects.unscoped()
        .filter(message_id=message_id, batch=batch, status=DeliveryStatus.PENDING)
        .update(status=DeliveryStatus.SENDING, claim=claim, attempts=F("attempts") + 1, updated_at=timezone.now())
    )
    if not claimed:
        message_finish(message_id)
        return None
    message = PushMessage.objects.unscoped().get(pk=message_id)
    rows = list(PushDelivery.objects.unscoped().filter(message_id=message_id, claim=claim, status=DeliveryStatus.SENDING).order_by("pk"))
    credential = FcmCredential.objects.for_project(message.project_id).first()
    if credential is None:
        outcomes = [fcm.Outcome(fcm.FAILED, code="no_credentials", message="The project's FCM credentials were removed.")] * len(rows)
    else:
        try:
            version = hashlib.sha256(credential.sealed.encode()).hexdigest()[:16]
            app = fcm.messaging_app(message.project_id, version, _credential_info(credential))
            outcomes = fcm.batch_send(app, message.content, [row.token for row in rows])
        except Exception as error:  # a bug or a broken credential must not leave rows claimed forever
            logger.exception("push batch failed", extra={"message": message_id, "batch": batch})
            outcomes = [fcm.Outcome(fcm.TRANSIENT, code="internal", message=f"{type(error).__name__}")] * len(rows)
    retry_after: list[float] = []
    invalid_devices: list[int] = []
    now = timezone.now()
    for row, outcome in zip(rows, outcomes):
        row.updated_at = now
        row.error_code, row.error_message = outcome.code[:64], outcome.message[:500]
        if outcome.kind == fcm.SENT:
            row.status, row.fcm_message_id = DeliveryStatus.SENT, outcome.message_id[:255]
        elif outcome.kind == fcm.INVALID_TOKEN:
            row.status = DeliveryStatus.INVALID_TOKEN
            if row.device_id is not None:
                invalid_devices.append(row.device_id)
        elif outcome.kind == fcm.TRANSIENT and row.attempts < settings.BAAS_PUSH_MAX_ATTEMPTS:
            row.status = DeliveryStatus.PENDING
            retry_after.append(outcome.retry_after or 0.0)
        else:
            row.status = DeliveryStatus.FAILED
    sent = sum(1 for row in rows if row.status == DeliveryStatus.SENT)
    if sent:
        usage_record(message.project_id, "push_sends", sent)
    with transaction.atomic():
        _results_save(rows, now)
        if invalid_devices:
            Device.objects.for_project(message.project_id).filter(pk__in=invalid_devices).update(is_active=False, updated_at=timezone.now())
    message_finish(message_id)
    if retry_after:
        attempt = max(row.attempts for row in rows if row.status == DeliveryStatus.PENDING)
        return retry_delay(attempt, max(retry_after))
    return None


def _results_save(rows: list[PushDelivery], now: datetime) -> None:
    """Every row's outcome in one statement: ``UPDATE … FROM`` a list of values (SQLite
    3.33+ and PostgreSQL). Django's ``bulk_update`` builds a CASE per column and row,
    which cost more than the FCM calls of a 500-token batch."""
    table = connection.ops.quote_name(PushDelivery._meta.db_table)
    for start in range(0, len(rows), fcm.MAX_BATCH):
        chunk = rows[start:start + fcm.MAX_BATCH]
        values = ", ".join(["(CAST(%s AS bigint), %s, %s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for row in chunk:
            params += [row.pk, row.status, row.fcm_message_id, row.error_code, row.error_message]
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH v (id, status, fcm_message_id, error_code, error_message) AS (VALUES {values}) "
                f"UPDATE {table} SET status = v.status, fcm_message_id = v.fcm_message_id, error_code = v.error_code, "
                f"error_message = v.error_message, updated_at = %s FROM v WHERE {table}.id = v.id",
                [*params, now],
            )


def message_finish(message_id: str) -> None:
    """Refresh the counts; once no row is pending or being sent, settle the status."""
    with transaction.atomic():
        message = PushMessage.objects.unscoped().select_for_update().filter(pk=message_id).first()
        if message is None or message.status != MessageStatus.SENDING:
            return
        counts = PushDelivery.objects.unscoped().filter(message_id=message_id).aggregate(
            success=Count("pk", filter=Q(status=DeliveryStatus.SENT)),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED)),
            invalid=Count("pk", filter=Q(status=DeliveryStatus.INVALID_TOKEN)),
            open=Count("pk", filter=Q(status__in=(DeliveryStatus.PENDING, DeliveryStatus.SENDING))),
        )
        message.success_count = counts["success"]
        message.failure_count = counts["failed"] + counts["invalid"]
        message.invalid_token_count = counts["invalid"]
        if counts["open"] == 0:
            if message.failure_count == 0:
                message.status = MessageStatus.SENT
            elif message.success_count == 0:
                message.status = MessageStatus.FAILED
            else:
                message.status = MessageStatus.PARTIALLY_FAILED
            message.completed_at = timezone.now()
        message.save(update_fields=["success_count", "failure_count", "invalid_token_count", "status", "completed_at", "updated_at"])


def push_messages_sweep() -> dict[str, int]:
    """Periodic: dispatch messages that are due or whose dispatch job was lost, and send
    batches whose job was lost (pending rows untouched for a while, or claimed rows of a
    worker that died mid-send: those are sent again, the one case of a repeat)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BAAS_PUSH_STALE_SECONDS)
    due = list(
        PushMessage.objects.unscoped()
        .filter(Q(status=MessageStatus.SCHEDULED, send_at__lte=now) | Q(status=MessageStatus.QUEUED, created_at__lte=stale))
        .values_list("pk", flat=True)[:1000]
    )
    for message_id in due:
        _enqueue_dispatch(message_id, None)
    PushDelivery.objects.unscoped().filter(status=DeliveryStatus.SENDING, updated_at__lte=stale).update(
        status=DeliveryStatus.PENDING, claim="", updated_at=now
    )
    lost = list(
        PushDelivery.objects.unscoped()
        .filter(status=DeliveryStatus.PENDING, updated_at__lte=stale)
        .values_list("message_id", "batch")
        .distinct()[:1000]
    )
    for message_id, batch in lost:
        _enqueue_batches(message_id, [batch])
    return {"dispatched": len(due), "batches": len(lost)}
