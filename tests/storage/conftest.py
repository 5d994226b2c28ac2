"""Storage fixtures: one real server per backend (local files, and S3 against a real
S3-compatible HTTP endpoint), shared by the session; each test gets fresh projects."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import services
from tests.conftest import LiveServer, start_server, stop_process

BACKENDS = ["local", "s3"]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The run's endpoint (tests/run.py starts one), else one started here; never a skip."""
    configured = os.environ.get("BAAS_TEST_S3_ENDPOINT_URL")
    if configured:
        yield configured
        return
    with services.s3() as url:
        yield url


@pytest.fixture(scope="session")
def s3_env(s3_endpoint: str) -> dict[str, str]:
    return services.s3_settings(s3_endpoint, f"baas-storage-{uuid.uuid4().hex[:8]}")


@dataclass
class StorageTarget:
    """A running server on one backend, and a view of that backend's stored keys."""

    backend: str
    server: LiveServer
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def store(self) -> Any:
        """A backend object configured like the server's, to look at what is stored."""
        from storage.backends import LocalBackend, S3Backend, S3Config

        if self.backend == "local":
            return LocalBackend(Path(self.env["BAAS_STORAGE_LOCAL_DIR"]), 256 * 1024)
        return S3Backend(
            S3Config(
                bucket=self.env["BAAS_S3_BUCKET"],
                endpoint_url=self.env["BAAS_S3_ENDPOINT_URL"],
                region=self.env["BAAS_S3_REGION"],
                access_key_id=self.env["BAAS_S3_ACCESS_KEY_ID"],
                secret_access_key=self.env["BAAS_S3_SECRET_ACCESS_KEY"],
                prefix=self.env["BAAS_S3_PREFIX"],
                addressing_style="path",
                part_size=8 * 1024 * 1024,
                chunk_size=256 * 1024,
            )
        )

    def keys(self, prefix: str = "projects/") -> list[str]:
        return list(self.store().keys(prefix))

    def wipe(self) -> None:
        """Every test starts with an empty store (the database is emptied between tests too)."""
        store = self.store()
        if self.backend == "local":
            shutil.rmtree(store.root, ignore_errors=True)
            return
        for key in store.keys(""):
            store.client.delete_object(Bucket=store.config.bucket, Key=store.config.prefix + key)
        answer = store.client.list_multipart_uploads(Bucket=store.config.bucket, Prefix=store.config.prefix)
        for upload in answer.get("Uploads", []):
            store.client.abort_multipart_upload(Bucket=store.config.bucket, Key=upload["Key"], UploadId=upload["UploadId"])

    def unfinished(self) -> list[Any]:
        """Uploads that were started and not finished (temporary files, multipart uploads)."""
        store = self.store()
        return list(store.incoming()) if self.backend == "local" else store.pending_uploads("projects/")


@pytest.fixture(scope="session")
def storage_servers(django_db_setup: Any, django_db_blocker: Any, s3_env: dict[str, str], tmp_path_factory: Any) -> Iterator[Any]:
    """Servers started on first use, one per backend, stopped at the end of the session."""
    started: dict[str, StorageTarget] = {}
    tmp = tmp_path_factory.mktemp("storage-servers")

    def get(backend: str) -> StorageTarget:
        if backend not in started:
            if backend == "local":
                env = {"BAAS_STORAGE": "local", "BAAS_STORAGE_LOCAL_DIR": str(tmp / "local-store")}
            else:
                env = {**s3_env, "BAAS_S3_PREFIX": f"run-{uuid.uuid4().hex[:6]}/", "BAAS_S3_PRESIGNED": "1"}
            env["BAAS_S3_PART_SIZE"] = str(8 * 1024 * 1024)
            with django_db_blocker.unblock():
                started[backend] = StorageTarget(backend, start_server(tmp, f"storage-{backend}", **env), env)
        return started[backend]

    yield get
    for target in started.values():
        stop_process(target.server.process)


@pytest.fixture(params=BACKENDS)
def target(request: Any, storage_servers: Any, transactional_db: Any) -> Iterator[StorageTarget]:
    """The server on one backend. A test during which the server logged an error fails
    (a 500 is never an acceptable answer), showing the log."""
    server = storage_servers(request.param)
    server.wipe()
    start = server.server.log_path.stat().st_size
    yield server
    with server.server.log_path.open("rb") as log:
        log.seek(start)
        errors = [line for line in log.read().decode(errors="replace").splitlines() if '"level": "ERROR"' in line]
    if errors:
        pytest.fail("the server logged errors:\n" + "\n".join(line[:2000] for line in errors[-3:]))


class Http:
    """requests against a live server, with a key and optionally an end user's token."""

    def __init__(self, base: str, key: str | None = None, bearer: str | None = None) -> None:
        self.base, self.key, self.bearer = base, key, bearer
        self.session = requests.Session()

    def as_user(self, bearer: str | None) -> Http:
        return Http(self.base, self.key, bearer)

    def with_key(self, key: str | None) -> Http:
        return Http(self.base, key, self.bearer)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.key:
            headers.setdefault("X-Api-Key", self.key)
        if self.bearer:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        kwargs.setdefault("timeout", 60)
        url = path if path.startswith("http") else self.base + path
        return self.session.request(method, url, headers=headers, **kwargs)

    def __getattr__(self, method: str) -> Any:
        if method in ("get", "put", "post", "delete", "head", "patch"):
            return lambda path, **kw: self.request(method.upper(), path, **kw)
        raise AttributeError(method)


@pytest.fixture
def admin(target: StorageTarget, project: Any) -> Http:
    return Http(target.url, project.secret_key)


@pytest.fixture
def app(target: StorageTarget, project: Any) -> Http:
    return Http(target.url, project.publishable_key)


@pytest.fixture
def other_admin(target: StorageTarget, other_project: Any) -> Http:
    return Http(target.url, other_project.secret_key)


def error_of(response: requests.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return response.status_code, body["error"]["code"]


def bucket_create(http: Http, name: str = "files", project: str = "alpha-app", **fields: Any) -> dict[str, Any]:
    response = http.post(f"/v1/projects/{project}/buckets", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def objects_url(bucket: str = "files", project: str = "alpha-app") -> str:
    return f"/v1/projects/{project}/buckets/{bucket}/objects"


def object_url(path: str, bucket: str = "files", project: str = "alpha-app") -> str:
    from urllib.parse import quote

    return f"{objects_url(bucket, project)}/{quote(path, safe='/')}"
