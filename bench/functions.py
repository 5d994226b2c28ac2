"""Cloud functions: callable round trip (warm and cold) and document-trigger latency.

    .venv/bin/python bench/functions.py [--calls 300] [--events 60]

Services mode: PostgreSQL (the one on 127.0.0.1:5432, else a throwaway server), Redis,
one web process and one Celery worker process (thread pool), as in production.
- warm call: `POST …/functions/echo:call` a quarter second apart, so each finds a started
  sandbox in the worker's pool; the ratio is to a secret-key document get on the same
  server in the same run (the cost of an HTTP round trip here), since absolute numbers
  drift on a shared machine;
- back-to-back calls: no pause, so calls outpace the pool's refill (a sandbox process is
  used once) and the rate of starting sandboxes bounds them: latency and calls/s;
- cold call: the same with the worker's pool switched off (a fresh sandbox process per
  call);
- document trigger: a document written over HTTP to the function's first line running,
  with the function stamping its start (same machine clock);
- where a warm call's time goes, from its execution rows: the request's checks to the
  worker's start (the Celery hop), the sandbox (job handed over to result), and the
  worker's start to the committed outcome.
Targets on this 2-core machine: warm call p50 < 30 ms; document trigger p50 < 200 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, create_database, drop_database, fmt, our_server, print_table, process, psql  # noqa: E402
from tests.services import postgres, redis  # noqa: E402

ECHO = "def handler(event, ctx):\n    return event.data\n"
STAMP = """
import time
from baas_functions import on_document_created

@on_document_created("events")
def handler(event, ctx):
    started = time.time()
    ctx.db.collection("stamps").doc(event.subject).set({"started": started})
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def worker(env: dict[str, str], log: Path, ready: Callable[[], bool], **extra: str) -> Any:
    """A worker process, ready once ``ready()`` (a call that went through) says so."""
    command = [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads", "--concurrency=4",
               "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"]
    with process(command, env={**env, **extra}, cwd=ROOT, log=log) as proc:
        deadline = time.monotonic() + 90
        while not ready():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(log.read_text())
        yield proc


def timed_calls(session: requests.Session, url: str, count: int, body: dict[str, Any], gap: float = 0.0) -> list[float]:
    """``count`` calls one after another, ``gap`` seconds apart (0: back to back)."""
    samples = []
    for n in range(count):
        if gap:
            time.sleep(gap)
        started = time.perf_counter()
        response = session.post(url, json=body)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"call {n}: {response.status_code} {response.text}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between warm calls")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        admin_url = stack.enter_context(postgres())
        redis_url = stack.enter_context(redis())
        database_url = create_database(admin_url, f"bench_functions_{uuid.uuid4().hex[:6]}")
        stack.callback(drop_database, database_url)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-functions-")))
        server = stack.enter_context(our_server(database_url=database_url, redis_url=redis_url, workers=1, log_dir=log_dir))
        base = f"http://{server.host}:{server.port}/v1/projects/{server.project_id}"
        session = requests.Session()
        session.headers["X-Api-Key"] = server.secret_key

        for name, source in (("echo", ECHO), ("stamp", STAMP)):
            deployed = session.post(f"{base}/functions", json={"name": name, "source": source})
            assert deployed.status_code == 201, deployed.text
        assert session.put(f"{base}/collections/things/documents/t1", json={"data": {"n": 1}}).status_code in (200, 201)

        rows = []

        def answers() -> bool:
            return session.post(f"{base}/functions/echo:call", json={"data": 0}, timeout=30).status_code == 200

        with worker(server.env, log_dir / "worker-warm.log", answers):
            timed_calls(session, f"{base}/functions/echo:call", 20, {"data": {"n": 1}})  # fill the pool
            # Warm: each call finds a started sandbox (the pool refills between calls).
            warm_began = time.time()
            warm = timed_calls(session, f"{base}/functions/echo:call", args.calls, {"data": {"n": 1}}, gap=args.gap)
            warm_ended = time.time()
            # Back to back: calls outpace the pool's refill, which then bounds the rate.
            started = time.perf_counter()
            back_to_back = timed_calls(session, f"{base}/functions/echo:call", args.calls, {"data": {"n": 1}})
            back_to_back_rate = len(back_to_back) / (time.perf_counter() - started)
            baseline = []
            for _ in range(args.calls):
                started = time.perf_counter()
                assert session.get(f"{base}/collections/things/documents/t1").status_code == 200
                baseline.append((time.perf_counter() - started) * 1000)
            trigger = []
            for n in range(args.events):
                doc_id = f"e{n}"
                written = time.time()
                assert session.put(f"{base}/collections/events/documents/{doc_id}", json={"data": {"n": n}}).status_code in (200, 201)
                deadline = time.monotonic() + 30
                while True:
                    stamp = session.get(f"{base}/collections/stamps/documents/{doc_id}")
                    if stamp.status_code == 200:
                        trigger.append((stamp.json()["data"]["started"] - written) * 1000)
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"event {n} never ran")
                    time.sleep(0.005)
        with worker(server.env, log_dir / "worker-cold.log", answers, BAAS_FUNCTIONS_POOL_SIZE="0"):
            cold = timed_calls(session, f"{base}/functions/echo:call", max(20, args.calls // 10), {"data": {"n": 1}})

        breakdown = psql(database_url, (
            "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at) * 1000)::numeric, 2), "
            "round(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)::numeric, 2), "
            "round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000)::numeric, 2) "
            "FROM baas_function_execution WHERE function_name = 'echo' AND status = 'succeeded' "
            f"AND created_at BETWEEN to_timestamp({warm_began}) AND to_timestamp({warm_ended})"
        )).strip()
        print("warm calls, p50 ms: request checked -> started | in sandbox | started -> finished:", breakdown)
        base_p50 = statistics.median(baseline)
        for label, samples in (("warm call", warm), (f"back-to-back call ({back_to_back_rate:.0f}/s)", back_to_back),
                               ("cold call (no pool)", cold), ("document trigger", trigger),
                               ("document get (baseline)", baseline)):
            p50 = statistics.median(samples)
            rows.append([label, str(len(samples)), fmt(p50, 2), fmt(percentile(samples, 0.99), 2), fmt(p50 / base_p50, 2)])
        print_table("Cloud functions (ms; ratio = p50 / document get p50 in the same run)",
                    [["scenario", "n", "p50", "p99", "x get"], *rows])
        print(json.dumps({
            "warm_call_p50_ms": round(statistics.median(warm), 2),
            "back_to_back_call_p50_ms": round(statistics.median(back_to_back), 2),
            "back_to_back_calls_per_second": round(back_to_back_rate, 1),
            "cold_call_p50_ms": round(statistics.median(cold), 2),
            "document_trigger_p50_ms": round(statistics.median(trigger), 2),
            "targets": {"warm_call_p50_ms": 30, "document_trigger_p50_ms": 200},
        }))


if __name__ == "__main__":
    main()
