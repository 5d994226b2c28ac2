"""Background jobs of the tenancy layer. Tasks take ids and call a service."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from projects import services


@shared_task(name="projects.api_key_touch", ignore_result=True)
def api_key_touch(key_id: int, used_at: str) -> None:
    services.api_key_touch(key_id=key_id, used_at=datetime.fromisoformat(used_at))
