"""Object storage throughput on the local backend, against ``cp`` on the same disk.

    .venv/bin/python bench/storage.py [--runs 3] [--large-mb 256] [--seconds 10] [--embedded]

Our server (``baas serve``, one worker) on PostgreSQL and Redis (the ones on the standard
ports, else throwaway servers), or on SQLite with ``--embedded``; objects in local files
under a data dir on the same disk as the copies ``cp`` makes. Scenarios:
- upload of a 1 MB and a 256 MB object (raw PUT; the client sends from a file with
  ``sendfile``), and download of the same (the client writes the bytes to a file);
  MB/s, median of the runs, each with its ratio to ``cp`` copying the same file;
- 4 KB uploads per second at concurrency 16 (each a new object; closed loop).
Uploads are durable when answered (the server fsyncs before the metadata commit); ``cp``
is not, so a second column compares with ``cp`` followed by ``sync`` of the copy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HttpConnection,
    OurServer,
    create_database,
    drop_database,
    fmt,
    our_server,
    print_table,
    run_load,
)
from tests.services import postgres, redis  # noqa: E402

MB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MB)
    with path.open("wb") as file:
        for _ in range(size // MB):
            file.write(block)
        file.write(block[: size % MB])


def timed(function: object, *args: object) -> float:
    started = time.perf_counter()
    function(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def cp(source: Path, target: Path) -> None:
    subprocess.run(["cp", str(source), str(target)], check=True)
    target.unlink()


def cp_sync(source: Path, target: Path) -> None:
    subprocess.run(["cp", str(source), str(target)], check=True)
    descriptor = os.open(target, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    target.unlink()


def upload(server: OurServer, path: str, source: Path) -> None:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=600)
    connection.putrequest("PUT", f"/v1/projects/{server.project_id}/buckets/bench/objects/{path}")
    connection.putheader("X-Api-Key", server.secret_key)
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(source.stat().st_size))
    connection.endheaders()
    with source.open("rb") as file:
        assert connection.sock is not None
        connection.sock.sendfile(file)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"upload failed: {response.status} {body[:300]!r}")


def download(server: OurServer, path: str, target: Path) -> None:
    """GET into a file, the way a lean client on Linux does: the body goes from the socket
    to the file through a pipe (``splice``), never through this process, so the client
    costs little next to the server on a machine whose cores they share."""
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(
            f"GET /v1/projects/{server.project_id}/buckets/bench/objects/{path} HTTP/1.1\r\n"
            f"Host: {server.host}\r\nX-Api-Key: {server.secret_key}\r\nConnection: close\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"download failed: {head[:100]!r}")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
        read_end, write_end = os.pipe()
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, MB)
            with target.open("wb", buffering=0) as file:
                file.write(rest)
                received = len(rest)
                while received < length:
                    count = os.splice(sock.fileno(), write_end, min(MB, length - received))
                    if not count:
                        raise RuntimeError("connection closed early")
                    moved = 0
                    while moved < count:
                        moved += os.splice(read_end, file.fileno(), count - moved)
                    received += count
        finally:
            os.close(read_end)
            os.close(write_end)
    target.unlink()


def median_rate(size: int, seconds: list[float]) -> float:
    return size / MB / statistics.median(seconds)


def transfer_rows(server: OurServer, work: Path, sizes: list[int], runs: int) -> list[list[str]]:
    rows = [["scenario", "ours MB/s", "cp MB/s", "x cp", "cp+sync MB/s", "x cp+sync"]]
    for size in sizes:
        label = f"{size // MB} MB"
        source = work / f"source-{size}"
        make_file(source, size)
        repeat = max(runs, min(50, (256 * MB) // size))  # small objects: enough repetitions to time
        copy = [timed(cp, source, work / "copy") for _ in range(repeat)]
        copy_sync = [timed(cp_sync, source, work / "copy") for _ in range(repeat)]
        ups = [timed(upload, server, f"o-{size}-{index}", source) for index in range(repeat)]
        downs = [timed(download, server, f"o-{size}-{index % repeat}", work / "fetched") for index in range(repeat)]
        for name, ours in (("upload", ups), ("download", downs)):
            rate, cp_rate, sync_rate = median_rate(size, ours), median_rate(size, copy), median_rate(size, copy_sync)
            rows.append([f"{name} {label}", fmt(rate), fmt(cp_rate), fmt(rate / cp_rate, 2), fmt(sync_rate), fmt(rate / sync_rate, 2)])
            print(f"    {name:<8} {label:>7}: {fmt(rate):>8} MB/s  (cp {fmt(cp_rate)} MB/s, cp+sync {fmt(sync_rate)} MB/s)", flush=True)
        source.unlink()
    return rows


def small_uploads(server: OurServer, seconds: float, concurrency: int) -> tuple[float, float, float, int]:
    payload = os.urandom(4096)
    headers = {"X-Api-Key": server.secret_key, "Content-Type": "application/octet-stream"}
    base = f"/v1/projects/{server.project_id}/buckets/bench/objects/small"

    async def put(connection: HttpConnection, counter: int) -> bool:
        status, _ = await connection.request("PUT", f"{base}/{counter}-{uuid.uuid4().hex[:8]}", headers, payload)
        return status == 201

    result = asyncio.run(run_load(server.host, server.port, put, concurrency=concurrency, seconds=seconds))
    return result.rate, result.percentile(0.5), result.percentile(0.99), result.errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large-mb", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--embedded", action="store_true", help="SQLite and no Redis instead of PostgreSQL and Redis")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="baas-bench-storage-", dir=os.environ.get("BAAS_BENCH_DIR")))
    print(f"data and logs in {work} (the copies and the stored objects share this disk)")
    os.environ.update(BAAS_STORAGE="local", BAAS_STORAGE_LOCAL_DIR=str(work / "data" / "storage"))
    with contextlib.ExitStack() as stack:
        if args.embedded:
            database_url, redis_url = f"sqlite:///{work / 'bench.sqlite3'}", ""
        else:
            admin_url, redis_url = stack.enter_context(postgres()), stack.enter_context(redis())
            database_url = create_database(admin_url, f"bench_storage_{uuid.uuid4().hex[:6]}")
            stack.callback(drop_database, database_url)
        server = stack.enter_context(our_server(database_url=database_url, redis_url=redis_url, workers=1, log_dir=work))
        connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
        connection.request(
            "POST", f"/v1/projects/{server.project_id}/buckets", body=json.dumps({"name": "bench"}),
            headers={"X-Api-Key": server.secret_key, "Content-Type": "application/json"},
        )  # fmt: skip
        assert connection.getresponse().status == 201
        print(f"\nthroughput ({'SQLite' if args.embedded else 'PostgreSQL'}, local files, one server process)")
        rows = transfer_rows(server, work, [MB, args.large_mb * MB], args.runs)
        print(f"\n4 KB uploads, concurrency {args.concurrency}, {args.seconds:g} s")
        rate, p50, p99, errors = small_uploads(server, args.seconds, args.concurrency)
        print(f"    {fmt(rate, 0)} uploads/s  p50 {fmt(p50, 2)} ms  p99 {fmt(p99, 2)} ms  errors {errors}", flush=True)
    print_table("object storage, local backend (median of runs)", rows)
    print_table(
        f"small objects (4 KB, concurrency {args.concurrency})",
        [["scenario", "uploads/s", "p50 ms", "p99 ms", "errors"], ["upload 4 KB", fmt(rate, 0), fmt(p50, 2), fmt(p99, 2), str(errors)]],
    )
    large = next(row for row in rows if row[0] == f"download {args.large_mb} MB")
    print(f"\nlarge downloads at {large[3]}x cp throughput (target: at least 0.5x)")


if __name__ == "__main__":
    main()
