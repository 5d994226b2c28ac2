"""Webhook jobs: they take ids, call one service and own their retries."""

from __future__ import annotations

from celery import shared_task

from projects.webhooks import services


@shared_task(name="webhooks.delivery_send", ignore_result=True)
def delivery_send(delivery_id: str) -> None:
    delay = services.webhook_delivery_attempt(delivery_id)
    if delay is not None:
        delivery_send.apply_async((delivery_id,), countdown=delay)


@shared_task(name="webhooks.deliveries_sweep", ignore_result=True)
def deliveries_sweep() -> dict[str, int]:
    return services.webhook_deliveries_sweep()
