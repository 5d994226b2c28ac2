"""The served OpenAPI document is valid OpenAPI 3 and describes every /v1 call with typed
bodies, its optional headers and query parameters, and its error responses."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

METHODS = ("get", "put", "post", "patch", "delete", "head")
PROJECT = "/v1/projects/{project_id}"
# Answers that are not JSON resources: redirects and the document itself.
UNTYPED = {("get", "/v1/openapi.json"), ("get", PROJECT + "/auth/oauth/{provider}/authorize"),
           ("get", PROJECT + "/auth/oauth/{provider}/callback")}  # fmt: skip


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items() if method in METHODS]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def parameters(operation: dict[str, Any], where: str) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == where}


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)  # raises on the first violation of the OpenAPI 3 schema


def test_every_v1_operation_has_typed_bodies_and_documented_errors(document: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in operations(document):
        if not path.startswith("/v1/") or (method, path) in UNTYPED:
            continue
        responses = operation["responses"]
        successes = {code: r for code, r in responses.items() if code.startswith("2")}
        if not successes:
            problems.append((method, path, "no success response"))
        for code, response in successes.items():
            for media, content in response.get("content", {}).items():
                schema = resolve(document, content["schema"])
                if media == "application/json" and not ({"properties", "allOf"} & set(schema)):
                    problems.append((method, path, code, "untyped JSON response"))
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and not ({"properties", "allOf"} & set(resolve(document, body["schema"]))):
            problems.append((method, path, "untyped JSON request body"))
        for status in ("401", "429"):
            if responses.get(status, {}).get("content", {}).get("application/json", {}).get("schema") != {"$ref": "#/components/schemas/Error"}:
                problems.append((method, path, f"no {status} in the error shape"))
    assert problems == []


def test_component_schemas_name_the_resources(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("Document", "Query", "QueryResult", "Batch", "BatchResult", "Session", "User", "UserList", "Bucket",
                 "StorageObject", "StorageObjectList", "Function", "Execution", "ExecutionList", "Device", "PushMessage",
                 "WebhookEndpoint", "Collection", "ApiKey", "Error"):  # fmt: skip
        assert name in schemas, name
    assert schemas["Document"]["required"] == ["id", "data", "version", "createTime", "updateTime"]
    assert schemas["Session"]["required"] == ["user", "accessToken", "refreshToken", "expiresIn"]
    assert schemas["Error"]["properties"]["error"]["required"] == ["code", "message", "details"]


def test_optional_headers_and_query_parameters_are_documented(document: dict[str, Any]) -> None:
    paths = document["paths"]
    doc = paths[PROJECT + "/collections/{collection}/documents/{doc_id}"]
    assert {"fields"} <= parameters(doc["get"], "query") and {"If-None-Match"} <= parameters(doc["get"], "header")
    assert "ETag" in doc["get"]["responses"]["200"]["headers"] and "304" in doc["get"]["responses"]
    for method in ("put", "patch", "delete"):
        assert "If-Match" in parameters(doc[method], "header"), method
        assert "412" in doc[method]["responses"], method
    assert "If-None-Match" in parameters(doc["put"], "header") and "409" in doc["put"]["responses"]

    objects = PROJECT + "/buckets/{bucket}/objects"
    assert parameters(paths[objects]["get"], "query") == {"prefix", "delimiter", "limit", "cursor"}
    download = paths[objects + "/{path}"]["get"]
    assert {"Range", "If-None-Match", "If-Range"} <= parameters(download, "header") and "meta" in parameters(download, "query")
    assert {"206", "304", "416"} <= set(download["responses"])
    upload = paths[objects + "/{path}"]["put"]
    assert set(upload["requestBody"]["content"]) == {"application/octet-stream"}
    assert "X-Baas-Meta-" in upload["description"] and {"If-None-Match", "If-Match"} <= parameters(upload, "header")
    multipart = resolve(document, paths[objects]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"])
    assert multipart["required"] == ["path", "file"] and multipart["properties"]["file"]["format"] == "binary"

    assert parameters(paths[PROJECT + "/users"]["get"], "query") == {"search", "cursor", "limit"}
    assert "uid" in parameters(paths[PROJECT + "/push/devices"]["get"], "query")
    assert {"status", "cursor", "limit"} <= parameters(paths[PROJECT + "/functions/{name}/executions"]["get"], "query")
    call = paths[PROJECT + "/functions/{name}:call"]["post"]["responses"]
    assert {"422", "504"} <= set(call), "a function's own error and its timeout"

