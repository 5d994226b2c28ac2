"""Downloads sent by the kernel (storage/sendfile.py) through a real uvicorn server: the
bytes are exact for whole objects and ranges, the connection stays usable afterwards,
slow and vanishing readers are handled, and a stalled reader holds up nobody else."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from tests.storage.conftest import Http, StorageTarget, bucket_create, object_url
from tests.storage.test_streaming import upload, worker_pid

MIB = 1024 * 1024


def sent_bytes(target: StorageTarget) -> dict[str, float]:
    """The server's download byte counters, by path (sendfile or stream)."""
    text = requests.get(f"{target.url}/metrics", timeout=30).text
    counters = {"sendfile": 0.0, "stream": 0.0}
    for match in re.finditer(r'^baas_storage_download_bytes_total\{path="(\w+)"\} (\S+)$', text, re.M):
        counters[match.group(1)] = float(match.group(2))
    return counters


def request_head(target: StorageTarget, key: str, path: str, extra: str = "", keep_alive: bool = False) -> bytes:
    return (
        f"GET {object_url(path)} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\n{extra}"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    ).encode()


def read_response(sock: socket.socket, buffered: bytes = b"") -> tuple[int, dict[str, str], bytes, bytes]:
    """One whole HTTP/1.1 response with a Content-Length; returns what follows it too."""
    data = buffered
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, "connection closed before the headers"
        data += more
    head, _, data = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    chunks = [data]
    received = len(data)
    while received < length:
        more = sock.recv(4 * MIB)
        assert more, f"connection closed after {received} of {length} bytes"
        chunks.append(more)
        received += len(more)
    body = b"".join(chunks)
    return status, headers, body[:length], body[length:]


def stored(target: StorageTarget, key: str, name: str, size: int) -> bytes:
    data = os.urandom(size)
    block = data
    status, digest = upload(target, key, name, block, 1)
    assert status == 201 and digest == hashlib.sha256(data).hexdigest()
    return data


def test_whole_objects_and_ranges_are_exact_and_counted_by_their_path(admin: Http, target: StorageTarget, project: Any) -> None:
    bucket_create(admin)
    data = stored(target, project.secret_key, "blob.bin", 24 * MIB + 123)
    before = sent_bytes(target)
    response = admin.get(object_url("blob.bin"))
    assert response.status_code == 200 and response.content == data
    ranged = admin.get(object_url("blob.bin"), headers={"Range": "bytes=1000-5000999"})
    assert ranged.status_code == 206 and ranged.content == data[1000:5001000]
    tail = admin.get(object_url("blob.bin"), headers={"Range": "bytes=-77"})
    assert tail.status_code == 206 and tail.content == data[-77:]
    after = sent_bytes(target)
    expected = len(data) + 5_000_000 + 77
    # Local files go through the kernel; S3 objects can only stream through the process.
    kernel_path, other = ("sendfile", "stream") if target.backend == "local" else ("stream", "sendfile")
    assert after[kernel_path] - before[kernel_path] == expected
    assert after[other] == before[other]


def test_the_connection_serves_more_requests_after_a_kernel_sent_body(admin: Http, target: StorageTarget, project: Any) -> None:
    bucket_create(admin)
    first = stored(target, project.secret_key, "one.bin", 3 * MIB)
    second = stored(target, project.secret_key, "two.bin", 5)
    address = urlparse(target.url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        # Two requests pipelined, then a third after both answers: all on one connection.
        sock.sendall(request_head(target, project.secret_key, "one.bin", keep_alive=True)
                     + request_head(target, project.secret_key, "two.bin", "Range: bytes=1-3\r\n", keep_alive=True))
        status, headers, body, rest = read_response(sock)
        assert (status, body) == (200, first) and headers.get("connection", "keep-alive") != "close"
        status, headers, body, rest = read_response(sock, rest)
        assert (status, body) == (206, second[1:4])
        sock.sendall(request_head(target, project.secret_key, "one.bin"))
        status, _, body, rest = read_response(sock, rest)
        assert (status, body, rest) == (200, first, b"")


def test_a_slow_reader_gets_every_byte(admin: Http, target: StorageTarget, project: Any) -> None:
    bucket_create(admin)
    data = stored(target, project.secret_key, "slow.bin", 6 * MIB)
    address = urlparse(target.url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # the server's sends fill it again and again
    sock.settimeout(30)
    with sock:
        sock.connect((address.hostname, address.port))
        sock.sendall(request_head(target, project.secret_key, "slow.bin"))
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        _, _, body = received.partition(b"\r\n\r\n")
        pieces = [body]
        total = len(body)
        pauses = 0
        while total < len(data):
            piece = sock.recv(256 * 1024)
            assert piece, f"closed after {total} bytes"
            pieces.append(piece)
            total += len(piece)
            if pauses < 40:
                time.sleep(0.02)
                pauses += 1
    assert b"".join(pieces) == data


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.embedded  # the transfer path is the same in both modes
def test_readers_that_vanish_or_stall_leak_nothing_and_block_nobody(admin: Http, target: StorageTarget, project: Any) -> None:
    bucket_create(admin)
    data = stored(target, project.secret_key, "big.bin", 48 * MIB)
    small = stored(target, project.secret_key, "small.bin", 2 * MIB)
    pid = worker_pid(target)
    address = urlparse(target.url)
    assert admin.get(object_url("small.bin")).content == small  # settle the worker's pools
    baseline = open_descriptors(pid)

    # Clients that read a little and hang up.
    for _ in range(5):
        with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
            sock.sendall(request_head(target, project.secret_key, "big.bin"))
            assert sock.recv(65536)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # reset

    # A client that stops reading, while others download.
    stalled = socket.create_connection((address.hostname, address.port), timeout=30)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    stalled.sendall(request_head(target, project.secret_key, "big.bin"))
    assert stalled.recv(1024)
    results: list[bool] = []

    def fetch() -> None:
        response = requests.get(f"{target.url}{object_url('big.bin')}", headers={"X-Api-Key": project.secret_key}, timeout=60)
        results.append(response.status_code == 200 and response.content == data)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert results == [True, True, True]
    stalled.close()

    deadline = time.monotonic() + 15
    while open_descriptors(pid) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_descriptors(pid) <= baseline, sorted(Path(f"/proc/{pid}/fd").iterdir())
    assert admin.get(object_url("small.bin")).content == small
