"""Writes of webhooks: endpoints, recording deliveries for events, sending them.

Events arrive from the project's event feed (``consumer.py``): each matching endpoint
gets one delivery row per event (unique on endpoint and event id), and a job per row is
queued after commit. A job claims its row (pending -> sending) before it sends, so two
runs of one job never both send; a failure is retried with exponential backoff and
jitter up to ``BAAS_WEBHOOKS_MAX_ATTEMPTS``, then the delivery is ``failed`` until
someone redelivers it. Delivery is at least once: receivers dedupe on the event id.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import orjson
import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PermissionDenied
from endusers.crypto import secret_open, secret_seal
from projects.webhooks import signing, targets
from projects.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("baas.webhooks")

EVENT_TYPES = (
    "document.created", "document.updated", "document.deleted",
    "user.created", "user.updated", "user.deleted",
    "object.finalized", "object.deleted",
    "function.succeeded", "function.failed", "function.timeout",
)
EVENT_FAMILIES = ("document", "user", "object", "function")
MAX_ENDPOINTS = 50
MAX_PATTERNS = 20
MAX_COLLECTIONS = 50
USER_AGENT = "baas-webhooks/1"


def require_secret(ctx: RequestContext) -> None:
    if not ctx.is_privileged:
        raise PermissionDenied("This call needs a secret key.")


def events_check(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PATTERNS or not all(isinstance(item, str) for item in raw):
        raise InvalidArgument(f"'events' is a list of 1-{MAX_PATTERNS} event types or patterns.", details={"field": "events"})
    allowed = {"*", *EVENT_TYPES, *(f"{family}.*" for family in EVENT_FAMILIES)}
    unknown = sorted({str(item) for item in raw if item not in allowed})
    if unknown:
        raise InvalidArgument(
            f"Unknown event types: {', '.join(unknown)}.", details={"field": "events", "unknown": unknown, "allowed": sorted(allowed)}
        )
    return sorted(set(raw))


def collections_check(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_COLLECTIONS or not all(isinstance(c, str) and 0 < len(c) <= 200 for c in raw):
        raise InvalidArgument(f"'collections' is a list of at most {MAX_COLLECTIONS} names.", details={"field": "collections"})
    return sorted(set(raw))


def event_matches(endpoint: WebhookEndpoint, event_type: str, collection: str | None) -> bool:
    """A pattern matches its type, its family (``document.*``) or everything (``*``); a
    collection filter narrows events that have a collection (not ``user.*``)."""
    family = event_type.split(".", 1)[0]
    if not any(p == "*" or p == event_type or p == f"{family}.*" for p in endpoint.events):
        return False
    return not endpoint.collections or collection is None or collection in endpoint.collections


# --- endpoints ----------------------------------------------------------------------------


def endpoint_access(*, ctx: RequestContext, endpoint_id: str) -> WebhookEndpoint:
    require_secret(ctx)
    endpoint = WebhookEndpoint.objects.for_project(ctx.project_id).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.", details={"id": endpoint_id})
    return endpoint


def _description_check(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > 200:
        raise InvalidArgument("'description' is text of at most 200 characters.", details={"field": "description"})
    return raw


def _enabled_check(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise InvalidArgument("'enabled' must be true or false.", details={"field": "enabled"})
    return raw


def endpoint_create(
    *, ctx: RequestContext, url: Any, events: Any, collections: Any = None, description: Any = None, enabled: Any = True
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned this once)."""
    require_secret(ctx)
    values = {
        "url": targets.url_check(url),
        "events": events_check(events),
        "collections": collections_check(collections),
        "description": _description_check(description),
        "is_enabled": _enabled_check(enabled),
    }
    if WebhookEndpoint.objects.for_project(ctx.project_id).count() >= MAX_ENDPOINTS:
        raise InvalidArgument(f"A project has at most {MAX_ENDPOINTS} webhook endpoints.")
    secret = signing.secret_make()
    endpoint = WebhookEndpoint.objects.for_project(ctx.project_id).create(
        id="wh_" + uuid.uuid4().hex, project_id=ctx.project_id, sealed_secret=secret_seal(secret.encode()), **values
    )
    return endpoint, secret


def endpoint_update(*, ctx: RequestContext, endpoint_id: str, changes: dict[str, Any]) -> WebhookEndpoint:
    endpoint = endpoint_access(ctx=ctx, endpoint_id=endpoint_id)
    checks = {"url": targets.url_check, "events": events_check, "collections": collections_check,
              "description": _description_check, "enabled": _enabled_check}
    for name, value in changes.items():
        setattr(endpoint, "is_enabled" if name == "enabled" else name, checks[name](value))
    endpoint.save()
    return endpoint


def endpoint_delete(*, ctx: RequestContext, endpoint_id: str) -> None:
    endpoint_access(ctx=ctx, endpoint_id=endpoint_id).delete()


def endpoint_secret_rotate(*, ctx: RequestContext, endpoint_id: str) -> str:
    """A new signing secret, effective for every delivery sent from now on."""
    endpoint = endpoint_access(ctx=ctx, endpoint_id=endpoint_id)
    secret = signing.secret_make()
    endpoint.sealed_secret = secret_seal(secret.encode())
    endpoint.save(update_fields=["sealed_secret", "updated_at"])
    return secret


# --- deliveries ---------------------------------------------------------------------------


def webhook_deliveries_create(project_id: str, events: list[Any]) -> list[str]:
    """Record a delivery for every enabled endpoint each event matches and queue the jobs
    after commit. Idempotent (unique on endpoint and event id): events offered again add
    nothing, and a queued job that finds its row already handled does nothing."""
    endpoints = list(WebhookEndpoint.objects.for_project(project_id).filter(is_enabled=True))
    if not endpoints:
        return []
    now = timezone.now()
    rows = [
        WebhookDelivery(
            id="whd_" + uuid.uuid4().hex, project_id=project_id, endpoint=endpoint, event_id=event.id,
            event_type=event.type, payload=event.payload(), next_attempt_at=now,
        )
        for event in events
        for endpoint in endpoints
        if event_matches(endpoint, event.type, event.collection)
    ]
    if not rows:
        return []
    with transaction.atomic():
        WebhookDelivery.objects.for_project(project_id).bulk_create(rows, ignore_conflicts=True, batch_size=500)
        pending = list(
            WebhookDelivery.objects.for_project(project_id)
            .filter(endpoint__in=endpoints, event_id__in={row.event_id for row in rows}, status=DeliveryStatus.PENDING, attempts=0)
            .values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _enqueue(pending), robust=True)
    return pending


def _enqueue(delivery_ids: list[str], countdown: float | None = None) -> None:
    from projects.webhooks.tasks import delivery_send

    for delivery_id in delivery_ids:
        delivery_send.apply_async((delivery_id,), countdown=countdown)


def retry_delay(round_attempts: int) -> float:
    """Exponential backoff with jitter: base, 2x base, 4x base ... (each 50-100%), capped."""
    base = settings.BAAS_WEBHOOKS_RETRY_BASE_SECONDS * (2 ** max(0, round_attempts - 1))
    return min(random.uniform(base / 2, base), settings.BAAS_WEBHOOKS_RETRY_MAX_SECONDS)


def webhook_delivery_attempt(delivery_id: str) -> float | None:
    """Send one due delivery once. Returns the delay before the next try when it failed
    and may be retried (the caller schedules it), else None."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.unscoped()
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + timedelta(seconds=1))
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1,
                round_attempts=F("round_attempts") + 1, updated_at=now)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.unscoped().select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = orjson.dumps(delivery.payload)
    status_code: int | None = None
    error = ""
    started = time.monotonic()
    try:
        secret = secret_open(endpoint.sealed_secret).decode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            signing.HEADER: signing.signature(secret, body),
            "X-Baas-Event-Id": delivery.event_id,
            "X-Baas-Event-Type": delivery.event_type,
            "X-Baas-Delivery-Id": delivery.id,
            "X-Baas-Delivery-Attempt": str(delivery.attempts),
        }
        if not endpoint.is_enabled:
            raise targets.TargetRefused("the endpoint is disabled")
        parts = requests.utils.urlparse(endpoint.url)
        targets.host_check(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        with targets.session_make() as session:
            response = session.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False, stream=True,  # the body is never read
                timeout=(settings.BAAS_WEBHOOKS_CONNECT_TIMEOUT, settings.BAAS_WEBHOOKS_TIMEOUT),
            )
            status_code = response.status_code
            response.close()
        if not 200 <= status_code < 300:
            error = f"the receiver answered {status_code}"
    except targets.TargetRefused as refused:
        error = f"target refused: {refused}"
    except requests.Timeout:
        error = "timed out"
    except requests.RequestException as failure:
        cause = failure.__context__ or failure
        while cause.__context__ is not None and not isinstance(cause, targets.TargetRefused):
            cause = cause.__context__
        error = f"target refused: {cause}" if isinstance(cause, targets.TargetRefused) else f"connection failed: {type(failure).__name__}"
    duration_ms = int((time.monotonic() - started) * 1000)
    succeeded = not error
    retry = not succeeded and delivery.round_attempts < settings.BAAS_WEBHOOKS_MAX_ATTEMPTS
    delay = retry_delay(delivery.round_attempts) if retry else None
    finished = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.for_project(delivery.project_id).create(
            delivery=delivery, project_id=delivery.project_id, number=delivery.attempts, status_code=status_code,
            error=error[:500], duration_ms=duration_ms, succeeded=succeeded,
        )
        WebhookDelivery.objects.unscoped().filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.SUCCEEDED if succeeded else (DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED),
            last_status_code=status_code,
            last_error=error[:500],
            last_duration_ms=duration_ms,
            next_attempt_at=finished + timedelta(seconds=delay or 0),
            claimed_at=None,
            updated_at=finished,
        )
    if error:
        logger.info("webhook delivery failed", extra={"delivery": delivery.id, "attempt": delivery.attempts, "reason": error[:200]})
    return delay


def delivery_redeliver(*, ctx: RequestContext, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
    """Queue a delivery again (whatever its outcome), with a fresh retry budget."""
    endpoint = endpoint_access(ctx=ctx, endpoint_id=endpoint_id)
    now = timezone.now()
    updated = (
        WebhookDelivery.objects.for_project(ctx.project_id)
        .filter(pk=delivery_id, endpoint=endpoint)
        .exclude(status=DeliveryStatus.SENDING)
        .update(status=DeliveryStatus.PENDING, round_attempts=0, next_attempt_at=now, updated_at=now)
    )
    delivery = WebhookDelivery.objects.for_project(ctx.project_id).filter(pk=delivery_id, endpoint=endpoint).first()
    if delivery is None:
        raise NotFound("Delivery not found.", details={"id": delivery_id})
    if updated:
        transaction.on_commit(lambda: _enqueue([delivery_id]), robust=True)
    return delivery


def webhook_deliveries_sweep() -> dict[str, int]:
    """Periodic: queue deliveries whose job never ran (a crash between commit and enqueue,
    a lost broker message) and take back claims of workers that died mid-send."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BAAS_WEBHOOKS_STALE_SECONDS)
    reclaimed = WebhookDelivery.objects.unscoped().filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale).update(
        status=DeliveryStatus.PENDING, claimed_at=None, next_attempt_at=now, updated_at=now
    )
    late = now - timedelta(seconds=settings.BAAS_WEBHOOKS_SWEEP_GRACE_SECONDS)
    due = list(
        WebhookDelivery.objects.unscoped()
        .filter(Q(status=DeliveryStatus.PENDING) & Q(next_attempt_at__lte=late))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:5000]
    )
    _enqueue(due)
    return {"queued": len(due), "reclaimed": reclaimed}
