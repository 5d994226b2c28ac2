"""Micro-benchmark of the functions sandbox: sandbox_run of a trivial handler, end to end
(write the code, hand the job over, run, read the result and output, kill, clean up).

    .venv/bin/python bench/functions_sandbox.py [--runs 50] [--isolation bwrap,process]

- cold: no pool, each run starts its sandbox process (bubblewrap + interpreter);
- warm: the pool is topped up before each run, which finds a ready process;
- back-to-back: runs one after another without waiting, so the refill competes with
  them (a busy worker's steady state).

Prints p50/p99 per isolation. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CODE = {"main.py": "def handler(event, ctx):\n    return {'echo': event.data}\n"}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--isolation", default="bwrap,process")
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "baas.settings")
    os.environ.setdefault("BAAS_DATA_DIR", tempfile.mkdtemp(prefix="baas-bench-"))
    import django

    django.setup()
    from django.conf import settings

    from functions import pool
    from functions.sandbox import Limits, sandbox_run

    def once(n: int) -> float:
        started = time.perf_counter()
        result = sandbox_run(files=CODE, entrypoint="main:handler", event={"data": n}, env={}, context={},
                             limits=Limits(timeout_seconds=10), bridge=None)
        elapsed = (time.perf_counter() - started) * 1000
        if result.status != "succeeded" or result.result != {"echo": n}:
            raise SystemExit(f"run failed: {result}")
        return elapsed

    print(f"sandbox_run of a trivial handler, {options.runs} runs each, {os.cpu_count()} cores")
    print(f"{'isolation':<10} {'case':<13} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for isolation in options.isolation.split(","):
        settings.BAAS_FUNCTIONS_SANDBOX = isolation
        pool.pools_stop()
        pool.mode_reset()
        pool.sandbox_mode()  # detect (and probe bwrap) outside the timings
        cases: dict[str, list[float]] = {}

        settings.BAAS_FUNCTIONS_POOL_SIZE = 0
        once(-1)
        cases["cold"] = [once(n) for n in range(options.runs)]

        settings.BAAS_FUNCTIONS_POOL_SIZE = 2
        warm_pool = pool.pool_get(allow_network=True)
        assert warm_pool is not None
        warm = []
        for n in range(options.runs):
            warm_pool.wait_ready(30)
            time.sleep(0.02)  # let the refill's interpreter settle after it reported ready
            warm.append(once(n))
        cases["warm"] = warm
        warm_pool.wait_ready(30)
        cases["back-to-back"] = [once(n) for n in range(options.runs)]
        pool.pools_stop()

        for case, samples in cases.items():
            print(f"{isolation:<10} {case:<13} {statistics.median(samples):8.1f} {percentile(samples, 0.99):8.1f} "
                  f"{statistics.fmean(samples):8.1f}")


if __name__ == "__main__":
    main()
