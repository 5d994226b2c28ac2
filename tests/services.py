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


def s3_ok(url: str) -> bool:
    """Anything answering HTTP there (an S3 endpoint answers 403 or 200 to a bare GET)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url + "/", timeout=2).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextlib.contextmanager
def s3() -> Iterator[str]:
    """Yield an S3-compatible endpoint: ``BAAS_TEST_S3_ENDPOINT_URL`` when it answers (a
    MinIO or any other S3 the machine runs, with ``BAAS_TEST_S3_ACCESS_KEY_ID`` /
    ``..._SECRET_ACCESS_KEY``), else a throwaway moto server (moto[server], a test
    dependency) on a free port. Tests use a bucket of their own in it."""
    configured = os.environ.get("BAAS_TEST_S3_ENDPOINT_URL")
    if configured:
        if not s3_ok(configured):
            raise RuntimeError(f"BAAS_TEST_S3_ENDPOINT_URL={configured} does not answer")
        yield configured
        return
    import importlib.util
    import sys

    if importlib.util.find_spec("moto.server") is None:
        raise RuntimeError("no S3 endpoint: set BAAS_TEST_S3_ENDPOINT_URL or install moto[server]")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("moto_server exited at start")
            if s3_ok(url):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("moto_server did not start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def s3_settings(url: str, bucket: str) -> dict[str, str]:
    """The server settings (environment) for S3 mode against the test endpoint, after
    making sure ``bucket`` exists there."""
    import boto3

    env = {
        "BAAS_STORAGE": "s3",
        "BAAS_S3_ENDPOINT_URL": url,
        "BAAS_S3_BUCKET": bucket,
        "BAAS_S3_REGION": "us-east-1",
        "BAAS_S3_ADDRESSING_STYLE": "path",
        "BAAS_S3_ACCESS_KEY_ID": os.environ.get("BAAS_TEST_S3_ACCESS_KEY_ID", "test"),
        "BAAS_S3_SECRET_ACCESS_KEY": os.environ.get("BAAS_TEST_S3_SECRET_ACCESS_KEY", "test"),
    }
    client = boto3.client(
        "s3",
        endpoint_url=url,
        region_name=env["BAAS_S3_REGION"],
        aws_access_key_id=env["BAAS_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["BAAS_S3_SECRET_ACCESS_KEY"],
    )
    try:
        client.create_bucket(Bucket=bucket)
    except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
        pass
    return env
