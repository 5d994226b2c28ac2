"""OpenAPI shapes of projects, API keys and console members (SPEC.md §API conventions)."""

from __future__ import annotations

from baas.api.schema import BOOLEAN, INTEGER, STRING, TIMESTAMP, array, component, nullable, obj

PROJECT_ID = {"type": "string", "pattern": "^[a-z][a-z0-9-]{2,39}$"}
PROJECT = component("Project", obj({"projectId": STRING, "name": STRING, "createTime": TIMESTAMP}, ["projectId", "name", "createTime"]))
PROJECT_LIST = component("ProjectList", obj({"projects": array(PROJECT)}, ["projects"]))
PROJECT_CREATE = component("ProjectCreate", obj({"projectId": PROJECT_ID, "name": STRING}, ["projectId"]))
PROJECT_CREATED = component(
    "ProjectCreated",
    {"allOf": [PROJECT, obj({"publishableKey": STRING, "secretKey": {**STRING, "description": "Shown this once."}},
                            ["publishableKey", "secretKey"])]},
)  # fmt: skip
API_KEY = component(
    "ApiKey",
    obj({"id": INTEGER, "kind": {"type": "string", "enum": ["publishable", "secret"]}, "name": STRING, "prefix": STRING,
         "createTime": TIMESTAMP, "lastUsedTime": nullable(TIMESTAMP), "revokeTime": nullable(TIMESTAMP), "active": BOOLEAN},
        ["id", "kind", "name", "prefix", "createTime", "lastUsedTime", "revokeTime", "active"]),
)  # fmt: skip
API_KEY_CREATED = component(
    "ApiKeyCreated", {"allOf": [API_KEY, obj({"key": {**STRING, "description": "The key itself, shown this once."}}, ["key"])]}
)
API_KEY_LIST = component("ApiKeyList", obj({"keys": array(API_KEY)}, ["keys"]))
API_KEY_CREATE = component("ApiKeyCreate", obj({"kind": {"type": "string", "enum": ["publishable", "secret"]}, "name": STRING}, ["kind"]))
MEMBER = component(
    "Member",
    obj({"userId": INTEGER, "email": STRING, "role": STRING, "createTime": TIMESTAMP}, ["userId", "email", "role", "createTime"]),
)
MEMBER_LIST = component("MemberList", obj({"members": array(MEMBER)}, ["members"]))
MEMBER_SET = component(
    "MemberSet", obj({"email": STRING, "role": {"type": "string", "enum": ["owner", "admin", "developer", "viewer"]}}, ["email", "role"])
)
