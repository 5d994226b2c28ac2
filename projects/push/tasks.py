"""Push jobs: they take ids, call one service and own their retries."""

from __future__ import annotations

from celery import shared_task

from projects.push import services


@shared_task(name="push.message_dispatch", ignore_result=True)
def message_dispatch(message_id: str) -> None:
    services.push_message_dispatch(message_id)


@shared_task(name="push.message_batch_send", ignore_result=True)
def message_batch_send(message_id: str, batch: int) -> None:
    delay = services.push_batch_send(message_id, batch)
    if delay is not None:
        # A fresh job rather than self.retry: the rows count their own attempts.
        message_batch_send.apply_async((message_id, batch), countdown=delay)


@shared_task(name="push.messages_sweep", ignore_result=True)
def messages_sweep() -> dict[str, int]:
    return services.push_messages_sweep()


@shared_task(name="push.credentials_reseal", ignore_result=True)
def credentials_reseal() -> int:
    return services.push_credentials_reseal()
