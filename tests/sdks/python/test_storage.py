"""Storage through the SDK: uploads with progress from bytes, files and iterators;
streaming and ranged downloads; metadata, listings, signed URLs; typed errors; isolation."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from baas_client import (
    AlreadyExists,
    Client,
    FailedPrecondition,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RangeNotSatisfiable,
    Unauthenticated,
    UnsupportedMediaType,
)


@pytest.fixture
def files(admin: Client) -> Any:
    admin.admin.create_bucket("files", rules={"read": "true", "write": "auth != null"})
    return admin.bucket("files")


def test_upload_download_metadata_and_list(files: Any, admin: Client) -> None:
    progress: list[tuple[int, int | None]] = []
    body = bytes(range(256)) * 1000  # 256,000 bytes
    stored = files.upload("docs/a b/ünï.bin", body, metadata={"Title": "Grüße & more"},
                          on_progress=lambda sent, total: progress.append((sent, total)), chunk_size=64 * 1024)
    assert (stored.path, stored.size, stored.content_type) == ("docs/a b/ünï.bin", len(body), "application/octet-stream")
    assert stored.sha256 == hashlib.sha256(body).hexdigest() and stored.metadata == {"title": "Grüße & more"}
    assert progress == [(0, len(body)), (65536, len(body)), (131072, len(body)), (196608, len(body)),
                        (len(body), len(body))]
    assert files.download("docs/a b/ünï.bin") == body
    assert files.download("docs/a b/ünï.bin", range=(10, 19)) == body[10:20]
    assert files.download("docs/a b/ünï.bin", range=(255_990, None)) == body[255_990:]
    with files.stream("docs/a b/ünï.bin", chunk_size=10_000) as chunks:
        parts = list(chunks)
    assert b"".join(parts) == body and len(parts) > 1
    assert files.metadata("docs/a b/ünï.bin") == stored
    files.upload("docs/readme.txt", b"hello", content_type="text/plain")
    files.upload("top.txt", b"top")
    listing = files.list(prefix="docs/", delimiter="/")
    assert [o.path for o in listing.objects] == ["docs/readme.txt"] and listing.prefixes == ["docs/a b/"]
    pages = list(files.list_all(page_size=1))
    assert [[o.path for o in p.objects] for p in pages] == [["docs/a b/ünï.bin"], ["docs/readme.txt"], ["top.txt"]]
    files.delete("top.txt")
    with pytest.raises(NotFound):
        files.download("top.txt")


def test_file_and_iterator_uploads(files: Any, tmp_path: Path) -> None:
    path = tmp_path / "big.dat"
    content = hashlib.sha256(b"seed").digest() * 50_000  # 1.6 MB
    path.write_bytes(content)
    seen: list[int] = []
    with path.open("rb") as handle:
        stored = files.upload("big.dat", handle, on_progress=lambda sent, total: seen.append(sent))
    assert stored.size == len(content) and seen[-1] == len(content) and seen == sorted(seen) and len(seen) > 3
    with files.stream("big.dat") as chunks:
        assert hashlib.sha256(b"".join(chunks)).hexdigest() == stored.sha256
    streamed = files.upload("gen.txt", (part for part in [b"one ", b"two ", b"three"]), content_type="text/plain")
    assert streamed.size == 13 and files.download("gen.txt") == b"one two three"
    assert files.upload("mem.bin", io.BytesIO(b"xyz")).size == 3


def test_preconditions_signed_urls_and_typed_errors(server: Any, admin: Client, files: Any) -> None:
    first = files.upload("p.txt", b"v1", content_type="text/plain", create_only=True)
    with pytest.raises(AlreadyExists):
        files.upload("p.txt", b"v2", create_only=True)
    with pytest.raises(FailedPrecondition):
        files.upload("p.txt", b"v2", if_sha256="0" * 64)
    assert files.upload("p.txt", b"v2", content_type="text/plain", if_sha256=first.sha256).size == 2
    with pytest.raises(RangeNotSatisfiable) as unsatisfiable:
        files.download("p.txt", range=(50, None))
    assert unsatisfiable.value.status == 416
    signed = files.sign("p.txt", expires_in=60)
    parts = urlsplit(signed.url)
    fetched = httpx.get(f"{server.url}{parts.path}?{parts.query}")  # no key
    assert fetched.status_code == 200 and fetched.content == b"v2" and signed.expire_time
    assert httpx.get(f"{server.url}{parts.path}?{parts.query}0").status_code == 403
    admin.admin.create_bucket("tiny", maxFileSize=1000, allowedContentTypes=["image/*"])
    tiny = admin.bucket("tiny")
    with pytest.raises(PayloadTooLarge) as too_big:
        tiny.upload("a.png", b"x" * 5000)
    assert too_big.value.details["limitBytes"] == 1000
    with pytest.raises(UnsupportedMediaType):
        tiny.upload("a.txt", b"x", content_type="text/plain")
    assert tiny.list().objects == []


def test_rules_apply_to_apps_and_owners_are_recorded(files: Any, app: Client) -> None:
    bucket = app.bucket("files")
    with pytest.raises(PermissionDenied):
        bucket.upload("mine.txt", b"anonymous")
    uid = app.auth.sign_up("owner@example.com", "correct-Horse-battery-9")["uid"]
    stored = bucket.upload("mine.txt", b"mine")
    assert stored.owner == uid and bucket.download("mine.txt") == b"mine"


def test_another_projects_key_reaches_no_object(server: Any, files: Any, other_project: Any, make_client: Any) -> None:
    files.upload("kept.txt", b"kept", content_type="text/plain")
    intruder = make_client(server, other_project.secret_key).bucket("files")
    for call in (lambda: intruder.download("kept.txt"), lambda: intruder.list(), lambda: intruder.delete("kept.txt"),
                 lambda: intruder.upload("kept.txt", b"overwritten"), lambda: intruder.sign("kept.txt")):
        with pytest.raises(Unauthenticated):
            call()
    assert files.download("kept.txt") == b"kept" and [o.path for o in files.list().objects] == ["kept.txt"]
