"""Shared fixtures: projects of two tenants, clients per key kind, live servers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
MODE = os.environ.get("BAAS_TEST_MODE", "embedded")


def pytest_configure(config: Any) -> None:
    _retry_flush_on_deadlock()


def _retry_flush_on_deadlock() -> None:
    """Between transactional tests the database is emptied with one TRUNCATE of every
    table. A server or worker process a test runs (stopping, or shared by a module's
    tests) may be in a transaction touching two tables at that moment, and PostgreSQL then
    picks one side as a deadlock victim. When it is the flush, it is run again, as any
    deadlock victim should be."""
    from django.db import OperationalError
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        for attempt in range(6):
            try:
                return original(self, sql_list)
            except OperationalError as error:
                if "deadlock detected" not in str(error) or attempt == 5:
                    raise
                time.sleep(0.2 * (attempt + 1))

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]


def pytest_runtest_setup(item: Any) -> None:
    """A test marked ``services`` run outside services mode fails loudly: never a skip."""
    if item.get_closest_marker("services") and MODE != "services":
        pytest.fail("this test needs services mode (PostgreSQL, Redis): run it through `bin/baas test`")


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings: Any) -> None:
    settings.BAAS_RATE_LIMIT_PER_IP = 10**9
    settings.BAAS_RATE_LIMIT_PER_KEY = 10**9
    # Ids repeat across tests (rolled back); a fresh namespace keeps counts apart.
    settings.BAAS_RATE_LIMIT_NAMESPACE = uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Each test's database is rolled back; its cache entries must not outlive it either.
    A fresh key prefix gives every test an empty shared cache without flushing Redis."""
    from django.core.cache import cache

    from projects import caching
    from projects.documents import config

    from baas.api import authentication
    from endusers import keys as enduser_keys

    caching.local_clear()
    enduser_keys.local_clear()
    config.local_clear()
    config._known.clear()
    authentication._last_touch.clear()
    original_prefix = cache.key_prefix
    cache.key_prefix = f"{original_prefix}:t{uuid.uuid4().hex[:12]}"
    yield
    cache.key_prefix = original_prefix
    caching.local_clear()
    config.local_clear()
    config._known.clear()


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


class Api:
    """A JSON client over Django's test client, with an optional key or bearer token."""

    def __init__(self, client: Any, *, key: str | None = None, bearer: str | None = None) -> None:
        self.client, self.key, self.bearer = client, key, bearer

    def with_key(self, key: str | None) -> Api:
        return Api(self.client, key=key, bearer=self.bearer)

    def with_bearer(self, bearer: str | None) -> Api:
        return Api(self.client, key=self.key, bearer=bearer)

    def request(self, method: str, path: str, json: Any = None, *, raw: bytes | None = None,
                content_type: str = "application/json", headers: dict[str, str] | None = None) -> Response:
        extra: dict[str, str] = {}
        if self.key:
            extra["HTTP_X_API_KEY"] = self.key
        if self.bearer:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {self.bearer}"
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        data = raw if raw is not None else (orjson.dumps(json) if json is not None else None)
        kwargs: dict[str, Any] = dict(extra)
        if data is not None:
            kwargs.update(data=data, content_type=content_type)
        response = getattr(self.client, method.lower())(path, **kwargs)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body: Any
        try:
            body = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            body = content
        return Response(response.status_code, body, {k.lower(): v for k, v in response.items()})

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("PUT", path, json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Response:
        return self.request("PATCH", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def project(db: Any) -> Any:
    from projects.services import project_create

    return project_create(project_id="alpha-app", name="Alpha")


@pytest.fixture
def other_project(db: Any) -> Any:
    from projects.services import project_create

    return project_create(project_id="beta-app", name="Beta")


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


@pytest.fixture
def secret_api(api: Api, project: Any) -> Api:
    return api.with_key(project.secret_key)


@pytest.fixture
def public_api(api: Api, project: Any) -> Api:
    return api.with_key(project.publishable_key)


@pytest.fixture
def enduser_token(db: Any) -> Any:
    """``enduser_token(project, uid, claims=None, **kw)``: a real access token for an end
    user of ``project`` (the ``project`` fixture's value), as sign-in would issue."""
    from endusers.tokens import access_token_mint

    def mint(project: Any, uid: str, claims: dict[str, Any] | None = None, **kw: Any) -> str:
        return access_token_mint(project.project.id, uid, claims or {}, **kw)

    return mint


@pytest.fixture
def console_user(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="ada", email="ada@example.com", password="x-Long-pass-42")


# --- live servers ---------------------------------------------------------------------------


def session_database_url() -> str:
    """The URL of the database the test session created, for servers in other processes."""
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    return (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )


def server_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=session_database_url(),
        BAAS_RATE_LIMIT_PER_IP=str(10**9),
        BAAS_RATE_LIMIT_PER_KEY=str(10**9),
        PYTHONUNBUFFERED="1",
        BAAS_CHANGELOG_SEQUENCER="1",
    )
    env.update(overrides)
    return env


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp_dir: Path, name: str = "web", **env: str) -> LiveServer:
    from tests.services import free_port

    port = free_port()
    log_path = tmp_dir / f"{name}-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "baas.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=server_env(**env),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return LiveServer(url, process, log_path)
        except requests.RequestException:
            time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"server did not answer within 30s:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture
def asgi_server_factory(transactional_db: Any, tmp_path: Path) -> Iterator[Any]:
    started: list[LiveServer] = []

    def factory(name: str = "web", **env: str) -> LiveServer:
        server = start_server(tmp_path, name, **env)
        started.append(server)
        return server

    yield factory
    for server in started:
        stop_process(server.process)


@pytest.fixture
def asgi_server(asgi_server_factory: Any) -> LiveServer:
    return asgi_server_factory()
