"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.conftest import MODE


def test_healthz(api: Any) -> None:
    response = api.get("/healthz")
    assert response.status == 200 and response.body == {"status": "ok"}


def test_readyz_checks_every_dependency_of_the_mode(api: Any, db: Any) -> None:
    response = api.get("/readyz")
    assert response.status == 200, response.body
    checks = response.body["checks"]
    expected = {"database", "redis", "broker"} if MODE == "services" else {"database"}
    assert set(checks) == expected
    assert all(check["status"] == "ok" for check in checks.values())


@pytest.mark.services
def test_readyz_is_503_when_redis_is_unreachable(api: Any, db: Any, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api.get("/readyz")
    assert response.status == 503
    assert response.body["status"] == "unavailable"
    assert response.body["checks"]["redis"]["status"] == "error"
    assert response.body["checks"]["database"]["status"] == "ok"


def test_metrics_count_requests(api: Any, secret_api: Any) -> None:
    before = _counter(api.get("/metrics").body.decode(), 'method="GET",status="200"')
    for _ in range(3):
        assert secret_api.get("/v1/projects/alpha-app").status == 200
    text = api.get("/metrics").body.decode()
    assert "# TYPE baas_http_requests_total counter" in text
    assert "baas_http_request_duration_seconds_bucket" in text
    assert _counter(text, 'method="GET",status="200"') >= before + 3


def _counter(text: str, labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("baas_http_requests_total{") and labels in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_openapi_document_lists_the_api(api: Any) -> None:
    response = api.get("/v1/openapi.json")
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/")
    document = response.body
    assert document["openapi"].startswith("3.")
    for path in ("/v1/projects", "/v1/projects/{project_id}", "/v1/projects/{project_id}/keys"):
        assert path in document["paths"], path


def test_every_api_operation_declares_its_credentials_and_error_shape(api: Any) -> None:
    """What a generated client needs: which headers to send, and the error type."""
    document = api.get("/v1/openapi.json").body
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    checked = 0
    for path, operations in document["paths"].items():
        if not path.startswith("/v1/projects"):
            continue
        for method, operation in operations.items():
            if method not in ("get", "put", "post", "patch", "delete"):
                continue
            checked += 1
            allowed = [set(requirement) for requirement in operation["security"]]
            assert ({"ApiKey"} in allowed) == path.startswith("/v1/projects/{"), (method, path)
            assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert checked > 60
    deleted = document["paths"]["/v1/projects/{project_id}/collections/{collection}/documents/{doc_id}"]["delete"]
    assert "204" in deleted["responses"]


def test_docs_page_and_its_vendored_assets_are_served(asgi_server: Any) -> None:
    page = requests.get(asgi_server.url + "/docs/", timeout=10)
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "cdn" not in page.text.lower()
    asset = requests.get(asgi_server.url + "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and len(asset.content) > 100_000
