"""Trigger objects: checking what a deploy declares, and matching events to functions.

Event triggers are fed by the project's change log (projects/documents/feeds.py): each
matching event becomes one execution per function, recorded in the transaction that moves
the feed's cursor, so an event is neither lost nor run twice by our own doing.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from baas.api.errors import InvalidArgument
from projects.documents.feeds import Event, feed_consumer

COLLECTION_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
DOCUMENT_EVENTS = {"create": "document.created", "update": "document.updated", "delete": "document.deleted"}
AUTH_EVENTS = {"user.created", "user.deleted"}
STORAGE_EVENTS = {"object.finalized", "object.deleted"}
TRIGGER_TYPES = ("http", "document", "auth", "storage", "schedule")


def _bad(index: int, message: str, field: str | None = None) -> InvalidArgument:
    details: dict[str, Any] = {"field": f"triggers[{index}]" + (f".{field}" if field else "")}
    return InvalidArgument(f"triggers[{index}]: {message}", details=details)


def _events(trigger: dict[str, Any], index: int, allowed: set[str] | dict[str, str]) -> list[str]:
    events = trigger.get("events")
    if events is None and isinstance(allowed, dict):
        return list(allowed)
    if events is None:
        return sorted(allowed)
    if not isinstance(events, list) or not events or not all(isinstance(e, str) and e in allowed for e in events):
        raise _bad(index, f"'events' is a non-empty list of {sorted(allowed)}.", "events")
    return list(dict.fromkeys(events))


def cron_check(cron: Any, timezone: Any, index: int = 0) -> tuple[str, str]:
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise _bad(index, "'cron' is not a valid cron expression (5 fields, or 6 with seconds last).", "cron")
    timezone = "UTC" if timezone is None else timezone
    if not isinstance(timezone, str):
        raise _bad(index, "'timezone' must be an IANA time zone name.", "timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(index, f"Unknown time zone {timezone!r}.", "timezone") from None
    return cron, timezone


def triggers_check(raw: Any) -> list[dict[str, Any]]:
    """The normalised trigger list, or InvalidArgument naming the bad one."""
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise InvalidArgument("'triggers' must be a list of 1 to 20 trigger objects.", details={"field": "triggers"})
    triggers: list[dict[str, Any]] = []
    for index, trigger in enumerate(raw):
        if not isinstance(trigger, dict):
            raise _bad(index, "a trigger is an object.")
        kind = trigger.get("type")
        if kind == "http":
            triggers.append({"type": "http"})
        elif kind == "document":
            collection = trigger.get("collection")
            if not isinstance(collection, str) or not COLLECTION_PATTERN.match(collection):
                raise _bad(index, "'collection' must name a collection.", "collection")
            triggers.append({"type": "document", "collection": collection, "events": _events(trigger, index, DOCUMENT_EVENTS)})
        elif kind == "auth":
            triggers.append({"type": "auth", "events": _events(trigger, index, AUTH_EVENTS)})
        elif kind == "storage":
            bucket = trigger.get("bucket")
            if not isinstance(bucket, str) or not COLLECTION_PATTERN.match(bucket):
                raise _bad(index, "'bucket' must name a bucket.", "bucket")
            triggers.append({"type": "storage", "bucket": bucket, "events": _events(trigger, index, STORAGE_EVENTS)})
        elif kind == "schedule":
            cron, timezone = cron_check(trigger.get("cron"), trigger.get("timezone"), index)
            triggers.append({"type": "schedule", "cron": cron, "timezone": timezone})
        else:
            raise _bad(index, f"'type' is one of {list(TRIGGER_TYPES)}.", "type")
    return triggers


def event_triggers(triggers: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """(source, collection or bucket, event types) for the triggers the event feed serves."""
    rows = []
    for trigger in triggers:
        if trigger["type"] == "document":
            rows.append(("document", trigger["collection"], [DOCUMENT_EVENTS[e] for e in trigger["events"]]))
        elif trigger["type"] == "auth":
            rows.append(("auth", "", list(trigger["events"])))
        elif trigger["type"] == "storage":
            rows.append(("storage", trigger["bucket"], list(trigger["events"])))
    return rows


def is_callable(triggers: list[dict[str, Any]]) -> bool:
    return any(trigger["type"] == "http" for trigger in triggers)


def event_matches(*, source: str, collection: str, event_types: list[str], event: Event) -> bool:
    if event.source != source or event.type not in event_types:
        return False
    return source == "auth" or event.collection == collection


# --- the event-feed consumer -----------------------------------------------------------------


def _interested(project_id: str) -> bool:
    from functions.models import FunctionTrigger

    return FunctionTrigger.objects.for_project(project_id).exists()


@feed_consumer("functions", interested=_interested)
def functions_take(project_id: str, events: list[Event]) -> None:
    from functions.services import executions_create_for_events

    executions_create_for_events(project_id=project_id, events=events)
