"""The whole test suite, in both runtime modes: ``bin/baas test [pytest args]``.

Pass 1, embedded: SQLite in a fresh data dir, in-process channel layer and job worker.
Pass 2, services: PostgreSQL and Redis (found on the standard ports or started here),
a database and key prefix private to this run, and object storage in S3 mode. Tests
marked ``services`` run only in pass 2 and tests marked ``embedded`` only in pass 1:
each is deselected, never skipped. Both passes get an S3-compatible endpoint
(``BAAS_TEST_S3_ENDPOINT_URL``, else a moto server started here): the storage tests
run on both backends in both passes.
When ``CI`` or ``BAAS_REQUIRE_SERVICES`` is set, missing services fail the run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid

from tests import services

SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "BAAS_STORAGE")
STORAGE_VARIABLES = ("BAAS_S3_ENDPOINT_URL", "BAAS_S3_BUCKET", "BAAS_S3_ACCESS_KEY_ID", "BAAS_S3_SECRET_ACCESS_KEY", "BAAS_S3_PREFIX")


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _pytest(env: dict[str, str], marker: str, args: list[str]) -> int:
    # Tests drive the change-log sequencer by hand; servers they start run their own.
    # Function schedules and sweeps tick every second, so tests of them wait seconds, not minutes.
    env = {**env, "BAAS_CHANGELOG_SEQUENCER": "0", "BAAS_FUNCTIONS_TICK_SECONDS": "1"}
    command = [sys.executable, "-m", "pytest", "-m", marker, *args]
    print(f"\n=== {env['BAAS_TEST_MODE']} mode: {' '.join(command[2:])}", flush=True)
    return subprocess.run(command, env=env).returncode


def run_embedded(args: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES + STORAGE_VARIABLES}
    with tempfile.TemporaryDirectory(prefix="baas-test-") as data_dir:
        env.update(BAAS_DATA_DIR=data_dir, BAAS_TEST_MODE="embedded")
        return _pytest(env, "not services", args)


def run_services(args: list[str], *, required: bool) -> int:
    with contextlib.ExitStack() as stack:
        try:
            database_url = os.environ.get("DATABASE_URL") or stack.enter_context(services.postgres())
            redis_url = os.environ.get("REDIS_URL") or stack.enter_context(services.redis())
        except Exception as exc:
            if required:
                print(f"\n=== services mode: FAILED, a required service is missing: {exc}", flush=True)
                return 1
            print(f"\n=== services mode: not run ({exc}); set up PostgreSQL and Redis to run it", flush=True)
            return 0
        run_id = uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory(prefix="baas-test-") as data_dir:
            env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES + STORAGE_VARIABLES}
            env.update(services.s3_settings(os.environ["BAAS_TEST_S3_ENDPOINT_URL"], f"baas-test-{run_id}"))
            env.update(
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                BAAS_KEY_PREFIX=f"baas-test-{run_id}",
                BAAS_DATA_DIR=data_dir,
                BAAS_TEST_MODE="services",
                BAAS_REQUIRE_SERVICES="1",
            )
            return _pytest(env, "not embedded", args)


def main(argv: list[str]) -> int:
    required = _truthy("CI") or _truthy("BAAS_REQUIRE_SERVICES")
    modes = os.environ.get("BAAS_TEST_MODES", "embedded,services").split(",")
    results: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        try:
            os.environ["BAAS_TEST_S3_ENDPOINT_URL"] = stack.enter_context(services.s3())
        except Exception as exc:
            print(f"\n=== test suite: FAILED, no S3-compatible endpoint for the storage tests: {exc}", flush=True)
            return 1
        if "embedded" in modes:
            results["embedded"] = run_embedded(argv)
        if "services" in modes:
            results["services"] = run_services(argv, required=required)
    summary = ", ".join(f"{mode}: {'ok' if code == 0 else f'failed ({code})'}" for mode, code in results.items())
    print(f"\n=== test suite: {summary}", flush=True)
    return 0 if results and all(code == 0 for code in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
