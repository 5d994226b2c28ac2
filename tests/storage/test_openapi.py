"""Every storage call is in the served OpenAPI document, the object calls (served by
StorageApp, invisible to DRF's generator) included."""

from __future__ import annotations

import re

import pytest
import requests

from storage import urls
from tests.storage.conftest import StorageTarget

BASE = "/v1/projects/{project_id}"
OBJECTS = BASE + "/buckets/{bucket}/objects"
# Each object call: (path, method), as docs/api.md lists them.
OBJECT_CALLS = {
    (OBJECTS, "get"), (OBJECTS, "post"),
    (OBJECTS + "/{path}", "get"), (OBJECTS + "/{path}", "head"), (OBJECTS + "/{path}", "put"), (OBJECTS + "/{path}", "delete"),
    (OBJECTS + "/{path}:sign", "post"), (OBJECTS + "/{path}:upload", "post"), (OBJECTS + "/{path}:finalize", "post"),
}  # fmt: skip


@pytest.mark.parametrize("target", ["local"], indirect=True)
def test_every_storage_path_is_in_the_openapi_document(target: StorageTarget) -> None:
    document = requests.get(target.url + "/v1/openapi.json", timeout=30).json()
    paths = document["paths"]
    # The DRF routes of storage/urls.py, read from the URLconf itself so a new one cannot be missed.
    for pattern in urls.urlpatterns:
        route = str(pattern.pattern)
        if route.startswith("^"):
            continue  # the object calls' catch-all, covered below
        assert BASE + "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route) in paths, route
    for path, method in sorted(OBJECT_CALLS):
        assert method in paths.get(path, {}), (path, method)
        operation = paths[path][method]
        assert operation["operationId"] and operation["responses"], (path, method)
        names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert names == set(re.findall(r"{(\w+)}", path)), (path, method)
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if isinstance(op, dict) and "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))
