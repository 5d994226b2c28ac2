"""Reads of webhooks: endpoints (never their secret) and the delivery log."""

from __future__ import annotations

from typing import Any

from baas.api.context import RequestContext
from baas.api.formats import rfc3339
from projects.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from projects.webhooks.services import endpoint_access, require_secret

MAX_LIST_LIMIT = 200


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "collections": endpoint.collections,
        "description": endpoint.description,
        "enabled": endpoint.is_enabled,
        "createTime": rfc3339(endpoint.created_at),
        "updateTime": rfc3339(endpoint.updated_at),
    }


def endpoints_list(*, ctx: RequestContext) -> list[dict[str, Any]]:
    require_secret(ctx)
    return [endpoint_json(e) for e in WebhookEndpoint.objects.for_project(ctx.project_id).order_by("created_at", "pk")]


def delivery_json(delivery: WebhookDelivery, attempts: list[WebhookAttempt] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": delivery.id,
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "responseCode": delivery.last_status_code,
        "error": delivery.last_error or None,
        "durationMs": delivery.last_duration_ms,
        "nextAttemptTime": rfc3339(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "createTime": rfc3339(delivery.created_at),
        "updateTime": rfc3339(delivery.updated_at),
    }
    if attempts is not None:
        result["log"] = [
            {
                "attempt": a.number,
                "succeeded": a.succeeded,
                "responseCode": a.status_code,
                "error": a.error or None,
                "durationMs": a.duration_ms,
                "time": rfc3339(a.created_at),
            }
            for a in attempts
        ]
    return result


def deliveries_list(*, ctx: RequestContext, endpoint_id: str, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The endpoint's deliveries, newest first, each with its attempt log."""
    endpoint = endpoint_access(ctx=ctx, endpoint_id=endpoint_id)
    rows = WebhookDelivery.objects.for_project(ctx.project_id).filter(endpoint=endpoint)
    if status:
        rows = rows.filter(status=status)
    deliveries = list(rows.order_by("-created_at", "-pk")[:limit])
    log: dict[str, list[WebhookAttempt]] = {d.pk: [] for d in deliveries}
    for attempt in WebhookAttempt.objects.for_project(ctx.project_id).filter(delivery_id__in=log).order_by("number", "pk"):
        log[attempt.delivery_id].append(attempt)
    return [delivery_json(d, log[d.pk]) for d in deliveries]
