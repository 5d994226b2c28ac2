"""Per-project usage metrics for the console's charts, recorded without a write per request.

``usage_record`` adds to a counter in process memory (a lock and a dict update); a
background thread flushes all counters every ``BAAS_USAGE_FLUSH_SECONDS`` in one batch,
adding each to its per-project, per-metric, per-minute row. Levels (documents stored,
storage bytes, realtime connections) are gauges: ``usage_gauge_add`` keeps this process's
level, written as its own source at each flush, and the flusher samples the database's
levels every ``BAAS_USAGE_SAMPLE_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction

logger = logging.getLogger("baas.usage")

BUCKET_SECONDS = 60

# Counters: summed per bucket. Levels: the value at the end of a bucket.
COUNTERS = ("requests", "errors", "function_runs", "push_sends")
LEVELS = ("documents", "storage_bytes", "realtime_connections")
METRICS = COUNTERS + LEVELS
METRIC_LABELS = {
    "requests": "API requests",
    "errors": "Errors (4xx and 5xx answers)",
    "documents": "Documents stored",
    "storage_bytes": "Storage bytes",
    "function_runs": "Function runs",
    "push_sends": "Push sends",
    "realtime_connections": "Realtime connections",
}
SAMPLER_SOURCE = "sampled"

_lock = threading.Lock()
_counts: dict[tuple[str, str], int] = defaultdict(int)
_levels: dict[tuple[str, str], int] = defaultdict(int)
_levels_dirty = False
_flusher: threading.Thread | None = None
_next_sample = 0.0


def _process_source() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def usage_record(project_id: str, metric: str, amount: int = 1) -> None:
    """Count ``amount`` of ``metric`` for the project; cheap enough for every request."""
    if not project_id:
        return
    with _lock:
        _counts[(project_id, metric)] += amount
    if _flusher is None:
        _flusher_start()


def usage_request(project_id: str, status: int) -> None:
    """One API request, and one error when the answer is 4xx or 5xx."""
    if not project_id:
        return
    with _lock:
        _counts[(project_id, "requests")] += 1
        if status >= 400:
            _counts[(project_id, "errors")] += 1
    if _flusher is None:
        _flusher_start()


def usage_gauge_add(project_id: str, metric: str, delta: int) -> None:
    """Move this process's level of ``metric`` (realtime connections open here)."""
    global _levels_dirty
    with _lock:
        _levels[(project_id, metric)] += delta
        _levels_dirty = True
    if _flusher is None:
        _flusher_start()


def bucket_of(moment: datetime) -> datetime:
    seconds = int(moment.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _flusher_start() -> None:
    """The flusher runs where the change-log sequencer does (server and worker
    processes); tests, which drive both by hand, call ``usage_flush`` themselves."""
    global _flusher
    interval = settings.BAAS_USAGE_FLUSH_SECONDS
    with _lock:
        if _flusher is not None or interval <= 0:
            return
        _flusher = threading.Thread(target=_flush_forever, args=(interval,), name="usage-flush", daemon=True)
        _flusher.start()


def _flush_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            close_old_connections()
            usage_flush()
            global _next_sample
            if time.monotonic() >= _next_sample:
                _next_sample = time.monotonic() + settings.BAAS_USAGE_SAMPLE_SECONDS
                usage_sample()
        except Exception:
            logger.exception("could not flush usage metrics")
        finally:
            connection.close()


def usage_flush(now: datetime | None = None) -> int:
    """Write the counts gathered since the last flush (and this process's levels);
    returns the number of rows touched. Counts that fail to write are put back."""
    global _levels_dirty
    with _lock:
        counts = dict(_counts)
        _counts.clear()
        # Levels are rewritten while any is up, so each bucket of a long-lived level has a row.
        levels = dict(_levels) if _levels_dirty or any(_levels.values()) else {}
        _levels_dirty = False
    if not counts and not levels:
        return 0
    bucket = bucket_of(now or datetime.now(timezone.utc))
    try:
        _counters_add(bucket, counts)
        _levels_set(bucket, _process_source(), levels)
    except Exception:
        with _lock:
            for key, amount in counts.items():
                _counts[key] += amount
            _levels_dirty = _levels_dirty or bool(levels)
        raise
    return len(counts) + len(levels)


def _counters_add(bucket: datetime, counts: dict[tuple[str, str], int]) -> None:
    if not counts:
        return
    from dashboard.models import UsageBucket

    table = connection.ops.quote_name(UsageBucket._meta.db_table)
    # One statement for the batch; the conflict target adds to the minute's row.
    sql = (
        f"INSERT INTO {table} (project_id, metric, bucket_start, source, value) VALUES (%s, %s, %s, '', %s) "
        f"ON CONFLICT (project_id, metric, bucket_start, source) DO UPDATE SET value = {table}.value + EXCLUDED.value"
    )
    stamp = connection.ops.adapt_datetimefield_value(bucket)
    rows = [(project_id, metric, stamp, amount) for (project_id, metric), amount in sorted(counts.items())]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _levels_set(bucket: datetime, source: str, levels: dict[tuple[str, str], int]) -> None:
    if not levels:
        return
    from dashboard.models import UsageBucket

    UsageBucket.objects.unscoped().bulk_create(
        [
            UsageBucket(project_id=project_id, metric=metric, bucket_start=bucket, source=source, value=max(value, 0))
            for (project_id, metric), value in sorted(levels.items())
        ],
        update_conflicts=True,
        unique_fields=["project_id", "metric", "bucket_start", "source"],
        update_fields=["value"],
    )


def usage_sample(now: datetime | None = None) -> int:
    """Record every project's documents and storage bytes as they stand now."""
    from projects.models import Project
    from storage.models import StorageUsage

    levels: dict[tuple[str, str], int] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT project_id, COUNT(*) FROM baas_document GROUP BY project_id")
        for project_id, count in cursor.fetchall():
            levels[(project_id, "documents")] = int(count)
    for project_id, stored in StorageUsage.objects.unscoped().values_list("project_id", "bytes"):
        levels[(project_id, "storage_bytes")] = int(stored)
    for project_id in Project.objects.values_list("id", flat=True):
        levels.setdefault((project_id, "documents"), 0)
        levels.setdefault((project_id, "storage_bytes"), 0)
    _levels_set(bucket_of(now or datetime.now(timezone.utc)), SAMPLER_SOURCE, levels)
    return len(levels)


def local_clear() -> None:
    """Forget unflushed counts and levels (tests)."""
    global _levels_dirty
    with _lock:
        _counts.clear()
        _levels.clear()
        _levels_dirty = False


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    metric: str
    label: str
    points: list[tuple[datetime, int]]

    @property
    def total(self) -> int:
        if self.metric in LEVELS:
            return self.points[-1][1] if self.points else 0
        return sum(value for _, value in self.points)


RANGES = {"1h": (timedelta(hours=1), 60), "24h": (timedelta(hours=24), 3600), "7d": (timedelta(days=7), 6 * 3600)}


def usage_series(*, project_id: str, range_name: str = "24h", now: datetime | None = None) -> list[Series]:
    """Each metric over the range in steps (sum of counters, last level per step)."""
    from dashboard.models import UsageBucket

    span, step = RANGES.get(range_name, RANGES["24h"])
    end = now or datetime.now(timezone.utc)
    first = datetime.fromtimestamp(int((end - span).timestamp()) // step * step + step, tz=timezone.utc)
    steps = [first + timedelta(seconds=step * i) for i in range(int(span.total_seconds()) // step)]
    rows = (
        UsageBucket.objects.for_project(project_id)
        .filter(bucket_start__gte=first, bucket_start__lte=end)
        .values_list("metric", "bucket_start", "source", "value")
        .order_by("bucket_start")
    )
    per_step: dict[str, dict[datetime, Any]] = {metric: {} for metric in METRICS}
    for metric, bucket_start, source, value in rows:
        if metric not in per_step:
            continue
        at = datetime.fromtimestamp(int(bucket_start.timestamp()) // step * step, tz=timezone.utc)
        if metric in COUNTERS:
            per_step[metric][at] = per_step[metric].get(at, 0) + value
        else:
            # Each source's latest bucket in the step counts; sources add up.
            by_source = per_step[metric].setdefault(at, {})
            if source not in by_source or bucket_start >= by_source[source][0]:
                by_source[source] = (bucket_start, value)
    series = []
    for metric in METRICS:
        values = per_step[metric]
        points = []
        last_level = 0
        for at in steps:
            if metric in COUNTERS:
                points.append((at, int(values.get(at, 0))))
            else:
                if at in values:
                    last_level = int(sum(value for _, value in values[at].values()))
                points.append((at, last_level))
        series.append(Series(metric, METRIC_LABELS[metric], points))
    return series
