"""Push fan-out: time to send one message to 10,000 devices through the real path.

    .venv/bin/python bench/push.py [--devices 10000] [--runs 3] [--concurrency 2]

Services mode on PostgreSQL and Redis (the ones on 127.0.0.1, else throwaway servers):
our server, a Celery worker process (``--pool=threads``, ``--concurrency`` jobs at once)
and the fake FCM HTTP v1 server of the tests (tests/push/fake_fcm.py) in its own process,
so its CPU is not ours. The devices are inserted straight into the table; the message
goes in through ``POST …/push/messages`` and the clock stops when ``GET …/messages/{id}``
says ``sent``. Each token is one HTTP request to the fake, as with FCM's v1 API
(firebase-admin's ``send_each`` runs a batch of 500 on 500 threads). The figure is
messages (tokens) per second, the median of the runs; all three processes share the
machine's cores with PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.common import ROOT, create_database, drop_database, fmt, our_server, print_table, process, psql  # noqa: E402
from tests.services import postgres, redis  # noqa: E402

UID = "bench-user"


def call(server: Any, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://{server.host}:{server.port}/v1/projects/{server.project_id}{path}", data=data, method=method,
        headers={"X-Api-Key": server.secret_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def fake_fcm(log_dir: Path, stack: contextlib.ExitStack) -> tuple[str, dict[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = log_dir / "fcm-public.pem"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    log = log_dir / "fake-fcm.log"
    stack.enter_context(process([sys.executable, "-u", "-m", "tests.push.fake_fcm", str(public)], cwd=ROOT, log=log))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not log.read_text().strip():
        time.sleep(0.05)
    url = log.read_text().strip().splitlines()[0]
    account = {
        "type": "service_account", "project_id": "bench-fcm", "private_key_id": "k1",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": "bench@bench-fcm.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
    }
    return url, account


def seed(server: Any, devices: int) -> None:
    psql(
        server.database_url,
        "INSERT INTO push_device (project_id, token, uid, platform, app_version, is_active, created_at, updated_at) "
        f"SELECT '{server.project_id}', 'bench-token-' || i, '{UID}', 'android', '1.0', true, now(), now() "
        f"FROM generate_series(1, {devices}) AS i",
    )


def fan_out(server: Any, devices: int) -> float:
    started = time.perf_counter()
    message = call(server, "POST", "/push/messages", {"target": {"users": [UID]}, "notification": {"title": "Bench", "body": "hi"}})
    while True:
        status = call(server, "GET", f"/push/messages/{message['id']}")
        if status["status"] not in ("queued", "sending"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if status["status"] != "sent" or status["counts"]["success"] != devices:
        raise RuntimeError(f"the message ended {status}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2, help="jobs a worker runs at once")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="baas-bench-"))
    print(f"logs in {log_dir}")
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        url = create_database(admin_url, f"bench_push_{uuid.uuid4().hex[:6]}")
        stack.callback(drop_database, url)
        endpoint, account = fake_fcm(log_dir, stack)
        os.environ["BAAS_FCM_ENDPOINT"] = endpoint
        server = stack.enter_context(our_server(database_url=url, redis_url=redis_url, workers=1, log_dir=log_dir))
        worker = [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads",
                  f"--concurrency={args.concurrency}", "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        stack.enter_context(process(worker, env=server.env, cwd=ROOT, log=log_dir / "worker.log"))
        call(server, "PUT", "/push/credentials", {"serviceAccount": account})
        seed(server, args.devices)
        warm = call(server, "POST", "/push/messages", {"target": {"tokens": ["warm-up"]}, "data": {"w": "1"}})
        for _ in range(600):  # the worker's first job builds its firebase-admin App and gets a token
            if call(server, "GET", f"/push/messages/{warm['id']}")["status"] not in ("queued", "sending"):
                break
            time.sleep(0.05)
        seconds = []
        for run in range(args.runs):
            seconds.append(fan_out(server, args.devices))
            print(f"  run {run + 1}: {args.devices:,} tokens in {seconds[-1]:.2f} s", flush=True)
    median = statistics.median(seconds)
    rows = [["scenario", "seconds", "messages/s"],
            [f"one message to {args.devices:,} devices (median of {args.runs})", fmt(median, 2), fmt(args.devices / median, 0)]]
    print_table(f"push fan-out against a fake FCM server (worker --pool=threads --concurrency={args.concurrency})", rows)


if __name__ == "__main__":
    main()
