"""OpenAPI shapes of documents, queries, batches and collection config (SPEC.md §Documents)."""

from __future__ import annotations

from typing import Any

from baas.api.schema import (
    ANY_OBJECT,
    BOOLEAN,
    CURSOR,
    INTEGER,
    NUMBER,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    array,
    component,
    nullable,
    obj,
)

TRANSFORM_OPS = ["increment", "max", "min", "arrayUnion", "arrayRemove", "serverTimestamp", "delete"]
FILTER_OPS = ["==", "!=", "<", "<=", ">", ">=", "in", "not-in", "array-contains", "array-contains-any", "exists"]

DOCUMENT = component(
    "Document",
    obj(
        {
            "id": STRING,
            "data": ANY_OBJECT,
            "version": {"type": "integer", "minimum": 1, "description": "Also the ETag: `\"<version>\"`."},
            "createTime": TIMESTAMP,
            "updateTime": TIMESTAMP,
        },
        ["id", "data", "version", "createTime", "updateTime"],
    ),
)
TRANSFORM = component(
    "Transform",
    obj({"field": STRING, "op": {"type": "string", "enum": TRANSFORM_OPS}, "value": {}}, ["field", "op"]),
)
DOCUMENT_WRITE = component(
    "DocumentWrite",
    obj({"data": ANY_OBJECT, "transforms": array(TRANSFORM)}, description="`data` (a merge patch on PATCH) and transforms."),
)
FILTER = component(
    "Filter",
    obj(
        {
            "field": STRING,
            "op": {"type": "string", "enum": FILTER_OPS},
            "value": {},
            "and": array({"$ref": "#/components/schemas/Filter"}),
            "or": array({"$ref": "#/components/schemas/Filter"}),
        },
        description="`{field, op, value}`, or `{and: [...]}` / `{or: [...]}`.",
    ),
)
QUERY = component(
    "Query",
    obj(
        {
            "where": FILTER,
            "orderBy": array(obj({"field": STRING, "direction": {"type": "string", "enum": ["asc", "desc"]}}, ["field"])),
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
            "cursor": STRING,
            "select": STRING_LIST,
            "aggregate": obj({"count": BOOLEAN, "sum": STRING, "avg": STRING}),
        },
        additionalProperties=False,
    ),
)
QUERY_RESULT = component(
    "QueryResult",
    obj(
        {
            "documents": array(DOCUMENT),
            "nextCursor": CURSOR,
            "aggregates": obj({"count": INTEGER, "sum": nullable(NUMBER), "avg": nullable(NUMBER)}),
        },
        description="`{documents, nextCursor}`, or `{aggregates}` when the query asked for aggregates.",
    ),
)
BATCH = component(
    "Batch",
    obj(
        {
            "writes": array(
                obj(
                    {
                        "op": {"type": "string", "enum": ["create", "set", "update", "delete"]},
                        "collection": STRING,
                        "id": STRING,
                        "data": ANY_OBJECT,
                        "transforms": array(TRANSFORM),
                        "ifVersion": INTEGER,
                    },
                    ["op", "collection"],
                ),
                maxItems=500,
            )
        },
        ["writes"],
    ),
)
BATCH_RESULT = component(
    "BatchResult",
    obj({"results": array(obj({"id": STRING, "version": nullable(INTEGER)}, ["id", "version"]))}, ["results"]),
)
COLLECTION_CONFIG = component(
    "CollectionConfig",
    obj(
        {
            "schema": nullable({**ANY_OBJECT, "description": "A JSON Schema (2020-12) for `data`."}),
            "rules": obj({}, additionalProperties=STRING, description="CEL per operation: get, list, create, update, delete, read, write."),
            "indexes": array(STRING_LIST),
        },
        additionalProperties=False,
    ),
)
COLLECTION = component(
    "Collection",
    obj(
        {
            "name": STRING,
            "schema": nullable(ANY_OBJECT),
            "rules": obj({}, additionalProperties=STRING),
            "listRuleMode": nullable(STRING),
            "indexes": array(STRING_LIST),
            "version": INTEGER,
            "createTime": TIMESTAMP,
            "updateTime": TIMESTAMP,
        },
        ["name", "schema", "rules", "indexes", "version", "createTime", "updateTime"],
    ),
)
COLLECTION_LIST = component("CollectionList", obj({"collections": array(COLLECTION)}, ["collections"]))
RULES_TEST = component(
    "RulesTest",
    obj(
        {
            "rule": STRING,
            "collection": STRING,
            "operation": STRING,
            "auth": nullable(ANY_OBJECT),
            "resource": nullable(ANY_OBJECT),
            "request": nullable(ANY_OBJECT),
        },
    ),
)
RULES_TEST_RESULT = component(
    "RulesTestResult", obj({"allowed": BOOLEAN, "listRuleMode": {"type": "string", "enum": ["sql", "evaluated"]}}, ["allowed"])
)

# Raw OpenAPI pieces for the edge routes (not seen by drf-spectacular).
ETAG_HEADER = {"ETag": {"description": 'The document version, quoted: `"3"`.', "schema": STRING}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": STRING,
            "description": 'Write only if the stored version is this one (`"3"`); else 412.'}  # fmt: skip


def _document_response(description: str) -> dict[str, Any]:
    return {"description": description, "headers": ETAG_HEADER, "content": {"application/json": {"schema": DOCUMENT}}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


WRITE_BODY = {"required": True, "content": {"application/json": {"schema": DOCUMENT_WRITE}}}
OPERATIONS: dict[str, dict[str, Any]] = {
    "document_create": {"requestBody": WRITE_BODY, "responses": {"201": _document_response("Created")}, "errors": (400, 403, 409, 413, 415)},
    "document_get": {
        "parameters": [
            {"name": "fields", "in": "query", "required": False, "schema": STRING,
             "description": "Comma-separated field paths of `data` to return (`a,b.c`)."},
            {"name": "If-None-Match", "in": "header", "required": False, "schema": STRING,
             "description": "The ETag you hold: 304 when unchanged."},
        ],
        "responses": {"200": _document_response("The document"), "304": {"description": "Not modified", "headers": ETAG_HEADER}},
        "errors": (400, 403, 404),
    },
    "document_set": {
        "parameters": [
            IF_MATCH,
            {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string", "enum": ["*"]},
             "description": "`*`: create only (409 when it exists)."},
        ],
        "requestBody": WRITE_BODY,
        "responses": {"200": _document_response("Replaced"), "201": _document_response("Created")},
        "errors": (400, 403, 409, 412, 413, 415),
    },
    "document_update": {
        "parameters": [IF_MATCH],
        "requestBody": WRITE_BODY,
        "responses": {"200": _document_response("Updated")},
        "errors": (400, 403, 404, 409, 412, 413, 415),
    },
    "document_delete": {"parameters": [IF_MATCH], "responses": {"204": {"description": "Deleted (also when missing)"}}, "errors": (400, 403, 412)},
    "documents_query": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": QUERY}}},
        "responses": {"200": _json(QUERY_RESULT)},
        "errors": (400, 403, 412, 415),
    },
    "batch_write": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH}}},
        "responses": {"200": _json(BATCH_RESULT)},
        "errors": (400, 403, 404, 409, 412, 413, 415),
    },
    "rules_test_view": {
        "requestBody": {"required": True, "content": {"application/json": {"schema": RULES_TEST}}},
        "responses": {"200": _json(RULES_TEST_RESULT)},
        "errors": (400, 403, 415),
    },
}  # fmt: skip
