"""OpenAPI shapes of cloud functions, versions and executions (SPEC.md §Cloud functions)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes

from baas.api.schema import (
    BOOLEAN,
    CURSOR,
    CURSOR_PARAM,
    INTEGER,
    NUMBER,
    STRING,
    STRING_LIST,
    TIMESTAMP,
    array,
    component,
    nullable,
    obj,
    query,
)

STATUSES = ["queued", "running", "succeeded", "failed", "timeout"]
TRIGGER = component(
    "Trigger",
    obj(
        {"type": {"type": "string", "enum": ["http", "document", "auth", "storage", "schedule"]}, "collection": STRING,
         "bucket": STRING, "events": STRING_LIST, "cron": STRING, "timezone": STRING},
        ["type"],
    ),
)  # fmt: skip
RETRY = component(
    "Retry",
    obj({"enabled": BOOLEAN, "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 20}}, ["enabled", "maxAttempts"]),
)
_VERSION_FIELDS = {
    "entrypoint": STRING,
    "triggers": array(TRIGGER),
    "timeoutSeconds": INTEGER,
    "memoryMb": INTEGER,
    "retry": RETRY,
    "env": {**STRING_LIST, "description": "Names only: values never leave the server."},
    "secrets": STRING_LIST,
    "sourceSha256": STRING,
    "sourceBytes": INTEGER,
    "files": STRING_LIST,
}
FUNCTION = component(
    "Function",
    obj({"name": STRING, "activeVersion": INTEGER, "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, **_VERSION_FIELDS},
        ["name", "activeVersion", "entrypoint", "triggers", "timeoutSeconds", "memoryMb", "createdAt", "updatedAt"]),
)  # fmt: skip
FUNCTION_LIST = component("FunctionList", obj({"functions": array(FUNCTION)}, ["functions"]))
VERSION = component(
    "FunctionVersion",
    obj({"version": INTEGER, "createdAt": TIMESTAMP, **_VERSION_FIELDS,
         "source": obj({}, additionalProperties=STRING, description="File name → source (one version's GET only).")},
        ["version", "entrypoint", "triggers", "createdAt"]),
)  # fmt: skip
VERSION_LIST = component("FunctionVersionList", obj({"versions": array(VERSION)}, ["versions"]))
DEPLOY = component(
    "FunctionDeploy",
    obj(
        {"name": STRING, "source": {**STRING, "description": "One file, main.py."},
         "files": obj({}, additionalProperties=STRING, description="File name → source."),
         "entrypoint": {**STRING, "default": "main:handler"}, "triggers": array(TRIGGER),
         "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 540, "default": 10},
         "memoryMb": {"type": "integer", "default": 256}, "env": obj({}, additionalProperties=STRING),
         "secrets": obj({}, additionalProperties=STRING),
         "retry": {"oneOf": [BOOLEAN, obj({"enabled": BOOLEAN, "maxAttempts": {"type": "integer", "minimum": 1, "maximum": 20}},
                                          additionalProperties=False)],
                   "description": "`true`, `false` (default) or `{enabled, maxAttempts}`."}},
        ["name"],
    ),
)  # fmt: skip
DISCOVER_REQUEST = component(
    "FunctionDiscoverRequest",
    obj({"source": STRING, "files": obj({}, additionalProperties=STRING), "entrypoint": STRING}),
)
DISCOVERED = component(
    "DiscoveredFunctions", obj({"functions": array(obj({"name": STRING, "entrypoint": STRING, "triggers": array(TRIGGER)}))}, ["functions"])
)
CALL = component("FunctionCall", obj({"data": {"description": "Any JSON: the handler's event.data."}}, additionalProperties=False))
CALL_RESULT = component("FunctionCallResult", obj({"result": {"description": "What the handler returned.", "nullable": True}}, ["result"]))
ROLLBACK = component("FunctionRollback", obj({"version": {"type": "integer", "minimum": 1}}, ["version"], additionalProperties=False))
EXECUTION = component(
    "Execution",
    obj(
        {"id": STRING, "function": STRING, "version": INTEGER, "trigger": STRING, "eventId": nullable(STRING),
         "status": {"type": "string", "enum": STATUSES}, "attempt": INTEGER, "maxAttempts": INTEGER, "deadLetter": BOOLEAN,
         "replayOf": nullable(STRING), "createdAt": nullable(TIMESTAMP), "startedAt": nullable(TIMESTAMP),
         "finishedAt": nullable(TIMESTAMP), "nextAttemptAt": nullable(TIMESTAMP), "durationMs": nullable(NUMBER),
         "memoryPeakKb": nullable(INTEGER), "result": {"nullable": True}, "error": nullable(STRING),
         "stdout": {**STRING, "description": "One execution's GET only."}, "stderr": STRING},
        ["id", "function", "version", "trigger", "status", "attempt", "createdAt"],
    ),
)  # fmt: skip
EXECUTION_LIST = component("ExecutionList", obj({"executions": array(EXECUTION), "nextCursor": CURSOR}, ["executions", "nextCursor"]))
EXECUTIONS_PARAMETERS = [
    query("status", "Only executions in this status.", enum=STATUSES),
    CURSOR_PARAM,
    query("limit", "Page size, 1-200.", OpenApiTypes.INT),
]
