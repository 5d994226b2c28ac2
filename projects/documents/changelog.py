"""The per-project change log: sequencing, reading and retention.

Writers append an entry, and a tiny row in the ``baas_change_pending`` outbox, inside
their own transaction. The sequencer then numbers committed entries, one round at a time
under a lock, from a per-project counter, writing (project, seq, change) rows to
``baas_change_seq`` and emptying the outbox; the entry itself is written once. That gives every project a dense ``seq`` (1, 2, 3, …) in commit order — a
reader that has seen ``seq`` N never later finds an entry below N — without making
concurrent writers queue on a counter row through their commits (which caps a project
near one write per disk flush).

A sequencer thread runs in every server and worker process: a committed write wakes the
one in its own process, and each also polls, so entries of a process that died before
numbering them are picked up by the others.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.dispatch import Signal

from baas.background import BackgroundLoop
from projects.documents.store import as_datetime, as_json, db_time, is_postgres

logger = logging.getLogger("baas.changelog")

# Sent after each sequencing round with assigned={project_id: (first_seq, last_seq)} and
# entries={project_id: [ChangeEntry, ...]} when ``entries_wanted`` (else None).
changes_sequenced = Signal()

SEQUENCER_LOCK_ID = 0x6261_6173_0001  # pg_advisory_xact_lock key ("baas" 1)
ROUND_SIZE = 5000


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    seq: int
    collection: str
    doc_id: str
    op: str
    version: int
    data: dict[str, Any] | None
    before: dict[str, Any] | None
    time: datetime


# PostgreSQL: one round is one simple-protocol message (lock, number, bump counters) that
# the server runs as one implicit transaction: a single network round trip.
_PG_ROUND = """
SELECT pg_advisory_xact_lock({lock});
WITH taken AS (
    DELETE FROM baas_change_pending WHERE change_id IN (
        SELECT change_id FROM baas_change_pending ORDER BY change_id LIMIT {limit}
    ) RETURNING change_id, project_id
), numbered AS (
    SELECT change_id, project_id,
           row_number() OVER (PARTITION BY project_id ORDER BY change_id) AS rn,
           count(*) OVER (PARTITION BY project_id) AS n
    FROM taken
), counts AS (
    SELECT DISTINCT project_id, n FROM numbered
), bumped AS (
    INSERT INTO baas_project_sequence AS s (project_id, last_seq)
    SELECT project_id, n FROM counts
    ON CONFLICT (project_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING project_id, last_seq
), numbered_rows AS (
    INSERT INTO baas_change_seq (project_id, seq, change_id)
    SELECT nb.project_id, b.last_seq - nb.n + nb.rn, nb.change_id
    FROM numbered AS nb JOIN bumped AS b USING (project_id)
    RETURNING project_id, seq, change_id
)
{final}
"""
_PG_RANGES = "SELECT project_id, min(seq), max(seq) FROM numbered_rows GROUP BY project_id;"
# The same round, also returning what it numbered, for a process that will deliver it.
_PG_ENTRIES = (
    "SELECT n.project_id, n.seq, c.collection, c.doc_id, c.op, c.version, c.data, c.before, c.time "
    "FROM numbered_rows AS n JOIN baas_change AS c ON c.id = n.change_id ORDER BY n.project_id, n.seq;"
)

# Set by a process that delivers changes itself (the realtime hub): rounds run there then
# return the entries they numbered, saving its readers a query.
entries_wanted = False


def changelog_sequence_round(*, limit: int = ROUND_SIZE) -> dict[str, tuple[int, int]]:
    """Number up to ``limit`` committed entries; return the seq range given per project."""
    return changelog_sequence_round_entries(limit=limit, with_entries=False)[0]


def changelog_sequence_round_entries(
    *, limit: int = ROUND_SIZE, with_entries: bool
) -> tuple[dict[str, tuple[int, int]], dict[str, list[ChangeEntry]] | None]:
    if is_postgres() and not connection.in_atomic_block:
        return _sequence_round_postgres(limit, with_entries)
    return _sequence_round_portable(limit), None


def _sequence_round_postgres(limit: int, with_entries: bool) -> tuple[dict[str, tuple[int, int]], dict[str, list[ChangeEntry]] | None]:
    import psycopg

    connection.ensure_connection()
    final = _PG_ENTRIES if with_entries else _PG_RANGES
    with psycopg.ClientCursor(connection.connection) as cursor:
        cursor.execute(_PG_ROUND.format(lock=SEQUENCER_LOCK_ID, limit=int(limit), final=final).encode())
        cursor.nextset()
        rows = cursor.fetchall()
    if not with_entries:
        return {row[0]: (int(row[1]), int(row[2])) for row in rows}, None
    entries: dict[str, list[ChangeEntry]] = {}
    for row in rows:
        entries.setdefault(row[0], []).append(
            ChangeEntry(int(row[1]), row[2], row[3], row[4], row[5], as_json(row[6]), as_json(row[7]), as_datetime(row[8]))
        )
    return {project: (items[0].seq, items[-1].seq) for project, items in entries.items()}, entries


def _sequence_round_portable(limit: int) -> dict[str, tuple[int, int]]:
    assigned: dict[str, tuple[int, int]] = {}
    with transaction.atomic():
        with connection.cursor() as cursor:
            if is_postgres():
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK_ID])
            cursor.execute(
                "SELECT change_id, project_id FROM baas_change_pending ORDER BY change_id LIMIT %s", [limit]
            )
            pending = cursor.fetchall()
            if not pending:
                return assigned
            by_project: dict[str, list[int]] = {}
            for change_id, project_id in pending:
                by_project.setdefault(project_id, []).append(change_id)
            rows: list[tuple[str, int, int]] = []
            for project_id, ids in by_project.items():
                cursor.execute(
                    "INSERT INTO baas_project_sequence (project_id, last_seq) VALUES (%s, %s) "
                    "ON CONFLICT (project_id) DO UPDATE SET last_seq = baas_project_sequence.last_seq + %s "
                    "RETURNING last_seq",
                    [project_id, len(ids), len(ids)],
                )
                last = cursor.fetchone()[0]
                first = last - len(ids) + 1
                rows.extend((project_id, first + offset, change_id) for offset, change_id in enumerate(ids))
                assigned[project_id] = (first, last)
            cursor.executemany("INSERT INTO baas_change_seq (project_id, seq, change_id) VALUES (%s, %s, %s)", rows)
            cursor.executemany("DELETE FROM baas_change_pending WHERE change_id = %s", [(row[2],) for row in rows])
    return assigned


def changelog_sequence() -> dict[str, tuple[int, int]]:
    """Run rounds until nothing is pending; notify listeners after each commit."""
    total: dict[str, tuple[int, int]] = {}
    while True:
        assigned, entries = changelog_sequence_round_entries(with_entries=entries_wanted)
        if not assigned:
            return total
        changes_sequenced.send(sender=None, assigned=assigned, entries=entries)
        for project_id, (first, last) in assigned.items():
            total[project_id] = (total.get(project_id, (first, last))[0], last)


def changes_after(*, project_id: str, seq: int, limit: int = 1000) -> list[ChangeEntry]:
    """Entries after ``seq``, in order: a range scan of the (project_id, seq) index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.seq, c.collection, c.doc_id, c.op, c.version, c.data, c.before, c.time "
            "FROM baas_change_seq s JOIN baas_change c ON c.id = s.change_id "
            "WHERE s.project_id = %s AND s.seq > %s ORDER BY s.seq LIMIT %s",
            [project_id, seq, limit],
        )
        rows = cursor.fetchall()
    return [
        ChangeEntry(row[0], row[1], row[2], row[3], row[4], as_json(row[5]), as_json(row[6]), as_datetime(row[7]))
        for row in rows
    ]


def changelog_head(*, project_id: str) -> int:
    """The last seq given in the project (0 before its first change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_seq FROM baas_project_sequence WHERE project_id = %s", [project_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def changelog_oldest(*, project_id: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(seq) FROM baas_change_seq WHERE project_id = %s", [project_id])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def changelog_prune(*, now: datetime | None = None, batch: int = 10_000) -> int:
    """Drop entries past retention, keeping at least the newest N of every project and
    every entry an event-feed consumer has yet to take."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=settings.BAAS_CHANGELOG_RETENTION_SECONDS)
    removed = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.change_id FROM baas_change_seq s "
                "JOIN baas_project_sequence p ON p.project_id = s.project_id "
                "JOIN baas_change c ON c.id = s.change_id "
                "WHERE c.time < %s AND s.seq <= p.last_seq - %s "
                # An entry an event-feed consumer has not taken yet stays: at least once.
                "AND NOT EXISTS (SELECT 1 FROM baas_feed_cursor f "
                "WHERE f.project_id = s.project_id AND f.last_seq < s.seq) LIMIT %s",
                [db_time(cutoff), settings.BAAS_CHANGELOG_MIN_ENTRIES, batch],
            )
            ids = [(row[0],) for row in cursor.fetchall()]
            cursor.executemany("DELETE FROM baas_change_seq WHERE change_id = %s", ids)
            cursor.executemany("DELETE FROM baas_change WHERE id = %s", ids)
        removed += len(ids)
        if len(ids) < batch:
            return removed


# --- the sequencer thread ------------------------------------------------------------------


class Sequencer(BackgroundLoop):
    POLL_SECONDS = 0.25
    THREAD_NAME = "baas-sequencer"
    logger = logger
    # At most one round per interval: a wake after a quiet spell runs at once (low
    # latency), while under load each round numbers a batch. Every round is a commit
    # (a WAL flush) under a lock; one per write halved the write rate.
    MIN_ROUND_INTERVAL = float(os.environ.get("BAAS_CHANGELOG_ROUND_INTERVAL", "0.01"))
    PRUNE_EVERY_SECONDS = 600.0

    def __init__(self) -> None:
        super().__init__()
        self._last_round = 0.0
        self._last_prune = time.monotonic()

    def pace(self, woken: bool) -> None:
        if woken:
            delay = self._last_round + self.MIN_ROUND_INTERVAL - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self._last_round = time.monotonic()

    def round(self) -> None:
        changelog_sequence()
        if time.monotonic() - self._last_prune > self.PRUNE_EVERY_SECONDS:
            self._last_prune = time.monotonic()
            changelog_prune()


sequencer = Sequencer()


def sequencer_start() -> None:
    """Start this process's sequencer and, beside it, its event-feed pump."""
    if settings.BAAS_CHANGELOG_SEQUENCER:
        from projects.documents.feeds import pump_start

        sequencer.start()
        pump_start()


def after_write_committed() -> None:
    """Called on commit of every write: number it promptly."""
    if sequencer.running:
        sequencer.wake()
