"""Objects over HTTP through a real server, on the local backend and on a real S3
endpoint (the same tests, parametrised by the ``target`` fixture)."""

from __future__ import annotations

import hashlib
import socket
import time
from typing import Any
from urllib.parse import urlparse

from tests.storage.conftest import Http, StorageTarget, bucket_create, error_of, object_url, objects_url


def put(http: Http, path: str, data: bytes, content_type: str = "application/octet-stream", bucket: str = "files", **headers: str) -> Any:
    return http.put(object_url(path, bucket), data=data, headers={"Content-Type": content_type, **headers})


# --- buckets ------------------------------------------------------------------------------


def test_bucket_config_is_checked_and_secret_only(admin: Http, app: Http) -> None:
    created = bucket_create(admin, "photos", maxFileSize=1000, allowedContentTypes=["image/*"], rules={"read": "true"})
    assert created["name"] == "photos" and created["maxFileSize"] == 1000
    assert created["allowedContentTypes"] == ["image/*"] and created["rules"] == {"read": "true"}
    base = "/v1/projects/alpha-app/buckets"
    assert error_of(admin.post(base, json={"name": "photos"})) == (409, "already_exists")
    assert error_of(app.post(base, json={"name": "other"})) == (403, "permission_denied")
    assert error_of(app.get(base)) == (403, "permission_denied")
    for bad in ({"name": "A"}, {"name": "../x"}, {"name": "ok-name", "maxFileSize": 0}, {"name": "ok-name", "maxFileSize": "1"},
                {"name": "ok-name", "allowedContentTypes": ["image"]}, {"name": "ok-name", "rules": {"steal": "true"}},
                {"name": "ok-name", "bogus": 1}):  # fmt: skip
        assert error_of(admin.post(base, json=bad)) == (400, "invalid_argument"), bad
    syntax = admin.post(base, json={"name": "ok-name", "rules": {"read": "auth.uid == "}})
    assert error_of(syntax) == (400, "invalid_argument")
    assert syntax.json()["error"]["details"]["field"] == "rules.read" and "position" in syntax.json()["error"]["details"]
    patched = admin.patch(f"{base}/photos", json={"maxFileSize": 2000})
    assert patched.status_code == 200 and patched.json()["maxFileSize"] == 2000 and patched.json()["rules"] == {"read": "true"}
    assert [b["name"] for b in admin.get(base).json()["buckets"]] == ["photos"]
    assert put(admin, "a.png", b"x", "image/png", bucket="photos").status_code == 201
    assert error_of(admin.delete(f"{base}/photos")) == (412, "failed_precondition")
    assert admin.delete(object_url("a.png", "photos")).status_code == 204
    assert admin.delete(f"{base}/photos").status_code == 204
    assert error_of(admin.get(f"{base}/photos")) == (404, "not_found")
    assert error_of(admin.get(objects_url("photos"))) == (404, "not_found")


# --- upload and download ------------------------------------------------------------------


def test_raw_upload_and_download(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin)
    data = bytes(range(256)) * 1000
    created = put(admin, "docs/report.bin", data, **{"X-Baas-Meta-Author": "ada", "X-Baas-Meta-Note": "caf%C3%A9"})
    assert created.status_code == 201, created.text
    meta = created.json()
    assert meta["bucket"] == "files" and meta["path"] == "docs/report.bin" and meta["size"] == len(data)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest() and meta["contentType"] == "application/octet-stream"
    assert meta["metadata"] == {"author": "ada", "note": "café"} and meta["owner"] is None
    assert meta["createTime"].endswith("Z") and created.headers["etag"] == f'"{meta["sha256"]}"'

    got = admin.get(object_url("docs/report.bin"))
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data)) and got.headers["etag"] == f'"{meta["sha256"]}"'
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["accept-ranges"] == "bytes"
    assert got.headers["x-baas-meta-note"] == "caf%C3%A9"
    assert got.headers["content-disposition"].startswith('attachment; filename="report.bin"')

    head = admin.head(object_url("docs/report.bin"))
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))
    assert admin.get(object_url("docs/report.bin"), params={"meta": "1"}).json() == meta

    replaced = put(admin, "docs/report.bin", b"v2", "text/plain")
    assert replaced.status_code == 200 and replaced.json()["createTime"] == meta["createTime"]
    assert admin.get(object_url("docs/report.bin")).content == b"v2"
    # The replaced bytes are gone from the backend: one key per object.
    assert len(target.keys("projects/alpha-app/")) == 1


def test_multipart_upload(admin: Http) -> None:
    bucket_create(admin)
    response = admin.post(
        objects_url(),
        data={"path": "avatars/me.png", "metadata": '{"Kind": "avatar"}'},
        files={"file": ("me.png", b"\x89PNG fake", "image/png")},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["path"], body["size"], body["contentType"], body["metadata"]) == ("avatars/me.png", 9, "image/png", {"kind": "avatar"})
    download = admin.get(object_url("avatars/me.png"))
    assert download.content == b"\x89PNG fake" and download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("inline;")
    missing_file = admin.post(objects_url(), data={"path": "x"}, files={"other": ("a", b"1")})
    assert error_of(missing_file) == (400, "invalid_argument")
    missing_path = admin.post(objects_url(), files={"file": ("a", b"1")})
    assert error_of(missing_path) == (400, "invalid_argument")
    assert error_of(admin.post(objects_url(), data=b"raw", headers={"Content-Type": "application/octet-stream"})) == (
        415, "unsupported_media_type")  # fmt: skip
    assert [o["path"] for o in admin.get(objects_url()).json()["objects"]] == ["avatars/me.png"]


def test_ranges_and_conditional_requests(admin: Http) -> None:
    bucket_create(admin)
    data = bytes(range(100))
    etag = put(admin, "r.bin", data).headers["etag"]
    url = object_url("r.bin")

    def ranged(value: str, **headers: str) -> Any:
        return admin.get(url, headers={"Range": value, **headers})

    first = ranged("bytes=0-9")
    assert first.status_code == 206 and first.content == data[:10] and first.headers["content-range"] == "bytes 0-9/100"
    assert ranged("bytes=90-").content == data[90:] and ranged("bytes=-5").content == data[95:]
    assert ranged("bytes=95-1000").headers["content-range"] == "bytes 95-99/100"
    unsatisfiable = ranged("bytes=100-")
    assert error_of(unsatisfiable) == (416, "range_not_satisfiable")
    assert unsatisfiable.headers["content-range"] == "bytes */100"
    assert ranged("bytes=0-1,5-6").status_code == 200  # several ranges: the whole object
    assert ranged("items=0-1").status_code == 200
    assert ranged("bytes=0-9", **{"If-Range": '"other"'}).status_code == 200
    assert ranged("bytes=0-9", **{"If-Range": etag}).status_code == 206
    not_modified = admin.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b"" and not_modified.headers["etag"] == etag
    assert admin.get(url, headers={"If-None-Match": '"nope"'}).status_code == 200
    empty = put(admin, "empty", b"")
    assert empty.status_code == 201 and empty.json()["size"] == 0
    assert admin.get(object_url("empty")).content == b""
    assert ranged("bytes=0-", ).status_code == 206
    assert admin.get(object_url("empty"), headers={"Range": "bytes=0-"}).status_code == 416


def test_active_content_is_an_attachment(admin: Http) -> None:
    bucket_create(admin)
    for path, content_type in [("page.html", "text/html"), ("logo.svg", "image/svg+xml"), ("x.xml", "application/xml"),
                               ("a.js", "text/javascript"), ("note.txt", "text/plain; charset=utf-8"), ("p.png", "image/png")]:  # fmt: skip
        assert put(admin, path, b"<script>alert(1)</script>", content_type).status_code == 201
        response = admin.get(object_url(path))
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("sandbox")
        inline = content_type.startswith(("text/plain", "image/png"))
        assert response.headers["content-disposition"].startswith("inline" if inline else "attachment"), path
        assert response.headers["content-type"] == content_type


def test_conditional_uploads(admin: Http) -> None:
    bucket_create(admin)
    first = put(admin, "c.txt", b"one", **{"If-None-Match": "*"})
    assert first.status_code == 201
    assert error_of(put(admin, "c.txt", b"two", **{"If-None-Match": "*"})) == (409, "already_exists")
    assert error_of(put(admin, "c.txt", b"two", **{"If-Match": '"abc"'})) == (412, "failed_precondition")
    assert put(admin, "c.txt", b"two", **{"If-Match": first.headers["etag"]}).status_code == 200
    assert admin.get(object_url("c.txt")).content == b"two"


# --- limits -------------------------------------------------------------------------------


def test_content_types_outside_the_allow_list_are_415(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin, allowedContentTypes=["image/*", "application/pdf"])
    assert put(admin, "a.png", b"1", "image/png").status_code == 201
    assert put(admin, "a.pdf", b"1", "application/pdf").status_code == 201
    assert error_of(put(admin, "a.html", b"1", "text/html")) == (415, "unsupported_media_type")
    assert error_of(put(admin, "a.bin", b"1")) == (415, "unsupported_media_type")
    multipart = admin.post(objects_url(), data={"path": "b.html"}, files={"file": ("b.html", b"<b>", "text/html")})
    assert error_of(multipart) == (415, "unsupported_media_type")
    assert error_of(put(admin, "bad", b"1", "not a type")) == (400, "invalid_argument")
    assert sorted(o["path"] for o in admin.get(objects_url()).json()["objects"]) == ["a.pdf", "a.png"]
    assert len(target.keys("projects/alpha-app/")) == 2 and target.unfinished() == []


def test_size_limit_from_the_declared_length(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin, maxFileSize=1000)
    assert put(admin, "ok", b"x" * 1000).status_code == 201
    too_big = put(admin, "big", b"x" * 1001)
    assert error_of(too_big) == (413, "payload_too_large") and too_big.json()["error"]["details"]["limitBytes"] == 1000
    multipart = admin.post(objects_url(), data={"path": "big2"}, files={"file": ("b", b"y" * 5000)})
    assert error_of(multipart) == (413, "payload_too_large")
    assert [o["path"] for o in admin.get(objects_url()).json()["objects"]] == ["ok"]
    assert len(target.keys("projects/alpha-app/")) == 1 and target.unfinished() == []


def _raw_request(url: str, head: str) -> socket.socket:
    address = urlparse(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    sock.sendall(head.encode())
    return sock


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_streamed_upload_is_refused_as_soon_as_it_passes_the_limit(admin: Http, target: StorageTarget, project: Any) -> None:
    """A chunked upload (no declared length) gets its 413 while the client is still
    sending: the server does not wait for the rest."""
    bucket_create(admin, maxFileSize=1024 * 1024)
    sock = _raw_request(
        target.url,
        f"PUT {object_url('stream.bin')} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {project.secret_key}\r\n"
        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    chunk = b"z" * 65536
    sent = 0
    sock.setblocking(False)
    answered = False
    try:
        while sent < 64 * 1024 * 1024:
            try:
                if sock.recv(1, socket.MSG_PEEK):
                    answered = True
                    break
            except BlockingIOError:
                pass
            sock.setblocking(True)
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.setblocking(False)
            sent += len(chunk)
            time.sleep(0.001)
        if not answered:
            time.sleep(1)
        sock.setblocking(True)
        reply = _read_reply(sock)
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"payload_too_large"' in reply
    assert sent < 8 * 1024 * 1024  # answered within a few chunks of the 1 MiB limit, not at the end
    deadline = time.monotonic() + 10
    while (target.keys("projects/alpha-app/") or target.unfinished()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert target.keys("projects/alpha-app/") == [] and target.unfinished() == []
    assert admin.get(objects_url()).json()["objects"] == []
