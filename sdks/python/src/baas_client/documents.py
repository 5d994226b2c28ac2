"""Documents: references, a chainable query builder mirroring the REST query, pagination
helpers and batches. Each method returns its result on ``Client`` and an awaitable on
``AsyncClient``; page iterators are plain or ``async`` iterators to match."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from baas_client.transport import Call, Transport, json_body, segment


@dataclass(frozen=True)
class Document:
    id: str
    data: dict[str, Any]
    version: int
    create_time: str | None = None
    update_time: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Document:
        return cls(
            id=body["id"], data=body.get("data") or {}, version=body.get("version", 0),
            create_time=body.get("createTime"), update_time=body.get("updateTime"),
        )


@dataclass(frozen=True)
class QueryPage:
    documents: list[Document]
    next_cursor: str | None


@dataclass(frozen=True)
class WriteResult:
    id: str
    version: int | None


# --- transforms -----------------------------------------------------------------------------------


def increment(field_path: str, value: int | float) -> dict[str, Any]:
    return {"field": field_path, "op": "increment", "value": value}


def maximum(field_path: str, value: int | float) -> dict[str, Any]:
    return {"field": field_path, "op": "max", "value": value}


def minimum(field_path: str, value: int | float) -> dict[str, Any]:
    return {"field": field_path, "op": "min", "value": value}


def array_union(field_path: str, *values: Any) -> dict[str, Any]:
    return {"field": field_path, "op": "arrayUnion", "value": list(values)}


def array_remove(field_path: str, *values: Any) -> dict[str, Any]:
    return {"field": field_path, "op": "arrayRemove", "value": list(values)}


def server_timestamp(field_path: str) -> dict[str, Any]:
    return {"field": field_path, "op": "serverTimestamp"}


def delete_field(field_path: str) -> dict[str, Any]:
    return {"field": field_path, "op": "delete"}


# --- filters --------------------------------------------------------------------------------------


def where(field_path: str, op: str, value: Any) -> dict[str, Any]:
    """One clause of the REST filter syntax: ``{"field", "op", "value"}``."""
    return {"field": field_path, "op": op, "value": value}


def and_(*clauses: Mapping[str, Any]) -> dict[str, Any]:
    return {"and": [dict(c) for c in clauses]}


def or_(*clauses: Mapping[str, Any]) -> dict[str, Any]:
    return {"or": [dict(c) for c in clauses]}


def _doc(response: httpx.Response) -> Document:
    return Document.from_json(response.json())


def _doc_or_none(response: httpx.Response) -> Document | None:
    return None if response.status_code == 404 else Document.from_json(response.json())


def _page(response: httpx.Response) -> QueryPage:
    body = response.json()
    return QueryPage([Document.from_json(d) for d in body["documents"]], body.get("nextCursor"))


def _nothing(response: httpx.Response) -> None:
    return None


def _write_body(data: Mapping[str, Any], transforms: Iterable[Mapping[str, Any]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": dict(data)}
    if transforms:
        body["transforms"] = [dict(t) for t in transforms]
    return body


def _version_header(if_version: int | None) -> dict[str, str]:
    return {"If-Match": f'"{if_version}"'} if if_version is not None else {}


class Query:
    """An immutable query: every builder method returns a new one.

    ``collection("posts").where("score", ">", 10).order_by("score", "desc").limit(20).get()``
    sends ``POST …/collections/posts/query`` with the same JSON the REST API takes.
    """

    def __init__(self, transport: Transport, collection: str, spec: dict[str, Any] | None = None) -> None:
        self._t = transport
        self.collection = collection
        self._spec: dict[str, Any] = spec or {}

    def _with(self, **changes: Any) -> Query:
        return Query(self._t, self.collection, {**self._spec, **changes})

    def where(self, field_or_filter: str | Mapping[str, Any], op: str | None = None, value: Any = None) -> Query:
        """Add a clause (``where("a", "==", 1)``) or a whole filter (``where(or_(...))``);
        several calls are joined with ``and``."""
        clause = dict(field_or_filter) if isinstance(field_or_filter, Mapping) else where(field_or_filter, op or "==", value)
        current = self._spec.get("where")
        if current is None:
            combined = clause
        elif set(current) == {"and"}:
            combined = {"and": [*current["and"], clause]}
        else:
            combined = {"and": [current, clause]}
        return self._with(where=combined)

    def order_by(self, field_path: str, direction: str = "asc") -> Query:
        return self._with(orderBy=[*self._spec.get("orderBy", []), {"field": field_path, "direction": direction}])

    def limit(self, count: int) -> Query:
        return self._with(limit=count)

    def start_after(self, cursor: str | None) -> Query:
        """Continue from a page's ``next_cursor``."""
        spec = dict(self._spec)
        spec.pop("cursor", None)
        if cursor is not None:
            spec["cursor"] = cursor
        return Query(self._t, self.collection, spec)

    def select(self, *field_paths: str) -> Query:
        return self._with(select=list(field_paths))

    def to_dict(self) -> dict[str, Any]:
        """The request body for ``POST …/query``."""
        return dict(self._spec)

    @property
    def filter(self) -> dict[str, Any] | None:
        return self._spec.get("where")

    def _call(self, body: dict[str, Any], parse: Any) -> Call:
        return Call("POST", f"collections/{segment(self.collection)}/query", json=body, parse=parse)

    def get(self) -> Any:
        """One page: ``QueryPage(documents, next_cursor)``."""
        return self._t.run(self._call(self.to_dict(), _page))

    def aggregate(self, *, count: bool = False, sum: str | None = None, avg: str | None = None) -> Any:
        """``{"count", "sum", "avg"}`` over every matching document (limit and cursor do not apply)."""
        spec: dict[str, Any] = {}
        if count:
            spec["count"] = True
        if sum is not None:
            spec["sum"] = sum
        if avg is not None:
            spec["avg"] = avg
        body = {k: v for k, v in self.to_dict().items() if k not in ("limit", "cursor", "select")}
        body["aggregate"] = spec
        return self._t.run(self._call(body, lambda r: r.json()["aggregates"]))

    def count(self) -> Any:
        if self._t.is_async:
            return self._acount()
        return self.aggregate(count=True)["count"]

    async def _acount(self) -> int:
        return int((await self.aggregate(count=True))["count"])

    def pages(self) -> Any:
        """Every page in turn, following ``next_cursor`` (an async iterator on ``AsyncClient``)."""
        return self._apages() if self._t.is_async else self._pages()

    def stream(self) -> Any:
        """Every matching document across pages (an async iterator on ``AsyncClient``)."""
        return self._astream() if self._t.is_async else self._stream()

    def _pages(self) -> Iterator[QueryPage]:
        query: Query = self
        while True:
            page: QueryPage = query.get()
            yield page
            if not page.next_cursor:
                return
            query = query.start_after(page.next_cursor)

    async def _apages(self) -> AsyncIterator[QueryPage]:
        query: Query = self
        while True:
            page: QueryPage = await query.get()
            yield page
            if not page.next_cursor:
                return
            query = query.start_after(page.next_cursor)

    def _stream(self) -> Iterator[Document]:
        for page in self._pages():
            yield from page.documents

    async def _astream(self) -> AsyncIterator[Document]:
        async for page in self._apages():
            for document in page.documents:
                yield document


class DocumentRef:
    def __init__(self, transport: Transport, collection: str, doc_id: str) -> None:
        self._t = transport
        self.collection = collection
        self.id = doc_id

    @property
    def path(self) -> str:
        return f"collections/{segment(self.collection)}/documents/{segment(self.id)}"

    def get(self, *, fields: Iterable[str] | None = None) -> Any:
        """The document, or None when there is none."""
        params = {"fields": ",".join(fields)} if fields else None
        return self._t.run(Call("GET", self.path, params=params, allow=frozenset({404}), parse=_doc_or_none))

    def set(self, data: Mapping[str, Any], *, transforms: Iterable[Mapping[str, Any]] | None = None,
            if_version: int | None = None, create_only: bool = False) -> Any:
        """Create or replace (``create_only``: 409 ``AlreadyExists`` if it exists)."""
        headers = _version_header(if_version)
        if create_only:
            headers["If-None-Match"] = "*"
        return self._t.run(Call("PUT", self.path, json=_write_body(data, transforms), headers=headers, parse=_doc))

    def update(self, data: Mapping[str, Any] | None = None, *, transforms: Iterable[Mapping[str, Any]] | None = None,
               if_version: int | None = None) -> Any:
        """JSON merge patch (``None`` removes a field), then the transforms; 404 if missing."""
        return self._t.run(Call("PATCH", self.path, json=_write_body(data or {}, transforms),
                                headers=_version_header(if_version), parse=_doc))

    def delete(self, *, if_version: int | None = None) -> Any:
        return self._t.run(Call("DELETE", self.path, headers=_version_header(if_version), parse=_nothing))


class CollectionRef(Query):
    def __init__(self, transport: Transport, name: str) -> None:
        super().__init__(transport, name)

    def doc(self, doc_id: str) -> DocumentRef:
        return DocumentRef(self._t, self.collection, doc_id)

    def add(self, data: Mapping[str, Any], *, transforms: Iterable[Mapping[str, Any]] | None = None) -> Any:
        """Create a document with an automatic id."""
        return self._t.run(Call("POST", f"collections/{segment(self.collection)}/documents",
                                json=_write_body(data, transforms), parse=_doc))


@dataclass
class Batch:
    """Up to 500 writes committed all or none (``POST …/batch``)."""

    _t: Transport
    writes: list[dict[str, Any]] = field(default_factory=list)

    def _add(self, op: str, collection: str, doc_id: str | None, data: Mapping[str, Any] | None,
             transforms: Iterable[Mapping[str, Any]] | None, if_version: int | None) -> Batch:
        write: dict[str, Any] = {"op": op, "collection": collection}
        if doc_id is not None:
            write["id"] = doc_id
        if data is not None:
            write["data"] = dict(data)
        if transforms:
            write["transforms"] = [dict(t) for t in transforms]
        if if_version is not None:
            write["ifVersion"] = if_version
        self.writes.append(write)
        return self

    def create(self, collection: str, data: Mapping[str, Any], *, id: str | None = None,
               transforms: Iterable[Mapping[str, Any]] | None = None) -> Batch:
        return self._add("create", collection, id, data, transforms, None)

    def set(self, collection: str, doc_id: str, data: Mapping[str, Any], *,
            transforms: Iterable[Mapping[str, Any]] | None = None, if_version: int | None = None) -> Batch:
        return self._add("set", collection, doc_id, data, transforms, if_version)

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any] | None = None, *,
               transforms: Iterable[Mapping[str, Any]] | None = None, if_version: int | None = None) -> Batch:
        return self._add("update", collection, doc_id, data or {}, transforms, if_version)

    def delete(self, collection: str, doc_id: str, *, if_version: int | None = None) -> Batch:
        return self._add("delete", collection, doc_id, None, None, if_version)

    def commit(self) -> Any:
        """``[WriteResult(id, version)]`` in write order; a failure raises with ``details["index"]``."""
        return self._t.run(Call("POST", "batch", json={"writes": self.writes}, parse=_results))


def _results(response: httpx.Response) -> list[WriteResult]:
    return [WriteResult(r["id"], r.get("version")) for r in json_body(response)["results"]]
