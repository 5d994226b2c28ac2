"""Document throughput and latency, against Parse Server and raw PostgreSQL in the same run.

    .venv/bin/python bench/documents.py [--seconds 10] [--runs 3] [--workers 2] [--no-parse]

Services mode on PostgreSQL (the one on 127.0.0.1:5432, else a throwaway server) and
Redis. Scenarios, at concurrency 1 and 32, closed loop:
- create: a 1 KB document;
- get: get-by-id among 1,000 documents;
- query: ``where score > X order by score limit 20`` over 100,000 documents, indexed;
- owned-rule / owned-key: a user's first page (limit 20) of 100,000 documents of 1,000
  owners, once with a publishable key and a user token under the owner-only list rule
  ``resource.data.owner == auth.uid``, once with the secret key and an explicit
  ``owner == uid`` filter. Their p50 ratio shows the rule runs inside the SQL.
Each figure is printed with its ratio to Parse Server doing the same work on the same
PostgreSQL, and to raw PostgreSQL running the equivalent single statements.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
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
    ensure_parse_installed,
    fmt,
    median_result,
    our_server,
    parse_server,
    print_table,
    psql,
    random_text,
    run_load,
)
from tests.services import postgres, redis  # noqa: E402

QUERY_DOCS = 100_000
GET_DOCS = 1_000
OWNED_DOCS, OWNERS = 100_000, 1_000
OWNER_RULE = "resource.data.owner == auth.uid"
SCORE_RANGE = 10_000


def one_kb_doc(rng: random.Random) -> dict[str, Any]:
    return {
        "title": random_text(rng, 40),
        "body": random_text(rng, 800),
        "score": rng.randint(0, SCORE_RANGE),
        "tags": ["alpha", "beta", "gamma"],
        "author": {"name": random_text(rng, 20), "karma": rng.randint(0, 100)},
    }


# --- our server ---------------------------------------------------------------------------


def seed_ours(server: Any) -> list[str]:
    """Seed straight into the tables (seeding speed is not what is measured)."""
    url = server.database_url
    psql(
        url,
        "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
        f"SELECT 'bench-app', 'qbench', 'q' || i, jsonb_build_object('score', (i * 7919) % {SCORE_RANGE}, 'name', 'n' || i), 1, now(), now() "
        f"FROM generate_series(1, {QUERY_DOCS}) AS i",
    )
    psql(
        url,
        "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
        "SELECT 'bench-app', 'gbench', 'g' || i, jsonb_build_object('score', i, 'title', repeat('x', 900)), 1, now(), now() "
        f"FROM generate_series(1, {GET_DOCS}) AS i",
    )
    psql(url, "INSERT INTO baas_collection (project_id, name, schema, rules, indexes, built_indexes, config_version, created_at, updated_at) "
         "VALUES ('bench-app', 'gbench', NULL, '{}', '[]', '{}', 1, now(), now()) ON CONFLICT DO NOTHING")
    psql(
        url,
        "INSERT INTO baas_document (project_id, collection, doc_id, data, version, create_time, update_time) "
        f"SELECT 'bench-app', 'obench', 'o' || i, jsonb_build_object('owner', 'owner' || (i % {OWNERS}), 'title', repeat('x', 200)), "
        f"1, now(), now() FROM generate_series(1, {OWNED_DOCS}) AS i",
    )
    asyncio.run(_put_config(server, "qbench", {"indexes": [["score"]]}))
    asyncio.run(_put_config(server, "obench", {"indexes": [["owner"]], "rules": {"read": OWNER_RULE}}))
    psql(url, "VACUUM ANALYZE")  # settle now, not under autovacuum mid-run
    return [f"g{i}" for i in range(1, GET_DOCS + 1)]


async def _put_config(server: Any, collection: str, config: dict[str, Any]) -> None:
    connection = HttpConnection(server.host, server.port)
    status, text = await connection.request(
        "PUT", f"/v1/projects/{server.project_id}/collections/{collection}",
        {"X-Api-Key": server.secret_key, "Content-Type": "application/json"}, json.dumps(config).encode(),
    )
    connection.close()
    assert status == 200, text
    assert collection != "obench" or json.loads(text)["listRuleMode"] == "sql", text


def user_tokens(server: Any) -> list[str]:
    """Real access tokens, one per owner, signed with the project's key."""
    code = (
        "import json; from endusers.tokens import access_token_mint; "
        f"print(json.dumps([access_token_mint('{server.project_id}', 'owner%d' % i, lifetime=6 * 3600) for i in range({OWNERS})]))"
    )
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])  # type: ignore[no-any-return]


def our_operations(server: Any, get_ids: list[str]) -> dict[str, Any]:
    headers = {"X-Api-Key": server.secret_key, "Content-Type": "application/json"}
    tokens = user_tokens(server)
    user_headers = [
        {"X-Api-Key": server.publishable_key, "Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for token in tokens
    ]
    base = f"/v1/projects/{server.project_id}/collections"
    rng = random.Random(1)
    docs = [json.dumps({"data": one_kb_doc(rng)}).encode() for _ in range(200)]

    async def create(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("POST", f"{base}/bench/documents", headers, docs[n % len(docs)])
        return status == 201

    async def get(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("GET", f"{base}/gbench/documents/{get_ids[(n * 7) % len(get_ids)]}", headers)
        return status == 200

    async def query(conn: HttpConnection, n: int) -> bool:
        x = (n * 7919) % (SCORE_RANGE - 100)
        body = json.dumps({"where": {"field": "score", "op": ">", "value": x}, "orderBy": [{"field": "score"}], "limit": 20}).encode()
        status, text = await conn.request("POST", f"{base}/qbench/query", headers, body)
        return status == 200 and text.count(b'"id"') == 20

    first_page = json.dumps({"limit": 20}).encode()

    async def owned_rule(conn: HttpConnection, n: int) -> bool:
        status, text = await conn.request("POST", f"{base}/obench/query", user_headers[(n * 7) % OWNERS], first_page)
        return status == 200 and text.count(b'"owner"') == 20

    async def owned_key(conn: HttpConnection, n: int) -> bool:
        where = {"where": {"field": "owner", "op": "==", "value": f"owner{(n * 7) % OWNERS}"}, "limit": 20}
        status, text = await conn.request("POST", f"{base}/obench/query", headers, json.dumps(where).encode())
        return status == 200 and text.count(b'"owner"') == 20

    return {"create": create, "get": get, "query": query, "owned-rule": owned_rule, "owned-key": owned_key}


# --- Parse Server -------------------------------------------------------------------------


PARSE_HEADERS = {"X-Parse-Application-Id": "benchapp", "Content-Type": "application/json"}


def seed_parse(port: int, database_url: str) -> list[str]:
    async def seed() -> list[str]:
        connection = HttpConnection("127.0.0.1", port)
        ids = []
        master = {**PARSE_HEADERS, "X-Parse-Master-Key": "benchmaster"}
        for i in range(GET_DOCS):
            status, text = await connection.request(
                "POST", "/parse/classes/GBench", PARSE_HEADERS, json.dumps({"score": i, "title": "x" * 900}).encode()
            )
            assert status == 201, text
            ids.append(json.loads(text)["objectId"])
        status, text = await connection.request("POST", "/parse/classes/QBench", PARSE_HEADERS, json.dumps({"score": 0, "name": "n0"}).encode())
        assert status == 201, text
        status, text = await connection.request("POST", "/parse/classes/Bench", master, json.dumps(one_kb_doc(random.Random(0))).encode())
        assert status == 201, text
        connection.close()
        return ids

    ids = asyncio.run(seed())
    # The rest of the query collection goes straight into Parse's own table.
    psql(
        database_url,
        'INSERT INTO "QBench" ("objectId", "createdAt", "updatedAt", score, name) '
        f"SELECT substr(md5(i::text), 1, 10), now(), now(), (i * 7919) % {SCORE_RANGE}, 'n' || i FROM generate_series(1, {QUERY_DOCS - 1}) AS i",
    )
    psql(database_url, 'CREATE INDEX ON "QBench" (score)')
    psql(database_url, "VACUUM ANALYZE")
    return ids


def parse_operations(get_ids: list[str]) -> dict[str, Any]:
    rng = random.Random(1)
    docs = [json.dumps(one_kb_doc(rng)).encode() for _ in range(200)]

    async def create(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("POST", "/parse/classes/Bench", PARSE_HEADERS, docs[n % len(docs)])
        return status == 201

    async def get(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("GET", f"/parse/classes/GBench/{get_ids[(n * 7) % len(get_ids)]}", PARSE_HEADERS)
        return status == 200

    async def query(conn: HttpConnection, n: int) -> bool:
        from urllib.parse import quote

        x = (n * 7919) % (SCORE_RANGE - 100)
        where = quote(json.dumps({"score": {"$gt": x}}))
        status, text = await conn.request("GET", f"/parse/classes/QBench?where={where}&order=score&limit=20", PARSE_HEADERS)
        return status == 200 and text.count(b'"objectId"') == 20

    return {"create": create, "get": get, "query": query}


# --- raw PostgreSQL -----------------------------------------------------------------------


async def raw_postgres(database_url: str, concurrency: int, seconds: float) -> dict[str, Result]:
    """The same single statements straight through psycopg: the floor under any server."""
    import time

    import psycopg

    rng = random.Random(2)
    docs = [json.dumps(one_kb_doc(rng)) for _ in range(200)]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as setup:
        await setup.execute("CREATE TABLE IF NOT EXISTS raw_bench (id bigserial PRIMARY KEY, data jsonb)")
        await setup.execute("CREATE TABLE IF NOT EXISTS raw_query (id text PRIMARY KEY, data jsonb)")
        await setup.execute(
            "INSERT INTO raw_query SELECT 'q' || i, jsonb_build_object('score', (i * 7919) %% %s) FROM generate_series(1, %s) i ON CONFLICT DO NOTHING",
            [SCORE_RANGE, QUERY_DOCS],
        )
        await setup.execute("CREATE INDEX IF NOT EXISTS raw_query_score ON raw_query ((data -> 'score'))")
        await setup.execute("VACUUM ANALYZE raw_query")
    statements = {
        "create": lambda n: ("INSERT INTO raw_bench (data) VALUES (%s::jsonb) RETURNING id", [docs[n % 200]]),
        "get": lambda n: ("SELECT data FROM raw_query WHERE id = %s", [f"q{(n * 7) % GET_DOCS + 1}"]),
        "query": lambda n: (
            "SELECT id, data FROM raw_query WHERE data -> 'score' > %s::jsonb ORDER BY data -> 'score' LIMIT 20",
            [str((n * 7919) % (SCORE_RANGE - 100))],
        ),
    }
    results: dict[str, Result] = {}
    for name, make in statements.items():
        latencies: list[float] = []
        connections = [await psycopg.AsyncConnection.connect(database_url, autocommit=True) for _ in range(concurrency)]
        stop_at = time.perf_counter() + seconds
        counter = 0

        async def client(conn: Any) -> None:
            nonlocal counter
            while time.perf_counter() < stop_at:
                counter += 1
                sql, params = make(counter)
                started = time.perf_counter()
                cursor = await conn.execute(sql, params)
                await cursor.fetchall()
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(client(c) for c in connections))
        for conn in connections:
            await conn.close()
        results[name] = Result(len(latencies), 0, seconds, latencies)
    return results


# --- main ---------------------------------------------------------------------------------


def measure(
    host: str, port: int, operations: dict[str, Any], *, concurrencies: list[int], seconds: float, runs: int, settle: Any
) -> dict[tuple[str, int], Result]:
    figures = {}
    for name, operation in operations.items():
        settle()  # vacuum what the last scenario wrote, so autovacuum does not run mid-measurement
        for concurrency in concurrencies:
            results = [asyncio.run(run_load(host, port, operation, concurrency=concurrency, seconds=seconds)) for _ in range(runs)]
            figures[(name, concurrency)] = median_result(results)
            r = figures[(name, concurrency)]
            print(f"    {name:<7} c={concurrency:<3} {fmt(r.rate, 0):>8} req/s  p50 {fmt(r.percentile(0.5), 2)} ms  p99 {fmt(r.percentile(0.99), 2)} ms  errors {r.errors}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--no-parse", action="store_true")
    parser.add_argument("--parse-dir", default=str(Path(tempfile.gettempdir()) / "baas-parse-peer"))
    parser.add_argument("--only", default="create,get,query,owned-rule,owned-key")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    only = args.only.split(",")
    log_dir = Path(tempfile.mkdtemp(prefix="baas-bench-"))
    print(f"logs in {log_dir}")
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        ours_url = create_database(admin_url, f"bench_ours_{uuid.uuid4().hex[:6]}")
        stack.callback(drop_database, ours_url)
        print("\nour server")
        with our_server(database_url=ours_url, redis_url=redis_url, workers=args.workers, log_dir=log_dir) as server:
            get_ids = seed_ours(server)
            ops = {k: v for k, v in our_operations(server, get_ids).items() if k in only}
            ours = measure(
                server.host, server.port, ops, concurrencies=concurrencies, seconds=args.seconds, runs=args.runs,
                settle=lambda: psql(ours_url, "VACUUM ANALYZE"),
            )
        parse: dict[tuple[str, int], Result] = {}
        if not args.no_parse:
            parse_dir = ensure_parse_installed(Path(args.parse_dir))
            parse_url = create_database(admin_url, f"bench_parse_{uuid.uuid4().hex[:6]}")
            stack.callback(drop_database, parse_url)
            print("\nParse Server")
            with parse_server(directory=parse_dir, database_url=parse_url, log_dir=log_dir) as port:
                get_ids = seed_parse(port, parse_url)
                ops = {k: v for k, v in parse_operations(get_ids).items() if k in only}
                parse = measure(
                    "127.0.0.1", port, ops, concurrencies=concurrencies, seconds=args.seconds, runs=args.runs,
                    settle=lambda: psql(parse_url, "VACUUM ANALYZE"),
                )
        raw_url = create_database(admin_url, f"bench_raw_{uuid.uuid4().hex[:6]}")
        stack.callback(drop_database, raw_url)
        print("\nraw PostgreSQL")
        raw: dict[tuple[str, int], Result] = {}
        for concurrency in concurrencies:
            for name, result in asyncio.run(raw_postgres(raw_url, concurrency, args.seconds)).items():
                if name in only:
                    raw[(name, concurrency)] = result
                    print(f"    {name:<7} c={concurrency:<3} {fmt(result.rate, 0):>8} stmt/s  p50 {fmt(result.percentile(0.5), 2)} ms  p99 {fmt(result.percentile(0.99), 2)} ms", flush=True)
    rows = [["scenario", "ours req/s", "p50 ms", "p99 ms", "parse req/s", "parse p99", "x parse", "raw pg/s", "x raw pg"]]
    for key, ours_result in ours.items():
        peer, floor = parse.get(key), raw.get(key)
        rows.append([
            f"{key[0]} c={key[1]}",
            fmt(ours_result.rate, 0),
            fmt(ours_result.percentile(0.5), 2),
            fmt(ours_result.percentile(0.99), 2),
            fmt(peer.rate, 0) if peer else "n/a",
            fmt(peer.percentile(0.99), 2) if peer else "n/a",
            fmt(ours_result.rate / peer.rate, 2) if peer and peer.rate else "n/a",
            fmt(floor.rate, 0) if floor else "n/a",
            fmt(ours_result.rate / floor.rate, 2) if floor and floor.rate else "n/a",
        ])
    print_table(f"documents benchmark ({args.runs} runs of {args.seconds:g}s, median; {args.workers} web workers)", rows)
    for concurrency in concurrencies:
        rule, key = ours.get(("owned-rule", concurrency)), ours.get(("owned-key", concurrency))
        if rule and key:
            ratio = rule.percentile(0.5) / key.percentile(0.5)
            print(f"owner-only list rule vs secret key + filter, c={concurrency}: p50 {fmt(rule.percentile(0.5), 2)} / "
                  f"{fmt(key.percentile(0.5), 2)} ms = {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
