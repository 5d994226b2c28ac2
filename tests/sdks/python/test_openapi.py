"""Every HTTP call the SDK makes is described in the served OpenAPI document, so a client
generated from it reaches the same operations."""

from __future__ import annotations

from typing import Any

import httpx

SDK_OPERATIONS = [
    ("post", "auth/signup"), ("post", "auth/login"), ("post", "auth/anonymous"), ("post", "auth/link"),
    ("post", "auth/refresh"), ("post", "auth/logout"), ("get", "auth/me"), ("patch", "auth/me"), ("delete", "auth/me"),
    ("post", "auth/me/password"), ("post", "auth/password-reset"), ("post", "auth/password-reset/confirm"),
    ("post", "auth/verify-email"), ("post", "auth/verify-email/confirm"), ("post", "auth/custom-token"),
    ("post", "auth/custom-token/exchange"), ("get", "auth/config"), ("patch", "auth/config"),
    ("get", "users"), ("post", "users"), ("get", "users/{uid}"), ("patch", "users/{uid}"), ("delete", "users/{uid}"),
    ("put", "collections/{collection}"), ("get", "collections/{collection}"), ("delete", "collections/{collection}"),
    ("post", "collections/{collection}/documents"), ("get", "collections/{collection}/documents/{doc_id}"),
    ("put", "collections/{collection}/documents/{doc_id}"), ("patch", "collections/{collection}/documents/{doc_id}"),
    ("delete", "collections/{collection}/documents/{doc_id}"), ("post", "collections/{collection}/query"),
    ("post", "batch"), ("post", "buckets"), ("get", "buckets"), ("patch", "buckets/{bucket}"),
    ("delete", "buckets/{bucket}"), ("put", "buckets/{bucket}/objects/{path}"),
    ("get", "buckets/{bucket}/objects/{path}"), ("delete", "buckets/{bucket}/objects/{path}"),
    ("get", "buckets/{bucket}/objects"), ("post", "buckets/{bucket}/objects/{path}:sign"),
    ("post", "functions/{name}:call"), ("post", "push/devices"), ("get", "push/devices"),
    ("delete", "push/devices/{token}"), ("put", "push/devices/{token}/topics/{topic}"),
    ("delete", "push/devices/{token}/topics/{topic}"),
]


def test_the_sdks_operations_are_in_the_openapi_document(server: Any) -> None:
    document = httpx.get(f"{server.url}/v1/openapi.json", timeout=30).json()
    paths = document["paths"]
    missing = [(method, path) for method, path in SDK_OPERATIONS
               if method not in paths.get(f"/v1/projects/{{project_id}}/{path}", {})]
    assert missing == []
    assert document["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
