"""Responses of a live server checked against its own OpenAPI document: schemathesis
generates requests for the main /v1 operations (seeded, a few examples each) and every
answer must be no server error, carry a documented status, and match the documented
schema of that status."""

from __future__ import annotations

from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.errors import FailureGroup
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from tests.openapi.conftest import P

EXAMPLES = 6
# Left out: calls that start a sandbox per request (deploy, discover, call: covered by the
# functions tests), calls that would revoke the key the run uses, the console-token calls,
# and the browser redirects of OAuth.
SKIPPED = {
    "functions_deploy", "functions_discover", "function_call", "keys_revoke", "keys_rotate",
    "projects_create", "projects_list", "auth_oauth_authorize", "auth_oauth_callback",
}  # fmt: skip
# Path parameters pinned to resources that exist, so most calls reach real data.
PINNED = {"project_id": P, "collection": "notes", "bucket": "files", "doc_id": "a", "path": "x/1.txt", "uid": "user-1"}


def _seed(url: str, secret_key: str) -> None:
    headers = {"X-Api-Key": secret_key}
    for doc_id in ("a", "b", "c"):
        response = requests.put(f"{url}/v1/projects/{P}/collections/notes/documents/{doc_id}", json={"data": {"n": 1}},
                                headers=headers, timeout=10)  # fmt: skip
        assert response.status_code == 201, response.text
    assert requests.post(f"{url}/v1/projects/{P}/buckets", json={"name": "files"}, headers=headers, timeout=10).status_code == 201
    for path in ("x/1.txt", "x/2.txt", "y.txt"):
        response = requests.put(f"{url}/v1/projects/{P}/buckets/files/objects/{path}", data=b"hello", headers=headers, timeout=10)
        assert response.status_code == 201, response.text
    response = requests.post(f"{url}/v1/projects/{P}/users", json={"uid": "user-1", "email": "one@example.com"}, headers=headers, timeout=10)
    assert response.status_code == 201, response.text


def test_responses_conform_to_the_document(server: Any, project: Any) -> None:
    _seed(server.url, project.secret_key)
    schema = schemathesis.openapi.from_url(server.url + "/v1/openapi.json")
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/v1/projects/{project_id}") or operation.definition.raw.get("operationId") in SKIPPED:
            continue
        ran += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            for name, value in PINNED.items():
                if name in (case.path_parameters or {}):
                    case.path_parameters[name] = value
            # The generated credentials are random: the run calls with the secret key.
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() not in ("authorization", "x-api-key")}
            case.headers["X-Api-Key"] = project.secret_key
            response = case.call(base_url=server.url, timeout=30)
            try:
                case.validate_response(response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
            except FailureGroup as error:
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {str(error)[:1500]}")

        check()
    assert ran >= 80, ran
    assert failures == [], "\n\n".join(failures[:20])
