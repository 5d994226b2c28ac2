"""Declared collection indexes as real database indexes.

On PostgreSQL each declared index becomes a partial expression index over the
collection's rows: ``(data #> '{owner}'), (data #> '{score}') DESC, doc_id DESC``
``WHERE project_id = … AND collection = …``, the same expressions the query compiler
emits, so the planner uses it for the matching filter and order. They are built and
dropped CONCURRENTLY (writes continue) when called outside a transaction.

SQLite (embedded mode) keeps to its (project, collection, id) index: declared indexes are
recorded but not built there.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import connection

from projects.documents.models import Collection
from projects.documents.sql import Compiler

logger = logging.getLogger("baas.indexes")


def index_name(project_id: str, collection: str, fields: list[str]) -> str:
    digest = hashlib.sha256(f"{project_id}\0{collection}\0{','.join(fields)}".encode()).hexdigest()[:24]
    return f"baas_docidx_{digest}"


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def index_ddl(project_id: str, collection: str, fields: list[str], *, concurrently: bool) -> str:
    terms = []
    for entry in fields:
        descending = entry.startswith("-")
        path = tuple((entry[1:] if descending else entry).split("."))
        terms.append(f"{Compiler.pg_field(path, column='data')}{' DESC' if descending else ''}")
    last_descending = fields[-1].startswith("-")
    terms.append(f"doc_id{' DESC' if last_descending else ''}")
    return (
        f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {index_name(project_id, collection, fields)} "
        f"ON baas_document ({', '.join(terms)}) "
        f"WHERE project_id = {_quote_literal(project_id)} AND collection = {_quote_literal(collection)}"
    )


def indexes_sync(*, project_id: str, collection: str) -> dict[str, list[str]]:
    """Make the built indexes match the declared ones; returns {name: fields} built."""
    if connection.vendor != "postgresql":
        return {}
    row = Collection.objects.for_project(project_id).filter(name=collection).first()
    declared = {index_name(project_id, collection, fields): list(fields) for fields in (row.indexes if row else [])}
    built: dict[str, list[str]] = dict(row.built_indexes or {}) if row else {}
    concurrently = not connection.in_atomic_block
    with connection.cursor() as cursor:
        if not concurrently:
            # Inside a transaction, deferred foreign-key checks must fire before DDL.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, fields in declared.items():
            if name not in built:
                cursor.execute(_drop_invalid_sql(name))
                cursor.execute(index_ddl(project_id, collection, fields, concurrently=concurrently))
                built[name] = fields
        for name in [n for n in built if n not in declared]:
            cursor.execute(f"DROP INDEX {'CONCURRENTLY ' if concurrently else ''}IF EXISTS {name}")
            del built[name]
    if row is not None:
        Collection.objects.for_project(project_id).filter(pk=row.pk).update(built_indexes=built)
    return built


def _drop_invalid_sql(name: str) -> str:
    """A CONCURRENTLY build that was interrupted leaves an invalid index: drop it first."""
    return (
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        f"WHERE c.relname = {_quote_literal(name)} AND NOT i.indisvalid) THEN EXECUTE 'DROP INDEX {name}'; END IF; END $$"
    )


def indexes_drop_all(*, project_id: str, collection: str) -> None:
    if connection.vendor != "postgresql":
        return
    row = Collection.objects.for_project(project_id).filter(name=collection).first()
    if row is None:
        return
    with connection.cursor() as cursor:
        if connection.in_atomic_block:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in row.built_indexes or {}:
            cursor.execute(f"DROP INDEX {'' if connection.in_atomic_block else 'CONCURRENTLY '}IF EXISTS {name}")

