"""The Celery app. Services mode: Redis broker, ``celery -A baas worker`` processes.
Embedded mode: the in-memory broker and a worker thread inside the server (baas/jobs.py).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baas.settings")

app = Celery("baas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # At least once: a task is acknowledged after it ran, and requeued if its worker dies.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    worker_hijack_root_logger=False,
    broker_transport_options={"polling_interval": 0.05},
)
# One queue name per deployment prefix, so test runs sharing a Redis never take each other's jobs.
app.conf.task_default_queue = f"{os.environ.get('BAAS_KEY_PREFIX', 'baas')}.jobs"
app.autodiscover_tasks()

# Periodic housekeeping. Services mode: the ``celery -A baas beat`` process (docker-compose's
# ``beat``). Embedded mode: a beat thread beside the worker thread (baas/jobs.py).
CLEANUP_EVERY = float(os.environ.get("BAAS_CLEANUP_INTERVAL_SECONDS", "3600"))
app.conf.beat_schedule = {
    name: {"task": name, "schedule": CLEANUP_EVERY, "options": {"expires": CLEANUP_EVERY}}
    for name in (
        "endusers.refresh_tokens_purge",
        "endusers.oauth_states_purge",
        "endusers.email_tokens_purge",
        "endusers.custom_token_uses_purge",
        "endusers.signing_keys_purge",
        "functions.executions_purge",
        "storage.sweep",
    )
}
# Due schedules and lost executions of cloud functions; schedule changes take effect at the
# next tick, without restarting anything.
FUNCTIONS_TICK = float(os.environ.get("BAAS_FUNCTIONS_TICK_SECONDS", "5"))
app.conf.beat_schedule["functions.tick"] = {
    "task": "functions.tick",
    "schedule": FUNCTIONS_TICK,
    "options": {"expires": max(FUNCTIONS_TICK, 1.0)},
}
# Push: due scheduled messages, and deliveries whose job was lost.
PUSH_SWEEP_EVERY = float(os.environ.get("BAAS_PUSH_SWEEP_INTERVAL_SECONDS", "60"))
app.conf.beat_schedule["push.messages_sweep"] = {
    "task": "push.messages_sweep",
    "schedule": PUSH_SWEEP_EVERY,
    "options": {"expires": PUSH_SWEEP_EVERY},
}
# Webhooks: deliveries whose job was never enqueued or was lost.
WEBHOOKS_SWEEP_EVERY = float(os.environ.get("BAAS_WEBHOOKS_SWEEP_INTERVAL_SECONDS", "60"))
app.conf.beat_schedule["webhooks.deliveries_sweep"] = {
    "task": "webhooks.deliveries_sweep",
    "schedule": WEBHOOKS_SWEEP_EVERY,
    "options": {"expires": WEBHOOKS_SWEEP_EVERY},
}


@worker_process_init.connect
def _start_changelog_sequencer(**kwargs: object) -> None:
    """Writes made by jobs are numbered promptly by the worker's own sequencer, and the
    events they cause are taken by its own feed pump."""
    from projects.documents.changelog import sequencer_start

    sequencer_start()


@worker_ready.connect
def _start_changelog_sequencer_in_main_process(**kwargs: object) -> None:
    """Solo and thread pools run tasks in the main process, which gets no
    ``worker_process_init``. (Starting twice in one process is a no-op.)"""
    _start_changelog_sequencer()
    _prepare_function_sandboxes()


@worker_process_init.connect
def _prepare_function_sandboxes(**kwargs: object) -> None:
    """Choose the sandbox isolation and fill the warm pool before the first invocation
    (after the fork: pools belong to one process)."""
    from functions.sandbox import sandbox_prepare

    sandbox_prepare()
