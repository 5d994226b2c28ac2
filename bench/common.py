"""Shared benchmark machinery: a lean keep-alive HTTP client, a closed-loop load runner,
and launchers for our server and for the Parse Server peer.

The client is a few lines over asyncio streams, so the load generator costs little CPU
on a machine whose cores it shares with both servers and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import free_port  # noqa: E402

PARSE_SOURCE = ROOT.parent / "shared" / "peers" / "parse-server"


# --- HTTP client ----------------------------------------------------------------------------


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        payload = body or b""
        if body is not None:
            lines.append(f"Content-Length: {len(payload)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            return status, b"".join(chunks)
        return status, await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def summary(self) -> dict[str, float]:
        return {"rps": self.rate, "p50": self.percentile(0.50), "p99": self.percentile(0.99), "errors": self.errors}


Operation = Callable[[HttpConnection, int], Awaitable[bool]]


async def run_load(host: str, port: int, operation: Operation, *, concurrency: int, seconds: float, warmup: float = 1.0) -> Result:
    """Closed loop: ``concurrency`` clients, each sending its next request when the last returns."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    async def client(index: int) -> None:
        nonlocal errors, counter
        connection = HttpConnection(host, port)
        try:
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                counter += 1
                ok = await operation(connection, counter)
                elapsed = time.perf_counter() - now
                if now >= measure_from:
                    latencies.append(elapsed)
                    if not ok:
                        errors += 1
        finally:
            connection.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return Result(len(latencies), errors, seconds, latencies)


def median_result(results: list[Result]) -> Result:
    return sorted(results, key=lambda r: r.rate)[len(results) // 2]


# --- processes ----------------------------------------------------------------------------


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


@contextlib.contextmanager
def process(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def psql(database_url: str, sql: str) -> str:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return str(cursor.fetchall()) if cursor.description else ""


def create_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with contextlib.suppress(Exception):
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class OurServer:
    host: str
    port: int
    project_id: str
    secret_key: str
    database_url: str
    publishable_key: str = ""
    env: dict[str, str] = field(default_factory=dict)
    pid: int = 0

    def manage(self, *args: str) -> str:
        """Run a ``baas`` command against this server's database and settings."""
        command = [sys.executable, "-m", "baas.cli", *args]
        return subprocess.run(command, env=self.env, cwd=ROOT, check=True, capture_output=True, text=True).stdout


@contextlib.contextmanager
def our_server(*, database_url: str, redis_url: str, workers: int, log_dir: Path) -> Iterator[OurServer]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        BAAS_KEY_PREFIX=f"bench-{uuid.uuid4().hex[:6]}",
        BAAS_DATA_DIR=str(log_dir / "data"),
        BAAS_RATE_LIMIT_PER_IP="1000000000",
        BAAS_RATE_LIMIT_PER_KEY="1000000000",
        LOG_LEVEL="WARNING",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
    )
    baas = [sys.executable, "-m", "baas.cli"]
    subprocess.run([*baas, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
    created = json.loads(
        subprocess.run([*baas, "createproject", "bench-app", "--json"], env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    )
    port = free_port()
    command = [*baas, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with process(command, env=env, cwd=ROOT, log=log_dir / "baas.log") as server_process:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield OurServer(
            "127.0.0.1", port, created["projectId"], created["secretKey"], database_url, created["publishableKey"], env,
            server_process.pid,
        )


def ensure_parse_installed(directory: Path) -> Path:
    if (directory / "node_modules" / "parse-server").exists():
        return directory
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed to install the Parse Server peer")
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "server.js"):
        shutil.copy(PARSE_SOURCE / name, directory / name)
    print(f"installing Parse Server into {directory} (about a minute)…", flush=True)
    subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=directory, check=True, capture_output=True)
    return directory


@contextlib.contextmanager
def parse_server(*, directory: Path, database_url: str, log_dir: Path, pids: list[int] | None = None) -> Iterator[int]:
    """Parse Server on a free port (yielded); its pid is appended to ``pids`` if given."""
    port = free_port()
    env = dict(os.environ, DATABASE_URI=database_url, PORT=str(port))
    with process(["node", str(directory / "server.js")], env=env, cwd=directory, log=log_dir / "parse.log") as proc:
        if pids is not None:
            pids.append(proc.pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/parse/health", headers={"X-Parse-Application-Id": "benchapp"}
                )
                with urllib.request.urlopen(request, timeout=2):
                    break
            except Exception:
                time.sleep(0.3)
        else:
            raise RuntimeError("Parse Server did not start:\n" + (log_dir / "parse.log").read_text())
        yield port


def random_text(rng: random.Random, size: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz      "
    return "".join(rng.choice(alphabet) for _ in range(size))


def print_table(title: str, rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"\n{title}")
    for index, row in enumerate(rows):
        print("  " + "  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def fmt(value: float, digits: int = 1) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


