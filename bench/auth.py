"""End-user auth throughput and latency, and what token verification adds to a request.

    .venv/bin/python bench/auth.py [--seconds 10] [--runs 3] [--workers 2]

Services mode on PostgreSQL (the one on 127.0.0.1:5432, else a throwaway server) and
Redis. Scenarios, at concurrency 1 and 32, closed loop:
- login: email and password of one of 64 users. Bound by the Argon2id hash (19 MiB,
  2 passes, about 55 ms of one core each), so its rate is roughly cores / hash time;
- refresh: trade a refresh token for a new pair (each token works once, so clients
  take one from a shared pool and put its successor back);
- get-user: get-by-id among 1,000 documents with a publishable key and a user's access
  token, the collection's read rule ``true`` (the rule passes; the token is verified);
- get-secret: the same get with the secret key and no token.
The p50 difference get-user minus get-secret is what a user token adds to a request
(target: under 1 ms). As separate runs on a shared machine drift, it is measured again
with one client interleaving the secret-key get, a publishable-key get without a token
(splitting the rule path from the token) and the user-token get. In-process, it also
times one verification of a token the process has not seen and of one it has.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HttpConnection,
    Result,
    create_database,
    drop_database,
    fmt,
    median_result,
    our_server,
    print_table,
    psql,
    run_load,
)
from tests.services import postgres, redis  # noqa: E402

USERS = 64
GET_DOCS = 1_000
PASSWORD = "bench-Horse-battery-9"
VERIFY_TARGET_MS = 1.0


def seed(server: Any) -> tuple[list[str], list[str]]:
    """Documents straight into the tables; users through the real sign-up call (their
    sessions give the refresh pool). Returns (emails, refresh tokens)."""
    psql(
        server.database_url,
        "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
        f"SELECT '{server.project_id}', 'abench', 'a' || i, jsonb_build_object('score', i, 'title', repeat('x', 900)), "
        f"1, now(), now() FROM generate_series(1, {GET_DOCS}) AS i",
    )

    async def setup() -> tuple[list[str], list[str]]:
        connection = HttpConnection(server.host, server.port)
        status, text = await connection.request(
            "PUT", f"/v1/projects/{server.project_id}/collections/abench",
            {"X-Api-Key": server.secret_key, "Content-Type": "application/json"},
            json.dumps({"rules": {"read": "true"}}).encode(),
        )
        assert status == 200, text
        emails, refresh = [], []
        for i in range(USERS):
            email = f"user{i}@bench.example"
            status, text = await connection.request(
                "POST", f"/v1/projects/{server.project_id}/auth/signup",
                {"X-Api-Key": server.publishable_key, "Content-Type": "application/json"},
                json.dumps({"email": email, "password": PASSWORD}).encode(),
            )
            assert status == 201, text
            emails.append(email)
            refresh.append(json.loads(text)["refreshToken"])
        connection.close()
        return emails, refresh

    emails, refresh = asyncio.run(setup())
    psql(server.database_url, "VACUUM ANALYZE")
    return emails, refresh


def access_tokens(server: Any) -> list[str]:
    """Tokens for the users, minted long-lived so none expires mid-run."""
    code = (
        "import json; from endusers.tokens import access_token_mint; "
        f"print(json.dumps([access_token_mint('{server.project_id}', 'bench%d' % i, lifetime=6 * 3600) for i in range({USERS})]))"
    )
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])  # type: ignore[no-any-return]


def verify_cost(server: Any) -> tuple[float, float]:
    """Microseconds per verification in one process: (first sight of a token, seen before)."""
    code = (
        "import time, json; from endusers import tokens, keys\n"
        f"p = '{server.project_id}'\n"
        "fresh = [tokens.access_token_mint(p, 'u%d' % i, lifetime=3600) for i in range(2000)]\n"
        "tokens.access_token_verify(p, fresh[0])\n"
        "t = time.perf_counter()\n"
        "for tok in fresh[1:]: tokens.access_token_verify(p, tok)\n"
        "cold = (time.perf_counter() - t) / (len(fresh) - 1)\n"
        "t = time.perf_counter()\n"
        "for _ in range(5): [tokens.access_token_verify(p, tok) for tok in fresh[1:]]\n"
        "warm = (time.perf_counter() - t) / (5 * (len(fresh) - 1))\n"
        "print(json.dumps([cold * 1e6, warm * 1e6]))"
    )
    cold, warm = json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])
    return cold, warm


def operations(server: Any, emails: list[str], refresh: list[str], user_tokens: list[str]) -> dict[str, Any]:
    base = f"/v1/projects/{server.project_id}"
    public = {"X-Api-Key": server.publishable_key, "Content-Type": "application/json"}
    secret = {"X-Api-Key": server.secret_key}
    user_headers = [{"X-Api-Key": server.publishable_key, "Authorization": f"Bearer {token}"} for token in user_tokens]
    logins = [json.dumps({"email": email, "password": PASSWORD}).encode() for email in emails]
    pool: collections.deque[str] = collections.deque(refresh)
    doc = f"{base}/collections/abench/documents/a"

    async def login(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("POST", f"{base}/auth/login", public, logins[n % len(logins)])
        return status == 200

    async def refresh_(conn: HttpConnection, n: int) -> bool:
        token = pool.popleft()
        status, text = await conn.request("POST", f"{base}/auth/refresh", public, json.dumps({"refreshToken": token}).encode())
        if status != 200:
            pool.append(token)  # keep the pool size; the error is counted
            return False
        pool.append(json.loads(text)["refreshToken"])
        return True

    async def get_user(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("GET", f"{doc}{(n * 7) % GET_DOCS + 1}", user_headers[n % USERS])
        return status == 200

    async def get_secret(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("GET", f"{doc}{(n * 7) % GET_DOCS + 1}", secret)
        return status == 200

    return {"login": login, "refresh": refresh_, "get-user": get_user, "get-secret": get_secret}


def paired_gets(server: Any, user_tokens: list[str], *, seconds: float) -> dict[str, list[float]]:
    """One client sending the three kinds of get in turn (secret key; publishable key and no
    token; publishable key and a user token), so load from anything else on the machine
    falls on all three alike. Latencies in seconds per kind."""
    import time

    doc = f"/v1/projects/{server.project_id}/collections/abench/documents/a"
    kinds = {
        "secret": lambda n: {"X-Api-Key": server.secret_key},
        "public": lambda n: {"X-Api-Key": server.publishable_key},
        "user": lambda n: {"X-Api-Key": server.publishable_key, "Authorization": f"Bearer {user_tokens[n % USERS]}"},
    }
    latencies: dict[str, list[float]] = {kind: [] for kind in kinds}

    async def run() -> None:
        connection = HttpConnection(server.host, server.port)
        stop_at = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < stop_at:
            n += 1
            for kind, headers in kinds.items():
                started = time.perf_counter()
                status, _ = await connection.request("GET", f"{doc}{(n * 7) % GET_DOCS + 1}", headers(n))
                assert status == 200, (kind, status)
                if n > 50:  # past warm-up
                    latencies[kind].append(time.perf_counter() - started)
        connection.close()

    asyncio.run(run())
    return latencies


def measure(server: Any, ops: dict[str, Any], *, concurrencies: list[int], seconds: float, runs: int) -> dict[tuple[str, int], Result]:
    figures = {}
    for name, operation in ops.items():
        psql(server.database_url, "VACUUM ANALYZE")
        for concurrency in concurrencies:
            results = [
                asyncio.run(run_load(server.host, server.port, operation, concurrency=concurrency, seconds=seconds))
                for _ in range(runs)
            ]
            r = figures[(name, concurrency)] = median_result(results)
            print(f"    {name:<10} c={concurrency:<3} {fmt(r.rate, 0):>8} req/s  p50 {fmt(r.percentile(0.5), 2)} ms  "
                  f"p99 {fmt(r.percentile(0.99), 2)} ms  errors {r.errors}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--only", default="login,refresh,get-user,get-secret")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    only = args.only.split(",")
    log_dir = Path(tempfile.mkdtemp(prefix="baas-bench-"))
    print(f"logs in {log_dir}")
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        url = create_database(admin_url, f"bench_auth_{uuid.uuid4().hex[:6]}")
        stack.callback(drop_database, url)
        with our_server(database_url=url, redis_url=redis_url, workers=args.workers, log_dir=log_dir) as server:
            print(f"\nour server (pid {server.pid})")
            emails, refresh = seed(server)
            cold_us, warm_us = verify_cost(server)
            print(f"    one verification in-process: {cold_us:.0f} us for a new token, {warm_us:.1f} us for one seen before")
            user_tokens = access_tokens(server)
            ops = {k: v for k, v in operations(server, emails, refresh, user_tokens).items() if k in only}
            figures = measure(server, ops, concurrencies=concurrencies, seconds=args.seconds, runs=args.runs)
            paired = paired_gets(server, user_tokens, seconds=args.seconds * args.runs)
    rows = [["scenario", "req/s", "p50 ms", "p99 ms", "errors"]]
    for (name, concurrency), r in figures.items():
        label = f"{name} c={concurrency}" + (" (Argon2id-bound)" if name == "login" else "")
        rows.append([label, fmt(r.rate, 0), fmt(r.percentile(0.5), 2), fmt(r.percentile(0.99), 2), str(r.errors)])
    print_table(f"auth benchmark ({args.runs} runs of {args.seconds:g}s, median; {args.workers} web workers)", rows)
    for concurrency in concurrencies:
        user, key = figures.get(("get-user", concurrency)), figures.get(("get-secret", concurrency))
        if user and key:
            added = user.percentile(0.5) - key.percentile(0.5)
            verdict = "" if concurrency != 1 else (" ok" if added < VERIFY_TARGET_MS else " OVER TARGET")
            print(f"token verification, c={concurrency}: p50 {fmt(user.percentile(0.5), 2)} - {fmt(key.percentile(0.5), 2)} ms "
                  f"= {added:+.3f} ms (x{user.rate / key.rate if key.rate else float('nan'):.2f} throughput; "
                  f"target < {VERIFY_TARGET_MS:g} ms at c=1){verdict}")
    p50 = {kind: Result(len(v), 0, 1, v).percentile(0.5) for kind, v in paired.items()}
    added = p50["user"] - p50["secret"]
    print(f"paired gets at c=1 ({len(paired['user'])} of each, interleaved): p50 secret key {p50['secret']:.3f} ms, "
          f"publishable key {p50['public']:.3f} ms, publishable key + user token {p50['user']:.3f} ms")
    print(f"  user token - secret key = {added:+.3f} ms (target < {VERIFY_TARGET_MS:g} ms: "
          f"{'ok' if added < VERIFY_TARGET_MS else 'OVER TARGET'}); of which the token alone "
          f"(user - publishable) {p50['user'] - p50['public']:+.3f} ms, the rule path (publishable - secret) "
          f"{p50['public'] - p50['secret']:+.3f} ms")
    print(f"verification in-process: {cold_us:.0f} us new token, {warm_us:.1f} us seen before")


if __name__ == "__main__":
    main()
