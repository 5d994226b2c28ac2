"""What one subscription sees: parsing a subscribe message, and turning each change-log
entry into an ``added``/``modified``/``removed`` event (or nothing) for one subscriber.

Pure functions of the entry, the subscription and the subscriber's auth: no I/O, so the
hub can run them on the event loop for every subscriber of every change. Membership is
decided from the entry alone: the document as it was (``before``) and as it is (``data``)
are each tested against the filter and the rule, so a document that stops matching, or
stops being readable, is ``removed`` and one that starts is ``added``.
"""

from __future__ import annotations

import re
import time

import orjson
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from baas.api.errors import InvalidArgument
from baas.api.formats import rfc3339
from projects.documents.access import compiled_rule
from projects.documents.changelog import ChangeEntry
from projects.documents.config import CollectionConfig
from projects.documents.query import Compare, DocumentView, Filter, Junction, matches, parse_filter
from projects.documents.validation import check_collection_name, check_doc_id
from projects.rules.engine import activation
from realtime.frames import Prepared

SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(slots=True)
class Subscription:
    sub_id: str
    collection: str
    doc_id: str | None
    where: Filter | None
    snapshot: bool
    resume_from: int | None
    position: int = 0  # last seq processed (delivered or filtered out)
    sent_position: int = 0  # what a resume should start from, as far as the client got
    unsent: int = 0  # messages queued for the socket, not yet written
    live: bool = False
    active: bool = True
    catching_up: bool = False
    id_json: str = ""

    def __post_init__(self) -> None:
        self.id_json = orjson.dumps(self.sub_id).decode()

    @property
    def operation(self) -> str:
        return "get" if self.doc_id is not None else "list"


def parse_subscribe(message: dict[str, Any]) -> Subscription:
    sub_id = message.get("id")
    if not isinstance(sub_id, str) or not SUBSCRIPTION_ID.match(sub_id):
        raise InvalidArgument("'id' is 1-64 characters of letters, digits and _ . : -", details={"field": "id"})
    unknown = set(message) - {"type", "id", "collection", "docId", "where", "snapshot", "resumeFrom"}
    if unknown:
        raise InvalidArgument(f"Unknown subscribe fields: {', '.join(sorted(unknown))}.")
    collection = message.get("collection")
    check_collection_name(collection)
    doc_id = message.get("docId")
    if doc_id is not None:
        check_doc_id(doc_id)
    where = None
    if message.get("where") is not None:
        if doc_id is not None:
            raise InvalidArgument("Subscribe to a 'docId' or a 'where', not both.", details={"field": "where"})
        where = parse_filter(message["where"])
        _check_realtime_filter(where)
    snapshot = message.get("snapshot", False)
    if not isinstance(snapshot, bool):
        raise InvalidArgument("'snapshot' is a boolean.", details={"field": "snapshot"})
    resume_from = message.get("resumeFrom")
    if resume_from is not None and (isinstance(resume_from, bool) or not isinstance(resume_from, int) or resume_from < 0):
        raise InvalidArgument("'resumeFrom' is the last seq received (an integer >= 0).", details={"field": "resumeFrom"})
    return Subscription(sub_id, collection, doc_id, where, snapshot, resume_from)


def _check_realtime_filter(node: Filter) -> None:
    """Change entries carry no creation time: filters may use data fields and $id only."""
    if isinstance(node, Junction):
        for part in node.parts:
            _check_realtime_filter(part)
    elif isinstance(node, Compare) and node.is_metadata and node.path[0] != "$id":
        raise InvalidArgument(
            f"Realtime filters cannot use {node.path[0]}; filter on data fields or $id.", details={"field": "where"}
        )


# --- per-event decisions -------------------------------------------------------------------------


def live_auth(auth: dict[str, Any] | None) -> dict[str, Any] | None:
    """The subscriber's auth, or None once its token has expired (until it re-authenticates)."""
    if auth is None:
        return None
    expires = auth.get("token", {}).get("exp")
    if isinstance(expires, int | float) and expires < time.time():
        return None
    return auth


class EntryView:
    """One change-log entry as every subscriber of a process sees it: the parts that do not
    depend on the subscriber (the document's JSON, rule decisions per user) are computed
    once, not once per subscriber."""

    __slots__ = ("entry", "_docs", "_decisions", "_events")

    def __init__(self, entry: ChangeEntry) -> None:
        self.entry = entry
        self._docs: dict[bool, str] = {}
        self._decisions: dict[tuple[Any, ...], bool] = {}
        self._events: dict[tuple[str, str, bool], Prepared] = {}

    def event(self, id_json: str, kind: str, after: bool) -> Prepared:
        """The change message for one subscription id: one text (and frame) for all its subscribers."""
        key = (id_json, kind, after)
        prepared = self._events.get(key)
        if prepared is None:
            prepared = self._events[key] = Prepared(
                f'{{"type":"change","sub":{id_json},"change":"{kind}","doc":{self.doc_json(after)},"seq":{self.entry.seq}}}'
            )
        return prepared

    def doc_json(self, present: bool) -> str:
        text = self._docs.get(present)
        if text is None:
            entry = self.entry
            if present:
                doc = {"id": entry.doc_id, "data": entry.data, "version": entry.version, "updateTime": rfc3339(entry.time)}
            else:
                doc = {"id": entry.doc_id, "version": entry.version}
            text = self._docs[present] = orjson.dumps(doc).decode()
        return text

    def allowed(self, config: CollectionConfig, operation: str, auth: dict[str, Any] | None, auth_key: str, after: bool) -> bool:
        key = (config.project_id, config.name, config.version, operation, auth_key, after)
        decision = self._decisions.get(key)
        if decision is None:
            rule = compiled_rule(config, operation)
            data = self.entry.data if after else self.entry.before
            resource = {"id": self.entry.doc_id, "data": data}
            decision = rule is not None and rule.allows(
                activation(project_id=config.project_id, auth=auth, resource=resource, request={})
            )
            self._decisions[key] = decision
        return decision


def auth_key(auth: dict[str, Any] | None) -> str:
    """What rule decisions may be shared on: the whole auth value."""
    return "" if auth is None else orjson.dumps(auth, option=orjson.OPT_SORT_KEYS).decode()


def _visible(
    sub: Subscription, view: EntryView, config: CollectionConfig, privileged: bool, auth: Any, key: str, after: bool
) -> bool:
    entry = view.entry
    data = entry.data if after else entry.before
    if data is None:
        return False
    if sub.where is not None and not matches(sub.where, DocumentView(entry.doc_id, data, _EPOCH, _EPOCH)):
        return False
    return privileged or view.allowed(config, sub.operation, auth, key, after)


def event_for(
    sub: Subscription,
    view: EntryView,
    *,
    config: CollectionConfig,
    privileged: bool,
    auth: dict[str, Any] | None,
    key: str,
) -> Prepared | None:
    """The ``change`` message this entry means for this subscriber, or None."""
    entry = view.entry
    if entry.collection != sub.collection or (sub.doc_id is not None and entry.doc_id != sub.doc_id):
        return None
    if auth is not None and live_auth(auth) is None:
        auth, key = None, ""
    before = _visible(sub, view, config, privileged, auth, key, after=False)
    after = _visible(sub, view, config, privileged, auth, key, after=True)
    if after:
        kind = "modified" if before else "added"
    elif before:
        kind = "removed"
    else:
        return None
    return view.event(sub.id_json, kind, after)


@dataclass(slots=True)
class SnapshotFold:
    """A snapshot read from the tables, brought forward to exactly one seq.

    The tables were read after the head was ``start``, so they reflect every change up
    to ``start`` and possibly some later ones. Each document's final state is that of its
    last change in (start, end], whatever the read saw; documents untouched there are as
    read. The result is the state at ``end``.
    """

    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(
        self,
        sub: Subscription,
        entries: list[ChangeEntry],
        *,
        config: CollectionConfig,
        privileged: bool,
        auth: dict[str, Any] | None,
    ) -> None:
        for entry in entries:
            if entry.collection != sub.collection or (sub.doc_id is not None and entry.doc_id != sub.doc_id):
                continue
            view = EntryView(entry)
            if _visible(sub, view, config, privileged, auth, auth_key(auth), after=True):
                self.documents[entry.doc_id] = {
                    "id": entry.doc_id,
                    "data": entry.data,
                    "version": entry.version,
                    "updateTime": rfc3339(entry.time),
                }
            else:
                self.documents.pop(entry.doc_id, None)

    def ordered(self) -> list[dict[str, Any]]:
        return [self.documents[key] for key in sorted(self.documents)]
