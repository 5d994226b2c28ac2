"""The document API through a real server process (uvicorn workers, the ASGI edge)."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

BASE = "/v1/projects/alpha-app/collections"


@pytest.fixture
def live(asgi_server: Any, project: Any) -> Any:
    session = requests.Session()
    session.headers["X-Api-Key"] = project.secret_key

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        return session.request(method, asgi_server.url + path, timeout=30, **kwargs)

    return call


def test_crud_round_trip(live: Any) -> None:
    created = live("POST", f"{BASE}/posts/documents", json={"data": {"title": "t", "n": 1}})
    assert created.status_code == 201 and created.headers["etag"] == '"1"'
    doc_id = created.json()["id"]
    assert created.headers["x-content-type-options"] == "nosniff"
    assert len(created.headers["x-request-id"]) == 32
    got = live("GET", f"{BASE}/posts/documents/{doc_id}")
    assert got.json() == created.json()
    assert live("GET", f"{BASE}/posts/documents/{doc_id}", headers={"If-None-Match": '"1"'}).status_code == 304
    patched = live("PATCH", f"{BASE}/posts/documents/{doc_id}", json={"data": {"n": None, "m": 2}}, headers={"If-Match": '"1"'})
    assert patched.json()["data"] == {"title": "t", "m": 2}
    assert live("PUT", f"{BASE}/posts/documents/{doc_id}", json={"data": {}}, headers={"If-Match": '"1"'}).status_code == 412
    assert live("DELETE", f"{BASE}/posts/documents/{doc_id}").status_code == 204
    assert live("GET", f"{BASE}/posts/documents/{doc_id}").json()["error"]["code"] == "not_found"
    query = live("POST", f"{BASE}/posts/query", json={"limit": 5})
    assert query.json() == {"documents": [], "nextCursor": None}
    batch = live("POST", "/v1/projects/alpha-app/batch", json={"writes": [{"op": "set", "collection": "posts", "id": "b", "data": {}}]})
    assert batch.json() == {"results": [{"id": "b", "version": 1}]}


def test_errors_keep_the_shape_on_the_edge(live: Any, asgi_server: Any) -> None:
    def code(response: requests.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    assert code(live("POST", f"{BASE}/posts/documents", data=b"{nope", headers={"Content-Type": "application/json"})) == (400, "invalid_argument")
    assert code(live("POST", f"{BASE}/posts/documents", data=b"x=1", headers={"Content-Type": "text/plain"})) == (415, "unsupported_media_type")
    assert code(live("POST", f"{BASE}/posts/documents/abc")) == (405, "method_not_allowed")
    assert code(requests.get(asgi_server.url + f"{BASE}/posts/documents/abc", timeout=5)) == (401, "unauthenticated")
    assert code(live("PUT", f"{BASE}/1bad/documents/x", json={"data": {}})) == (400, "invalid_argument")
    too_big = live("POST", f"{BASE}/posts/documents", data=b"[" * (3 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert code(too_big) == (413, "payload_too_large")


def test_oversized_body_is_refused_before_it_is_sent(asgi_server: Any, project: Any) -> None:
    """The edge answers 413 from Content-Length alone; the client never sends the body."""
    address = urlparse(asgi_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            f"POST {BASE}/posts/documents HTTP/1.1\r\nHost: x\r\nX-Api-Key: {project.secret_key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {500 * 1024 * 1024}\r\n\r\n".encode()
        )
        reply = b""
        while chunk := sock.recv(65536):  # the server closes after answering
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413")
    assert b'"payload_too_large"' in reply


def test_gzip_when_the_client_accepts_it(live: Any) -> None:
    writes = [{"op": "set", "collection": "gz", "id": f"g{i}", "data": {"text": "lorem ipsum " * 30}} for i in range(10)]
    live("POST", "/v1/projects/alpha-app/batch", json={"writes": writes})
    response = live("POST", f"{BASE}/gz/query", json={}, headers={"Accept-Encoding": "gzip"}, stream=True)
    assert response.headers["content-encoding"] == "gzip"
    raw = response.raw.read(decode_content=False)
    assert len(gzip.decompress(raw)) > len(raw)
    plain = live("POST", f"{BASE}/gz/query", json={}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.json()["documents"]) == 10


def test_chunked_body_is_read(live: Any) -> None:
    def chunks() -> Any:
        yield b'{"data": {"chunked": '
        yield b"true}}"

    response = live("PUT", f"{BASE}/posts/documents/ch", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201 and response.json()["data"] == {"chunked": True}


def test_concurrent_clients_on_one_worker(live: Any) -> None:
    errors: list[str] = []

    def work(index: int) -> None:
        for step in range(10):
            response = live("PUT", f"{BASE}/many/documents/w{index}-{step}", json={"data": {"i": index}})
            if response.status_code != 201:
                errors.append(response.text)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    count = live("POST", f"{BASE}/many/query", json={"aggregate": {"count": True}}).json()
    assert count == {"aggregates": {"count": 80}}
    assert time.monotonic() - started < 60


def test_server_numbers_the_change_log(live: Any) -> None:
    from projects.documents.changelog import changelog_head, changes_after

    for index in range(5):
        live("PUT", f"{BASE}/seq/documents/d{index}", json={"data": {"i": index}})
    live("DELETE", f"{BASE}/seq/documents/d0")
    deadline = time.monotonic() + 10
    while changelog_head(project_id="alpha-app") < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    entries = changes_after(project_id="alpha-app", seq=0)
    assert [(e.seq, e.op, e.doc_id) for e in entries] == [
        (1, "create", "d0"), (2, "create", "d1"), (3, "create", "d2"), (4, "create", "d3"), (5, "create", "d4"), (6, "delete", "d0"),
    ]


def test_creates_on_the_event_loop_keep_every_check(live: Any, asgi_server: Any, project: Any) -> None:
    """Once the key and the config are cached in the worker, plain creates are served on
    the event loop (PostgreSQL): the same validation, access and logging apply."""
    live("PUT", f"{BASE}/fast", json={"schema": {"type": "object", "required": ["n"]}})
    ids = [live("POST", f"{BASE}/fast/documents", json={"data": {"n": i}}).json()["id"] for i in range(30)]
    assert len(set(ids)) == 30
    invalid = live("POST", f"{BASE}/fast/documents", json={"data": {"m": 1}})
    assert invalid.status_code == 400 and invalid.json()["error"]["details"]["violations"][0]["path"] == "/"
    transformed = live("POST", f"{BASE}/fast/documents", json={"data": {"n": 1}, "transforms": [{"field": "at", "op": "serverTimestamp"}]})
    assert transformed.status_code == 201 and transformed.json()["data"]["at"] == transformed.json()["createTime"]
    public = requests.post(
        asgi_server.url + f"{BASE}/fast/documents", json={"data": {"n": 1}}, headers={"X-Api-Key": project.publishable_key}, timeout=10
    )
    for _ in range(3):  # warm the worker's key cache, then ask again
        public = requests.post(
            asgi_server.url + f"{BASE}/fast/documents", json={"data": {"n": 1}}, headers={"X-Api-Key": project.publishable_key}, timeout=10
        )
    assert public.status_code == 403 and public.json()["error"]["code"] == "permission_denied"
    count = live("POST", f"{BASE}/fast/query", json={"aggregate": {"count": True}}).json()
    assert count == {"aggregates": {"count": 31}}
    from projects.documents.changelog import changelog_head

    deadline = time.monotonic() + 10
    while changelog_head(project_id="alpha-app") < 31 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert changelog_head(project_id="alpha-app") == 31
