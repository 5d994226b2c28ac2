"""Bytes nobody can reach any more, removed in the background (beat: ``storage.sweep``).

- Direct uploads never finalized: the client put bytes in S3 and never called finalize
  (or finalize failed before it could delete them). Their ``DirectUpload`` row names the
  key; once finalize would refuse it, the bytes are deleted unless an object row took them.
- Uploads a crashed server left half-written: temporary files in the local backend's
  ``.incoming/``, unfinished multipart uploads in S3.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.utils import timezone

from storage.backends import Backend, backend_get
from storage.models import DirectUpload, StoredObject

logger = logging.getLogger("baas.storage")

BATCH = 500
# Past finalize's own deadline, so a finalize in flight at that moment has ended.
DIRECT_MARGIN = timedelta(minutes=10)
# Far longer than any upload may sit idle (BAAS_STORAGE_IDLE_TIMEOUT) before it is dropped.
STALE_UPLOAD_SECONDS = 24 * 3600


def direct_uploads_sweep(*, backend: Backend | None = None, now: datetime | None = None) -> int:
    """Delete the bytes of direct uploads that can no longer be finalized; the count deleted."""
    backend = backend or backend_get()
    cutoff = (now or timezone.now()) - DIRECT_MARGIN
    deleted = 0
    while True:
        keys = list(DirectUpload.objects.filter(finalize_by__lt=cutoff).order_by("finalize_by").values_list("key", flat=True)[:BATCH])
        if not keys:
            return deleted
        # Housekeeping across projects: each key names its own project and bucket.
        kept = set(StoredObject.objects.unscoped().filter(blob_key__in=keys).values_list("blob_key", flat=True))
        done = []
        for key in keys:
            if key not in kept:
                try:
                    backend.delete(key)
                except Exception:  # kept for the next sweep
                    logger.warning("could not delete the bytes of an abandoned direct upload (%s)", key, exc_info=True)
                    continue
                deleted += 1
            done.append(key)
        DirectUpload.objects.filter(key__in=done).delete()
        if len(done) < len(keys):
            return deleted


def stale_uploads_sweep(*, backend: Backend | None = None, older_than_seconds: float = STALE_UPLOAD_SECONDS) -> int:
    backend = backend or backend_get()
    return backend.stale_uploads_abort(time.time() - older_than_seconds)


def sweep() -> None:
    direct, stale = direct_uploads_sweep(), stale_uploads_sweep()
    if direct or stale:
        logger.info("storage sweep: %d abandoned direct uploads deleted, %d stale uploads removed", direct, stale)
