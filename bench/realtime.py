"""Realtime delivery: latency, fan-out, saturation, write cost and memory per connection,
against Parse Server's LiveQuery on the same PostgreSQL in the same run.

    .venv/bin/python bench/realtime.py [--writes 100] [--rate 10] [--no-parse] [--idle 1000,5000]

Services mode (PostgreSQL, Redis). Scenarios:
- latency: N subscribers (1, 100, 1,000) on one collection, writes at a steady rate; each
  create carries its send time, so every delivery gives write-to-delivery latency, and the
  slowest subscriber of each write gives "time until the last subscriber has it". Run on
  one server process, then two (subscribers spread over both), then on Parse LiveQuery.
- saturation: 100 subscribers (in a separate process) while 32 clients create as fast as
  they can: events delivered per second, and every event delivered.
- write cost: create rate with 100 subscribers attached, against none.
- memory: RSS growth of the server for 1,000 and 5,000 idle, subscribed connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    HttpConnection,
    create_database,
    drop_database,
    ensure_parse_installed,
    fmt,
    our_server,
    parse_server,
    print_table,
    run_load,
)
from bench.wsclient import LightSocket, light_connect  # noqa: E402
from tests.services import postgres, redis  # noqa: E402

COLLECTION = "rt"
PARSE_HEADERS = {"X-Parse-Application-Id": "benchapp", "Content-Type": "application/json"}


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(target, 65536)), hard))


def now_us() -> int:
    """Send stamps in microseconds: nanoseconds exceed 2^53 and lose digits in JavaScript."""
    return time.time_ns() // 1000


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the two systems, behind one small interface ------------------------------------------------


class Ours:
    name = "ours"

    def __init__(self, server: Any) -> None:
        self.server = server
        self.ws_url = f"ws://{server.host}:{server.port}/v1/projects/{server.project_id}/realtime?apiKey={server.publishable_key}"
        self.write_headers = {"X-Api-Key": server.secret_key, "Content-Type": "application/json"}
        self.write_path = f"/v1/projects/{server.project_id}/collections/{COLLECTION}/documents"

    @staticmethod
    def subscribe_messages() -> list[str]:
        return ['{"type":"auth","token":null}', json.dumps({"type": "subscribe", "id": "s", "collection": COLLECTION})]

    @staticmethod
    def stamp(message: bytes | str) -> int | None:
        event = orjson.loads(message)
        return event["doc"]["data"]["t"] if event.get("type") == "change" else None

    def body(self, stamp: int) -> bytes:
        return orjson.dumps({"data": {"t": stamp, "text": "x" * 100}})


class Parse:
    name = "parse"

    def __init__(self, port: int) -> None:
        self.port = port
        self.ws_url = f"ws://127.0.0.1:{port}/parse"
        self.write_headers = PARSE_HEADERS
        self.write_path = "/parse/classes/RtBench"

    @staticmethod
    def subscribe_messages() -> list[str]:
        return [
            json.dumps({"op": "connect", "applicationId": "benchapp"}),
            json.dumps({"op": "subscribe", "requestId": 1, "query": {"className": "RtBench", "where": {}}}),
        ]

    @staticmethod
    def stamp(message: bytes | str) -> int | None:
        event = orjson.loads(message)
        return event["object"]["t"] if event.get("op") == "create" else None

    def body(self, stamp: int) -> bytes:
        return orjson.dumps({"t": stamp, "text": "x" * 100})


async def open_subscribers(system: Any, count: int, on_event: Callable[[bytes], None]) -> list[LightSocket]:
    """``count`` subscribed sockets; each later text frame goes to ``on_event``."""
    loop = asyncio.get_running_loop()

    async def one() -> LightSocket:
        ready = loop.create_future()

        def on_text(payload: bytes) -> None:
            if ready.done():
                on_event(payload)
            elif b'"subscribed"' in payload:
                ready.set_result(None)

        socket = await light_connect(system.ws_url, on_text)
        for message in system.subscribe_messages():
            socket.send_text(message)
        await asyncio.wait_for(ready, 60)
        return socket

    sockets: list[LightSocket] = []
    for start in range(0, count, 100):
        sockets.extend(await asyncio.gather(*(one() for _ in range(start, min(count, start + 100)))))
    return sockets


# --- latency --------------------------------------------------------------------------------------------


async def latency_run(
    system: Any, host: str, port: int, subscribers: int, writes: int, rate: float, pid: int | None = None
) -> dict[str, Any]:
    """Latencies, and (given the server's pid) its CPU time per delivered event: CPU time,
    unlike wall-clock latency, hardly moves when other work loads the machine."""
    arrivals: dict[int, list[float]] = {}

    def on_event(payload: bytes) -> None:
        stamp = system.stamp(payload)
        if stamp is not None:
            arrivals.setdefault(stamp, []).append((now_us() - stamp) / 1e3)

    sockets = await open_subscribers(system, subscribers, on_event)
    writer = HttpConnection(host, port)
    sent: list[int] = []
    cpu_before = process_tree_cpu(pid) if pid else 0.0
    for _ in range(writes):
        stamp = now_us()
        status, _ = await writer.request("POST", system.write_path, system.write_headers, system.body(stamp))
        assert status in (200, 201), status
        sent.append(stamp)
        await asyncio.sleep(max(0.0, 1 / rate - (now_us() - stamp) / 1e6))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(len(arrivals.get(s, ())) for s in sent) < writes * subscribers:
        await asyncio.sleep(0.05)
    cpu = process_tree_cpu(pid) - cpu_before if pid else float("nan")
    writer.close()
    for socket in sockets:
        socket.close()
    every = [latency for s in sent for latency in arrivals.get(s, ())]
    last = [max(arrivals[s]) for s in sent if len(arrivals.get(s, ())) == subscribers]
    return {
        "delivered": len(every) / (writes * subscribers),
        "p50": percentile(every, 0.5),
        "p99": percentile(every, 0.99),
        "last_p50": percentile(last, 0.5),
        "last_p99": percentile(last, 0.99),
        "cpu_us_per_event": cpu * 1e6 / len(every) if every else float("nan"),
    }


# --- saturation and write cost (subscribers in their own process) ---------------------------------------


def subscriber_process(ws_url: str, count: int, ready: Any, stop: Any, results: Any) -> None:
    system = Ours.__new__(Ours)
    system.ws_url = ws_url

    async def run() -> None:
        received = [0]
        span: list[float] = []

        def on_event(payload: bytes) -> None:
            if b'"change"' in payload:
                now = time.monotonic()
                if not span:
                    span.extend((now, now))
                span[1] = now
                received[0] += 1

        sockets = await open_subscribers(system, count, on_event)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(2)  # let the tail arrive
        for socket in sockets:
            socket.close()
        results.put((received[0], span[1] - span[0] if span else 0.0))

    asyncio.run(run())


@contextlib.contextmanager
def subscribers_elsewhere(ws_url: str, count: int) -> Any:
    context = multiprocessing.get_context("spawn")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    worker = context.Process(target=subscriber_process, args=(ws_url, count, ready, stop, results))
    worker.start()
    if not ready.wait(120):
        worker.kill()
        raise RuntimeError("subscribers did not connect")
    box: dict[str, Any] = {}
    try:
        yield box
    finally:
        stop.set()
        box["received"], box["span"] = results.get(timeout=120)
        worker.join(30)


async def create_load(system: Any, host: str, port: int, seconds: float, concurrency: int) -> tuple[Any, int]:
    """The measured result, and every create that succeeded (warm-up included)."""
    created = [0]

    async def create(conn: HttpConnection, n: int) -> bool:
        status, _ = await conn.request("POST", system.write_path, system.write_headers, system.body(now_us()))
        created[0] += status in (200, 201)
        return status in (200, 201)

    result = await run_load(host, port, create, concurrency=concurrency, seconds=seconds, warmup=0.5)
    return result, created[0]


# --- memory ------------------------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (the server's workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except FileNotFoundError:
            continue
    return found


def process_tree_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process tree."""
    total = 0
    for current in process_tree(pid):
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except FileNotFoundError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children (the server's workers)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pids.extend(int(child) for child in children.read().split())
        except FileNotFoundError:
            continue
    return total


async def idle_memory(system: Ours, server_pid: int, count: int) -> float:
    await asyncio.sleep(1)
    before = process_tree_rss(server_pid)
    sockets = await open_subscribers(system, count, lambda payload: None)
    await asyncio.sleep(2)
    after = process_tree_rss(server_pid)
    for socket in sockets:
        socket.close()
    await asyncio.sleep(1)
    return (after - before) / count


# --- main --------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=100, help="writes per latency run")
    parser.add_argument("--rate", type=float, default=10, help="writes per second in latency runs")
    parser.add_argument("--subscribers", default="1,100,1000")
    parser.add_argument("--idle", default="1000,5000", help="idle connection counts for memory ('' skips)")
    parser.add_argument("--workers", default="1,2", help="server process counts to run ours with")
    parser.add_argument("--no-cost", action="store_true", help="skip the saturation and write-cost runs")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--no-parse", action="store_true")
    parser.add_argument("--parse-dir", default=str(Path(tempfile.gettempdir()) / "baas-parse-peer"))
    args = parser.parse_args()
    raise_file_limit()
    counts = [int(n) for n in args.subscribers.split(",")]
    log_dir = Path(tempfile.mkdtemp(prefix="baas-bench-rt-"))
    print(f"logs in {log_dir}")
    latency: dict[tuple[str, int], dict[str, Any]] = {}
    extra: list[str] = []
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        for workers in (int(n) for n in args.workers.split(",")):
            url = create_database(admin_url, f"bench_rt_{uuid.uuid4().hex[:6]}")
            stack.callback(drop_database, url)
            label = f"ours x{workers}"
            print(f"\nour server, {workers} process{'es' if workers > 1 else ''}", flush=True)
            with our_server(database_url=url, redis_url=redis_url, workers=workers, log_dir=log_dir) as server:
                system = Ours(server)
                asyncio.run(_open_collection(server))
                for count in counts:
                    latency[(label, count)] = result = asyncio.run(
                        latency_run(system, server.host, server.port, count, args.writes, args.rate, server.pid)
                    )
                    print(f"    {count:>5} subscribers: delivered {result['delivered']:.1%}  p50 {fmt(result['p50'], 2)} ms  "
                          f"p99 {fmt(result['p99'], 2)} ms  last-subscriber p99 {fmt(result['last_p99'], 2)} ms  "
                          f"server CPU {fmt(result['cpu_us_per_event'], 1)} us/event", flush=True)
                if workers == 1:
                    if not args.no_cost:
                        extra.extend(_saturation_and_cost(system, server, args.seconds))
                    for count in (int(n) for n in args.idle.split(",") if n):
                        per = asyncio.run(idle_memory(system, server.pid, count))
                        extra.append(f"memory: {count} idle subscribed connections: {per / 1024:.1f} KB each (target < 100 KB)")
                        print("    " + extra[-1], flush=True)
        if not args.no_parse:
            parse_dir = ensure_parse_installed(Path(args.parse_dir))
            parse_url = create_database(admin_url, f"bench_rt_parse_{uuid.uuid4().hex[:6]}")
            stack.callback(drop_database, parse_url)
            print("\nParse Server LiveQuery", flush=True)
            pids: list[int] = []
            with parse_server(directory=parse_dir, database_url=parse_url, log_dir=log_dir, pids=pids) as port:
                system_p = Parse(port)
                asyncio.run(_parse_warm(port))
                for count in counts:
                    latency[("parse", count)] = result = asyncio.run(
                        latency_run(system_p, "127.0.0.1", port, count, args.writes, args.rate, pids[0])
                    )
                    print(f"    {count:>5} subscribers: delivered {result['delivered']:.1%}  p50 {fmt(result['p50'], 2)} ms  "
                          f"p99 {fmt(result['p99'], 2)} ms  last-subscriber p99 {fmt(result['last_p99'], 2)} ms  "
                          f"server CPU {fmt(result['cpu_us_per_event'], 1)} us/event", flush=True)
    rows = [["system", "subscribers", "delivered", "p50 ms", "p99 ms", "last p50", "last p99", "p99 x parse",
             "server CPU us/event", "CPU x parse"]]  # fmt: skip
    for (label, count), r in latency.items():
        peer = latency.get(("parse", count))
        versus = peer is not None and label != "parse"
        rows.append([
            label, str(count), f"{r['delivered']:.1%}", fmt(r["p50"], 2), fmt(r["p99"], 2), fmt(r["last_p50"], 2),
            fmt(r["last_p99"], 2), fmt(r["p99"] / peer["p99"], 2) if versus else "",
            fmt(r["cpu_us_per_event"], 1), fmt(r["cpu_us_per_event"] / peer["cpu_us_per_event"], 2) if versus else "",
        ])
    print_table(f"realtime latency ({args.writes} writes at {args.rate:g}/s)", rows)
    for line in extra:
        print(line)


async def _open_collection(server: Any) -> None:
    connection = HttpConnection(server.host, server.port)
    status, text = await connection.request(
        "PUT", f"/v1/projects/{server.project_id}/collections/{COLLECTION}",
        {"X-Api-Key": server.secret_key, "Content-Type": "application/json"}, json.dumps({"rules": {"read": "true"}}).encode(),
    )
    connection.close()
    assert status == 200, text


async def _parse_warm(port: int) -> None:
    """Create the class before anyone subscribes to it."""
    connection = HttpConnection("127.0.0.1", port)
    status, _ = await connection.request("POST", "/parse/classes/RtBench", PARSE_HEADERS, orjson.dumps({"t": 0}))
    connection.close()
    assert status in (200, 201)


def _saturation_and_cost(system: Ours, server: Any, seconds: float) -> list[str]:
    lines = []
    alone, _ = asyncio.run(create_load(system, server.host, server.port, seconds, 16))
    with subscribers_elsewhere(system.ws_url, 100) as box:
        watched, created = asyncio.run(create_load(system, server.host, server.port, seconds, 16))
    expected = created * 100
    delivered = box["received"]
    lines.append(
        f"write cost: creates/s with 100 subscribers {fmt(watched.rate, 0)} vs none {fmt(alone.rate, 0)} = "
        f"{watched.rate / alone.rate:.2f}x (target >= 0.7x)"
    )
    lines.append(
        f"saturation: {fmt(delivered / box['span'], 0) if box['span'] else 'n/a'} events/s delivered to 100 subscribers; "
        f"{delivered} of {expected} events ({delivered / expected:.1%})"
    )
    for line in lines:
        print("    " + line, flush=True)
    return lines


if __name__ == "__main__":
    main()
