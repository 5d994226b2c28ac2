"""Deleting auth rows nobody can use any more. Each function is called hourly by a job
(``endusers/tasks.py``, scheduled in ``baas/celery.py``) and may be called by hand.

Expired rows are already refused where they are read, so these only bound the tables'
growth; a late or skipped run changes no answer. ``project_id`` None means every
project (the job); a project id limits the sweep to that project's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from endusers import keys
from endusers.models import CustomTokenUse, EmailToken, OAuthState, RefreshToken

BATCH = 5_000


def _rows(model: Any, project_id: str | None) -> models.QuerySet[Any]:
    return model.objects.unscoped() if project_id is None else model.objects.for_project(project_id)


def _expired_delete(model: Any, project_id: str | None, now: datetime | None, batch: int) -> int:
    """In batches by primary key, so no single statement holds locks on a large table."""
    cutoff = now or timezone.now()
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(_rows(model, project_id).filter(expires_at__lte=cutoff).values_list("pk", flat=True)[:batch])
            if ids:
                model.objects.unscoped().filter(pk__in=ids).delete()
        removed += len(ids)
        if len(ids) < batch:
            return removed


def refresh_tokens_purge(*, project_id: str | None = None, now: datetime | None = None, batch: int = BATCH) -> int:
    """Refresh tokens past their expiry, used or not: reuse detection only matters while
    a token could still be accepted."""
    return _expired_delete(RefreshToken, project_id, now, batch)


def oauth_states_purge(*, project_id: str | None = None, now: datetime | None = None, batch: int = BATCH) -> int:
    """Sign-ins in flight that were abandoned or finished, once their 10 minutes are up."""
    return _expired_delete(OAuthState, project_id, now, batch)


def email_tokens_purge(*, project_id: str | None = None, now: datetime | None = None, batch: int = BATCH) -> int:
    """Reset and verification codes past their expiry."""
    return _expired_delete(EmailToken, project_id, now, batch)


def custom_token_uses_purge(*, project_id: str | None = None, now: datetime | None = None, batch: int = BATCH) -> int:
    """Replay records of custom tokens that have expired (the exchange refuses them anyway)."""
    return _expired_delete(CustomTokenUse, project_id, now, batch)


def signing_keys_purge(*, project_id: str | None = None) -> int:
    """Retired signing keys no longer published: every token they signed has expired."""
    return keys.signing_keys_purge(project_id=project_id)
