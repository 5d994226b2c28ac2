"""baas_functions: what a cloud function imports.

Decorators declare a function's triggers; they only record trigger objects (in the shape
the deploy API takes) on the function and return it unchanged, so the code stays plain
Python and a deploy can read the triggers by importing the module::

    from baas_functions import on_call, on_document_created

    @on_call
    def handler(event, ctx):
        ctx.log("called", uid=event.auth and event.auth["uid"])
        ctx.db.collection("audit").doc("a1").set({"seen": True})
        return {"echo": event.data}

``event`` gives attribute access to the event (``event.data``, ``event.before``,
``event.auth``…); ``ctx`` is the admin context of the function's own project: ``db``,
``storage``, ``push``, ``log``, ``env``, ``project_id``, ``function`` and
``execution_id``. Every ``db``/``storage``/``push`` call goes to the platform, which runs
the same services as the REST API with a secret key of this project only; a refused call
raises ``ApiError`` carrying the API's error ``code``, ``message`` and ``details``.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

__all__ = [
    "ApiError",
    "Context",
    "Event",
    "on_call",
    "on_document_created",
    "on_document_deleted",
    "on_document_updated",
    "on_document_written",
    "on_object_deleted",
    "on_object_finalized",
    "on_schedule",
    "on_user_created",
    "on_user_deleted",
    "triggers_of",
]

F = TypeVar("F", bound=Callable[..., Any])
TRIGGERS_ATTRIBUTE = "__baas_triggers__"


class ApiError(Exception):
    """A platform call refused: ``code`` is the API's error code (``not_found``,
    ``invalid_argument``, ``permission_denied``…), as the REST API would answer."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.details = code, message, details or {}


# --- trigger decorators -------------------------------------------------------------------


def triggers_of(function: Callable[..., Any]) -> list[dict[str, Any]]:
    """The trigger objects the decorators recorded on ``function`` (empty when none)."""
    return list(getattr(function, TRIGGERS_ATTRIBUTE, ()))


def _record(function: F, trigger: dict[str, Any]) -> F:
    if not callable(function):
        raise TypeError(f"a trigger decorator applies to a function, not {type(function).__name__}")
    existing = list(getattr(function, TRIGGERS_ATTRIBUTE, ()))
    if trigger not in existing:
        existing.append(trigger)
    setattr(function, TRIGGERS_ATTRIBUTE, existing)
    return function


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} is a non-empty string, got {value!r}")
    return value


def on_call(function: F | None = None) -> Any:
    """Callable over HTTP (``POST …/functions/{name}:call``): ``event.data`` is the
    caller's data, ``event.auth`` the signed-in end user or None. ``@on_call`` or
    ``@on_call()``."""
    def decorate(target: F) -> F:
        return _record(target, {"type": "http"})

    return decorate(function) if function is not None else decorate


def _document(collection: str, events: list[str]) -> Callable[[F], F]:
    name = _name(collection, "the collection")

    def decorate(target: F) -> F:
        return _record(target, {"type": "document", "collection": name, "events": list(events)})

    return decorate


def on_document_created(collection: str) -> Callable[[F], F]:
    return _document(collection, ["create"])


def on_document_updated(collection: str) -> Callable[[F], F]:
    return _document(collection, ["update"])


def on_document_deleted(collection: str) -> Callable[[F], F]:
    return _document(collection, ["delete"])


def on_document_written(collection: str) -> Callable[[F], F]:
    """Any write: create, update or delete (``event.before``/``event.after`` tell which)."""
    return _document(collection, ["create", "update", "delete"])


def _auth(event: str, function: F | None) -> Any:
    def decorate(target: F) -> F:
        return _record(target, {"type": "auth", "events": [event]})

    return decorate(function) if function is not None else decorate


def on_user_created(function: F | None = None) -> Any:
    return _auth("user.created", function)


def on_user_deleted(function: F | None = None) -> Any:
    return _auth("user.deleted", function)


def _storage(bucket: str, event: str) -> Callable[[F], F]:
    name = _name(bucket, "the bucket")

    def decorate(target: F) -> F:
        return _record(target, {"type": "storage", "bucket": name, "events": [event]})

    return decorate


def on_object_finalized(bucket: str) -> Callable[[F], F]:
    return _storage(bucket, "object.finalized")


def on_object_deleted(bucket: str) -> Callable[[F], F]:
    return _storage(bucket, "object.deleted")


def on_schedule(cron: str, *, timezone: str = "UTC") -> Callable[[F], F]:
    """Run on a cron schedule (five fields) in ``timezone`` (an IANA name)."""
    expression = _name(cron, "the cron expression")
    zone = _name(timezone, "the timezone")

    def decorate(target: F) -> F:
        return _record(target, {"type": "schedule", "cron": expression, "timezone": zone})

    return decorate


# --- event --------------------------------------------------------------------------------

KNOWN_EVENT_FIELDS = frozenset(
    {"id", "type", "time", "data", "before", "after", "auth", "source", "collection", "docId", "subject",
     "bucket", "path", "object", "user", "uid", "schedule"}
)


class Event(Mapping[str, Any]):
    """Read-only attribute access over the event dict the platform sent (the dict is
    authoritative). Known fields that are absent read as None; ``event.doc_id`` also
    finds ``docId``; ``event["x"]`` and ``event.get("x")`` work as on a dict."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        camel = _camel(name)
        if camel in fields:
            return fields[camel]
        if name in KNOWN_EVENT_FIELDS or camel in KNOWN_EVENT_FIELDS:
            return None
        raise AttributeError(f"the event has no field {name!r} (it has {', '.join(sorted(fields)) or 'none'})")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("the event is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._fields))

    def __repr__(self) -> str:
        return f"Event({self._fields!r})"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- context ------------------------------------------------------------------------------

Call = Callable[[str, dict[str, Any]], Any]


class DocumentRef:
    def __init__(self, call: Call, collection: str, doc_id: str) -> None:
        self._call, self.collection, self.id = call, collection, doc_id

    def get(self) -> dict[str, Any] | None:
        """``{"id", "data", "version", "createTime", "updateTime"}``, or None when missing."""
        return self._call("db.get", {"collection": self.collection, "id": self.id})

    def set(self, data: dict[str, Any], *, if_version: int | None = None) -> dict[str, Any]:
        return self._call("db.set", _args(collection=self.collection, id=self.id, data=data, ifVersion=if_version))

    def create(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create only: ``ApiError`` ``already_exists`` when the document exists."""
        return self._call("db.create", {"collection": self.collection, "id": self.id, "data": data})

    def update(self, data: dict[str, Any], *, if_version: int | None = None) -> dict[str, Any]:
        """A JSON merge patch of the document (``None`` removes a field)."""
        return self._call("db.update", _args(collection=self.collection, id=self.id, data=data, ifVersion=if_version))

    def delete(self, *, if_version: int | None = None) -> None:
        self._call("db.delete", _args(collection=self.collection, id=self.id, ifVersion=if_version))


class CollectionRef:
    def __init__(self, call: Call, name: str) -> None:
        self._call, self.name = call, name

    def doc(self, doc_id: str) -> DocumentRef:
        return DocumentRef(self._call, self.name, doc_id)

    def add(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a document with a generated id."""
        return self._call("db.create", {"collection": self.name, "data": data})

    def query(self, **query: Any) -> dict[str, Any]:
        """The REST query body (``where``, ``orderBy``, ``limit``, ``cursor``, ``select``,
        ``aggregate``, or their snake_case names): ``{"documents", "nextCursor"}``."""
        return self._call("db.query", {"collection": self.name, "query": {_camel(k): v for k, v in query.items()}})


class Database:
    """The project's documents, with secret-key power (rules do not apply)."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def collection(self, name: str) -> CollectionRef:
        return CollectionRef(self._call, name)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return self.collection(collection).doc(doc_id).get()

    def set(self, collection: str, doc_id: str, data: dict[str, Any], *, if_version: int | None = None) -> dict[str, Any]:
        return self.collection(collection).doc(doc_id).set(data, if_version=if_version)

    def create(self, collection: str, data: dict[str, Any], doc_id: str | None = None) -> dict[str, Any]:
        if doc_id is None:
            return self.collection(collection).add(data)
        return self.collection(collection).doc(doc_id).create(data)

    def update(self, collection: str, doc_id: str, data: dict[str, Any], *, if_version: int | None = None) -> dict[str, Any]:
        return self.collection(collection).doc(doc_id).update(data, if_version=if_version)

    def delete(self, collection: str, doc_id: str, *, if_version: int | None = None) -> None:
        self.collection(collection).doc(doc_id).delete(if_version=if_version)

    def query(self, collection: str, **query: Any) -> dict[str, Any]:
        return self.collection(collection).query(**query)

    def batch(self, writes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """All or nothing, as ``POST …/batch``: each write is ``{"op", "collection", "id"?,
        "data"?, "transforms"?, "ifVersion"?}``; answers ``[{"id", "version"}]``."""
        return self._call("db.batch", {"writes": writes})


class Storage:
    """The project's buckets, with secret-key power."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def read(self, bucket: str, path: str) -> bytes:
        answer = self._call("storage.read", {"bucket": bucket, "path": path})
        return base64.b64decode(answer["data"])

    def write(self, bucket: str, path: str, data: bytes | str, *, content_type: str = "application/octet-stream",
              metadata: dict[str, str] | None = None) -> dict[str, Any]:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return self._call(
            "storage.write",
            _args(bucket=bucket, path=path, data=base64.b64encode(raw).decode("ascii"), contentType=content_type, metadata=metadata),
        )

    def delete(self, bucket: str, path: str) -> bool:
        """True when an object was deleted, False when there was none."""
        return bool(self._call("storage.delete", {"bucket": bucket, "path": path})["deleted"])

    def list(self, bucket: str, *, prefix: str | None = None, delimiter: str | None = None, limit: int | None = None,
             cursor: str | None = None) -> dict[str, Any]:
        """``{"objects", "prefixes", "nextCursor"}`` as ``GET …/buckets/{b}/objects``."""
        return self._call("storage.list", _args(bucket=bucket, prefix=prefix, delimiter=delimiter, limit=limit, cursor=cursor))

    def signed_url(self, bucket: str, path: str, *, expires_in: int = 3600) -> dict[str, Any]:
        """``{"url", "expireTime"}``: a download URL that needs no key until it expires."""
        return self._call("storage.signed_url", {"bucket": bucket, "path": path, "expiresIn": expires_in})


class Push:
    def __init__(self, call: Call) -> None:
        self._call = call

    def send(self, message: dict[str, Any]) -> Any:
        """Send a push message (the body of ``POST …/push/messages``); answers ``{"id", "status", …}``."""
        return self._call("push.send", {"message": message})


class Logger:
    """``ctx.log("text", key=value)`` writes one JSON line to the execution's stdout;
    ``ctx.log.warning`` and ``ctx.log.error`` set its severity."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream

    def _write(self, severity: str, message: Any, fields: dict[str, Any]) -> None:
        entry = {"severity": severity, "message": str(message), **fields}
        line = json.dumps(entry, ensure_ascii=False, default=repr)
        stream = self._stream or sys.stdout
        stream.write(line + "\n")

    def __call__(self, message: Any, **fields: Any) -> None:
        self._write("INFO", message, fields)

    def info(self, message: Any, **fields: Any) -> None:
        self._write("INFO", message, fields)

    def warning(self, message: Any, **fields: Any) -> None:
        self._write("WARNING", message, fields)

    def error(self, message: Any, **fields: Any) -> None:
        self._write("ERROR", message, fields)


class FunctionInfo(NamedTuple):
    name: str
    version: int | None


class Context:
    """The admin context of one invocation, scoped to the function's own project."""

    def __init__(self, *, call: Call, env: Mapping[str, str], project_id: str, function: str, version: int | None,
                 execution_id: str | None) -> None:
        self.db = Database(call)
        self.storage = Storage(call)
        self.push = Push(call)
        self.log = Logger()
        self.env = dict(env)
        self.project_id = project_id
        self.function = FunctionInfo(function, version)
        self.execution_id = execution_id

    def __repr__(self) -> str:  # never print env: it holds the function's secrets
        return f"Context(project_id={self.project_id!r}, function={self.function!r}, execution_id={self.execution_id!r})"


def _args(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
