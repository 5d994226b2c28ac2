"""Webhooks read the project's event feed: a batch of committed events in, delivery rows
(and, after commit, their jobs) out."""

from __future__ import annotations

from projects.documents.feeds import Event, feed_consumer
from projects.webhooks.models import WebhookEndpoint
from projects.webhooks.services import webhook_deliveries_create


def _interested(project_id: str) -> bool:
    return WebhookEndpoint.objects.for_project(project_id).filter(is_enabled=True).exists()


@feed_consumer("webhooks", interested=_interested)
def webhooks_take(project_id: str, events: list[Event]) -> None:
    """Inside the feed's transaction, with this consumer's cursor locked."""
    webhook_deliveries_create(project_id, events)
