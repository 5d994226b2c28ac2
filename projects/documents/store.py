"""Row-level SQL for documents and change-log entries, for PostgreSQL and SQLite.

Plain SQL on Django's connection: the ORM's per-query overhead is most of a write's cost
on this path. Callers hold the transaction (services.py).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from django.db import connection
from django.utils.dateparse import parse_datetime

from baas.api.formats import rfc3339
from projects.documents.query import DocumentView
from projects.documents.sql import sqlite_time

# PostgreSQL formats the timestamps itself: loading timestamptz into datetimes and
# formatting them back costs more Python time than the rest of a query's rows.
_PG_TIME = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
PG_COLUMNS = f"d.id, d.doc_id, d.data, d.version, {_PG_TIME.format('d.create_time')}, {_PG_TIME.format('d.update_time')}"
SQLITE_COLUMNS = "d.id, d.doc_id, d.data, d.version, d.create_time, d.update_time"


def columns() -> str:
    return PG_COLUMNS if is_postgres() else SQLITE_COLUMNS


class StoredDocument:
    """A document as stored; times are RFC 3339 strings, as the API shows them.

    Rows read from the database keep their JSON text and parse it only if asked:
    responses splice the text in as it is.
    """

    __slots__ = ("row_id", "doc_id", "version", "create_time", "update_time", "_data", "_text")

    def __init__(
        self,
        row_id: int,
        doc_id: str,
        data: dict[str, Any] | None,
        version: int,
        create_time: str,
        update_time: str,
        *,
        text: str | bytes | None = None,
    ) -> None:
        self.row_id, self.doc_id, self.version = row_id, doc_id, version
        self.create_time, self.update_time = create_time, update_time
        self._data, self._text = data, text

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self._text) if self._text is not None else {}
        return self._data

    def data_json(self) -> bytes:
        if self._text is not None:
            return self._text.encode() if isinstance(self._text, str) else self._text
        return orjson.dumps(self._data)

    def view(self) -> DocumentView:
        return DocumentView(self.doc_id, self.data, parse_rfc3339(self.create_time), parse_rfc3339(self.update_time))


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def api_time(value: Any) -> str:
    """SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); the API shows RFC 3339."""
    if isinstance(value, datetime):
        return rfc3339(value) or ""
    text = str(value)
    if text.endswith("Z"):
        return text
    if "." not in text:
        text += ".000000"
    return f"{text[:10]}T{text[11:]}Z"


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = parse_datetime(value)
    assert parsed is not None, value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def as_json(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        return value
    return orjson.loads(value)


def from_row(row: tuple[Any, ...]) -> StoredDocument:
    data, text = (row[2], None) if isinstance(row[2], dict) else (None, row[2])
    return StoredDocument(row[0], row[1], data, row[3], api_time(row[4]), api_time(row[5]), text=text)


def db_time(value: datetime) -> Any:
    return value if is_postgres() else sqlite_time(value)


def _jsonb() -> str:
    return "%s::jsonb" if is_postgres() else "%s"


def document_fetch(*, project_id: str, collection: str, doc_id: str, lock: bool = False) -> StoredDocument | None:
    """``lock`` takes the row lock on PostgreSQL; SQLite's IMMEDIATE transaction already
    holds the database write lock."""
    suffix = " FOR UPDATE" if lock and is_postgres() else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns()} FROM baas_document d WHERE d.project_id = %s AND d.collection = %s AND d.doc_id = %s{suffix}",
            [project_id, collection, doc_id],
        )
        row = cursor.fetchone()
    return from_row(row) if row else None


def document_insert(*, project_id: str, collection: str, doc_id: str, data_json: bytes, now: datetime) -> int | None:
    """Insert version 1; None when the id is taken."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
            f"VALUES (%s, %s, %s, {_jsonb()}, 1, %s, %s) "
            "ON CONFLICT (project_id, collection, doc_id) DO NOTHING RETURNING id",
            [project_id, collection, doc_id, data_json.decode(), db_time(now), db_time(now)],
        )
        row = cursor.fetchone()
    return row[0] if row else None


INSERT_LOGGED_SQL = (
    "WITH doc AS (INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
    "VALUES (%s, %s, %s, %s::jsonb, 1, %s, %s) ON CONFLICT (project_id, collection, doc_id) DO NOTHING RETURNING data), "
    "change AS (INSERT INTO baas_change (project_id, collection, doc_id, op, version, data, before, time) "
    "SELECT %s, %s, %s, 'create', 1, doc.data, NULL, %s FROM doc RETURNING id, project_id) "
    "INSERT INTO baas_change_pending (change_id, project_id) SELECT id, project_id FROM change RETURNING change_id"
)


def insert_logged_params(project_id: str, collection: str, doc_id: str, data_json: bytes, now: datetime) -> list[Any]:
    return [project_id, collection, doc_id, data_json.decode(), now, now, project_id, collection, doc_id, now]


def document_insert_logged(*, project_id: str, collection: str, doc_id: str, data_json: bytes, now: datetime) -> bool:
    """PostgreSQL, outside a transaction: insert version 1 and its change-log entry in one
    statement (one round trip, atomic on its own). False when the id is taken."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_LOGGED_SQL, insert_logged_params(project_id, collection, doc_id, data_json, now))
        return cursor.fetchone() is not None


def document_replace(*, row_id: int, data_json: bytes, version: int, now: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE baas_document SET data = {_jsonb()}, version = %s, update_time = %s WHERE id = %s",
            [data_json.decode(), version, db_time(now), row_id],
        )


def document_remove(*, row_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM baas_document WHERE id = %s", [row_id])


def change_append(
    *,
    project_id: str,
    collection: str,
    doc_id: str,
    op: str,
    version: int,
    data_json: bytes | None,
    before_json: bytes | None,
    now: datetime,
) -> None:
    """Same transaction as the write: the entry and its place in the outbox; the
    sequencer numbers it after commit."""
    params = [
        project_id,
        collection,
        doc_id,
        op,
        version,
        data_json.decode() if data_json is not None else None,
        before_json.decode() if before_json is not None else None,
        db_time(now),
    ]
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                "WITH change AS (INSERT INTO baas_change (project_id, collection, doc_id, op, version, data, before, time) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s) RETURNING id, project_id) "
                "INSERT INTO baas_change_pending (change_id, project_id) SELECT id, project_id FROM change",
                params,
            )
        else:
            cursor.execute(
                "INSERT INTO baas_change (project_id, collection, doc_id, op, version, data, before, time) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                params,
            )
            change_id = cursor.fetchone()[0]
            cursor.execute("INSERT INTO baas_change_pending (change_id, project_id) VALUES (%s, %s)", [change_id, project_id])
