"""Find or start the real services the test suite runs against.

A PostgreSQL or Redis already listening on the standard port is used (with a private
database and key prefix per run, so runs never collide); otherwise a throwaway server is
started from the installed binaries and stopped afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> str | None:
    configured = os.environ.get("PGBIN")
    if configured:
        return configured
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    return candidates[0] if candidates else None


def _pg_ok(port: int) -> bool:
    try:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yield a DATABASE_URL whose database name is unique to this run."""
    name = "baas_" + uuid.uuid4().hex[:10]
    if _pg_ok(5432):
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
        return
    pg_bin = _pg_bin()
    if pg_bin is None:
        raise RuntimeError("PostgreSQL is not running on 127.0.0.1:5432 and no server binaries are installed")
    tmp, port = tempfile.mkdtemp(prefix="baas-pg."), free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if subprocess.run(["id", "postgres"], capture_output=True).returncode:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        shutil.chown(tmp, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(tmp, "data")
    subprocess.run(
        run_as
        + [f"{pg_bin}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    subprocess.run(
        run_as + [f"{pg_bin}/pg_ctl", "-D", data, "-l", f"{tmp}/pg.log", "-w", "-t", "30", "-o", options, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/{name}"
    finally:
        subprocess.run(run_as + [f"{pg_bin}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    if redis_ok(6379):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("Redis is not running on 127.0.0.1:6379 and redis-server is not installed")
    port, tmp = free_port(), tempfile.mkdtemp(prefix="baas-redis.")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(250):
            if redis_ok(port):
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
