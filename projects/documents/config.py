"""Collection config (schema, rules, indexes): validated writes and cached reads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction

from baas.api.context import RequestContext
from baas.api.errors import InvalidArgument, NotFound, PermissionDenied
from baas.api.formats import rfc3339
from projects.documents import indexes as doc_indexes
from projects.documents.models import Collection
from projects.documents.validation import check_collection_name, check_schema, parse_field_path
from projects.rules.engine import rule_compile

RULE_OPERATIONS = ("get", "list", "create", "update", "delete", "read", "write")
MAX_INDEXES, MAX_INDEX_FIELDS = 32, 8
LOCAL_TTL, SHARED_TTL = 2.0, 300

_local: dict[tuple[str, str], tuple[float, CollectionConfig | None]] = {}


@dataclass(frozen=True, slots=True)
class CollectionConfig:
    project_id: str
    name: str
    schema: dict[str, Any] | None = None
    rules: dict[str, str] = field(default_factory=dict)
    indexes: tuple[tuple[str, ...], ...] = ()
    version: int = 0

    @property
    def cache_key(self) -> tuple[str, str, int]:
        return (self.project_id, self.name, self.version)


def _shared_key(project_id: str, name: str) -> str:
    return f"coll:{project_id}:{name}"


def _from_model(row: Collection) -> CollectionConfig:
    return CollectionConfig(
        project_id=row.project_id,
        name=row.name,
        schema=row.schema,
        rules=dict(row.rules or {}),
        indexes=tuple(tuple(index) for index in row.indexes or []),
        version=row.config_version,
    )


def collection_config(*, project_id: str, name: str) -> CollectionConfig:
    """The config of a collection; a default (no schema, no rules) when none was set."""
    key = (project_id, name)
    entry = _local.get(key)
    if entry is not None and entry[0] > time.monotonic():
        config = entry[1]
    else:
        config = cache.get(_shared_key(project_id, name))
        if config is None:
            row = Collection.objects.for_project(project_id).filter(name=name).first()
            config = _from_model(row) if row else CollectionConfig(project_id=project_id, name=name)
            cache.set(_shared_key(project_id, name), config, SHARED_TTL)
        if len(_local) > 10_000:
            _local.clear()
        _local[key] = (time.monotonic() + LOCAL_TTL, config)
    return config if config is not None else CollectionConfig(project_id=project_id, name=name)


def collection_config_peek(*, project_id: str, name: str) -> CollectionConfig | None:
    """The process cache only (no I/O, safe on an event loop); None on a miss."""
    entry = _local.get((project_id, name))
    if entry is None or entry[0] <= time.monotonic():
        return None
    return entry[1] if entry[1] is not None else CollectionConfig(project_id=project_id, name=name)


def collection_forget(*, project_id: str, name: str) -> None:
    cache.delete(_shared_key(project_id, name))
    _local.pop((project_id, name), None)


def local_clear() -> None:
    _local.clear()


_known: set[tuple[str, str]] = set()


def collection_ensure(*, project_id: str, name: str) -> None:
    """Record a collection on its first write (so listing needs no scan of documents)."""
    if (project_id, name) in _known:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO baas_collection (project_id, name, schema, rules, indexes, built_indexes, config_version, "
            "created_at, updated_at) VALUES (%s, %s, NULL, %s, %s, %s, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
            "ON CONFLICT (project_id, name) DO NOTHING",
            [project_id, name, "{}", "[]", "{}"],
        )
    transaction.on_commit(lambda: _known.add((project_id, name)))


def collection_known(*, project_id: str, name: str) -> bool:
    return (project_id, name) in _known


def forget_known(*, project_id: str, name: str) -> None:
    _known.discard((project_id, name))


# --- validation of config input ---------------------------------------------------------------


def parse_rules(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidArgument("'rules' maps operations to expressions.", details={"field": "rules"})
    for operation, expression in raw.items():
        if operation not in RULE_OPERATIONS:
            raise InvalidArgument(
                f"Unknown rule operation {operation!r}; expected {', '.join(RULE_OPERATIONS)}.",
                details={"field": f"rules.{operation}"},
            )
        rule_compile(expression, field=f"rules.{operation}")
    return dict(raw)


def parse_indexes(raw: Any) -> list[list[str]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_INDEXES:
        raise InvalidArgument(f"'indexes' is an array of at most {MAX_INDEXES} field lists.", details={"field": "indexes"})
    result: list[list[str]] = []
    for position, index in enumerate(raw):
        where = f"indexes[{position}]"
        if not isinstance(index, list) or not 1 <= len(index) <= MAX_INDEX_FIELDS:
            raise InvalidArgument(f"An index lists 1 to {MAX_INDEX_FIELDS} fields.", details={"field": where})
        for entry in index:
            if not isinstance(entry, str):
                raise InvalidArgument("Index fields are strings ('-field' for descending).", details={"field": where})
            parse_field_path(entry[1:] if entry.startswith("-") else entry, field=where)
        if index not in result:
            result.append(list(index))
    return result


# --- services ---------------------------------------------------------------------------------


def _require_admin(ctx: RequestContext) -> None:
    if not ctx.is_privileged:
        raise PermissionDenied("Collection config needs a secret key.")


def collection_config_set(
    *, ctx: RequestContext, name: str, schema: Any, rules: Any, indexes: Any
) -> CollectionConfig:
    """Replace a collection's config, then build and drop database indexes to match.

    Indexes are built outside the config transaction (CONCURRENTLY on PostgreSQL, so
    writes go on while they build).
    """
    _require_admin(ctx)
    check_collection_name(name)
    check_schema(schema)
    parsed_rules = parse_rules(rules)
    parsed_indexes = parse_indexes(indexes)
    with transaction.atomic():
        row = Collection.objects.for_project(ctx.project_id).select_for_update().filter(name=name).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Collection(project_id=ctx.project_id, name=name)
                    row.save()
            except IntegrityError:
                row = Collection.objects.for_project(ctx.project_id).select_for_update().get(name=name)
        else:
            row.config_version += 1
        row.schema, row.rules, row.indexes = schema, parsed_rules, parsed_indexes
        row.save()
        transaction.on_commit(lambda: collection_forget(project_id=ctx.project_id, name=name))
    collection_forget(project_id=ctx.project_id, name=name)
    doc_indexes.indexes_sync(project_id=ctx.project_id, collection=name)
    return collection_config(project_id=ctx.project_id, name=name)


def collection_get(*, ctx: RequestContext, name: str) -> Collection:
    _require_admin(ctx)
    check_collection_name(name)
    row = Collection.objects.for_project(ctx.project_id).filter(name=name).first()
    if row is None:
        raise NotFound(f"Collection {name!r} not found.")
    return row


def collections_list(*, ctx: RequestContext) -> list[Collection]:
    _require_admin(ctx)
    return list(Collection.objects.for_project(ctx.project_id).order_by("name"))


def list_rule_mode(rules: dict[str, str]) -> str | None:
    """"sql" or "evaluated" for the list rule (None without one), so users see the cost."""
    source = rules.get("list") or rules.get("read")
    if not source:
        return None
    try:
        return rule_compile(source).list_mode
    except InvalidArgument:
        return None


def collection_json(row: Collection) -> dict[str, Any]:
    return {
        "name": row.name,
        "schema": row.schema,
        "rules": row.rules or {},
        "listRuleMode": list_rule_mode(row.rules or {}),
        "indexes": row.indexes or [],
        "version": row.config_version,
        "createTime": rfc3339(row.created_at),
        "updateTime": rfc3339(row.updated_at),
    }
