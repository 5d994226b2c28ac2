"""Celery tasks of object storage."""

from __future__ import annotations

from celery import shared_task

from storage import sweep


@shared_task(name="storage.sweep", ignore_result=True)
def storage_sweep() -> None:
    sweep.sweep()
