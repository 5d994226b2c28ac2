"""Streaming end to end through a real server process: memory stays flat for a 512 MB
object both ways, and an upload cut off midway leaves no bytes and no row."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.storage.conftest import Http, StorageTarget, bucket_create, object_url, objects_url

MIB = 1024 * 1024


def worker_pid(target: StorageTarget) -> int:
    """The uvicorn worker under ``baas serve`` (the process that handles requests)."""
    parent = target.server.process.pid
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def upload(target: StorageTarget, key: str, path: str, block: bytes, blocks: int) -> tuple[int, str]:
    address = urlparse(target.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
    connection.putrequest("PUT", object_url(path))
    connection.putheader("X-Api-Key", key)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(len(block) * blocks))
    connection.endheaders()
    digest = hashlib.sha256()
    for _ in range(blocks):
        connection.send(block)
        digest.update(block)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 201, body[:500]
    return response.status, digest.hexdigest()


def download(target: StorageTarget, key: str, path: str) -> tuple[int, str]:
    address = urlparse(target.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
    connection.request("GET", object_url(path), headers={"X-Api-Key": key})
    response = connection.getresponse()
    assert response.status == 200
    digest, size = hashlib.sha256(), 0
    while chunk := response.read(MIB):
        digest.update(chunk)
        size += len(chunk)
    connection.close()
    return size, digest.hexdigest()


@pytest.mark.embedded  # one pass is enough: the transfer path is the same in both modes
def test_memory_stays_flat_for_a_512_mb_object(admin: Http, target: StorageTarget, project: Any) -> None:
    bucket_create(admin)
    block = os.urandom(MIB)
    pid = worker_pid(target)
    # Warm up (threads, connection pools, the S3 client) before taking the baseline.
    upload(target, project.secret_key, "warm.bin", block, 16)
    download(target, project.secret_key, "warm.bin")
    baseline = peak_rss_mib(pid)

    started = time.monotonic()
    _, sent_digest = upload(target, project.secret_key, "big.bin", block, 512)
    uploaded = time.monotonic()
    after_upload = peak_rss_mib(pid)
    size, got_digest = download(target, project.secret_key, "big.bin")
    downloaded = time.monotonic()
    after_download = peak_rss_mib(pid)

    assert size == 512 * MIB and got_digest == sent_digest
    meta = admin.get(object_url("big.bin"), params={"meta": "1"}).json()
    assert meta["size"] == 512 * MIB and meta["sha256"] == sent_digest
    print(
        f"\n{target.backend}: peak RSS {baseline:.0f} MiB before, {after_upload:.0f} after upload "
        f"({512 / (uploaded - started):.0f} MB/s), {after_download:.0f} after download ({512 / (downloaded - uploaded):.0f} MB/s)"
    )
    # A few chunks (and one 8 MiB part in S3 mode) in flight, never the object.
    assert after_upload - baseline < 64, (baseline, after_upload)
    assert after_download - baseline < 64, (baseline, after_download)


def _wait_until(predicate: Any, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("form", ["raw", "multipart"])
def test_an_interrupted_upload_leaves_nothing(admin: Http, target: StorageTarget, project: Any, form: str) -> None:
    from storage.models import StoredObject

    bucket_create(admin)
    address = urlparse(target.url)
    declared = 40 * MIB
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    if form == "raw":
        head = (
            f"PUT {object_url('cut.bin')} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {project.secret_key}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        preamble = b""
    else:
        boundary = "cut-boundary"
        head = (
            f"POST {objects_url()} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {project.secret_key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n"
        )
        preamble = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\ncut.bin\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
    sock.sendall(head.encode() + preamble)
    block = b"q" * MIB
    for _ in range(20):  # half of it: more than two S3 parts are already up
        sock.sendall(block)
    # The upload is under way in the backend (a temporary file, or a multipart upload)...
    assert _wait_until(lambda: len(target.unfinished()) == 1), "the upload never started"
    sock.close()  # ...and the client goes away.
    assert _wait_until(lambda: target.unfinished() == [] and target.keys() == []), (target.unfinished(), target.keys())
    assert not StoredObject.objects.for_project("alpha-app").exists()
    assert admin.get(objects_url()).json()["objects"] == []
    assert admin.get("/v1/projects/alpha-app/storage/usage").json() == {"bytes": 0, "objects": 0}
    # The server is fine and the path is free.
    assert admin.put(object_url("cut.bin"), data=b"whole").status_code == 201
