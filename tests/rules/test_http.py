"""Security rules end to end over HTTP: publishable keys, real end-user tokens, the rules
playground, and the guarantees (filters, no existence oracle, all-or-nothing batches)."""

from __future__ import annotations

from typing import Any

import pytest

BASE = "/v1/projects/alpha-app/collections"
BATCH = "/v1/projects/alpha-app/batch"
RULES_TEST = "/v1/projects/alpha-app/rules:test"

OWNER_RULES = {
    "read": "resource.data.owner == auth.uid",
    "create": "request.data.owner == auth.uid",
    "update": "resource.data.owner == auth.uid && request.data.owner == resource.data.owner",
    "delete": "resource.data.owner == auth.uid",
}


def set_rules(secret_api: Any, collection: str, rules: dict[str, str]) -> dict[str, Any]:
    response = secret_api.put(f"{BASE}/{collection}", {"rules": rules})
    assert response.status == 200, response.body
    return response.body  # type: ignore[no-any-return]


def ids(response: Any) -> list[str]:
    assert response.status == 200, response.body
    return [doc["id"] for doc in response.body["documents"]]


@pytest.fixture
def users(public_api: Any, project: Any, enduser_token: Any) -> dict[str, Any]:
    return {
        "u1": public_api.with_bearer(enduser_token(project, "u1")),
        "u2": public_api.with_bearer(enduser_token(project, "u2")),
        "admin": public_api.with_bearer(enduser_token(project, "boss", {"role": "admin"})),
        "anonymous": public_api,
    }


# --- saving rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "column", "words"),
    [
        ("resource.data.owner == ", 24, "Syntax error"),
        ("resource.data.owner == user.id", 24, "Unknown variable 'user'"),
        ("auth != null &&\n  lookup(auth.uid)", 3, "Unknown function 'lookup'"),
        ("resource.data.title.size() < 100 && (", 38, "Syntax error"),
    ],
)
def test_bad_rules_are_rejected_with_their_position(secret_api: Any, rule: str, column: int, words: str) -> None:
    set_rules(secret_api, "posts", {"read": "true"})
    response = secret_api.put(f"{BASE}/posts", {"rules": {"read": "true", "write": rule}})
    assert response.status == 400 and response.error_code == "invalid_argument"
    details = response.body["error"]["details"]
    assert details["field"] == "rules.write"
    assert details["column"] == column and details["line"] == rule[: details["position"]].count("\n") + 1
    assert words in response.body["error"]["message"]
    assert secret_api.get(f"{BASE}/posts").body["rules"] == {"read": "true"}  # nothing saved


def test_macros_type_names_and_library_functions_are_accepted(secret_api: Any) -> None:
    rule = (
        "auth != null && resource.data.tags.exists(t, t.startsWith('x')) && type(resource.data.n) == int"
        " && request.time > timestamp('2020-01-01T00:00:00Z') + duration('1h') && resource.id.matches('^[a-z]+$')"
    )
    body = set_rules(secret_api, "posts", {"read": rule})
    assert body["listRuleMode"] == "evaluated"
    assert set_rules(secret_api, "posts", {"read": "resource.data.owner == auth.uid"})["listRuleMode"] == "sql"
    assert set_rules(secret_api, "posts", {"write": "true"})["listRuleMode"] is None


# --- owner-only, role claims, public read, field validation -----------------------------------


def test_owner_only(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "notes", OWNER_RULES)
    u1, u2, anonymous = users["u1"], users["u2"], users["anonymous"]
    assert u1.put(f"{BASE}/notes/documents/a1", {"data": {"owner": "u1", "text": "mine"}}).status == 201
    assert u1.put(f"{BASE}/notes/documents/a2", {"data": {"owner": "u1"}}).status == 201
    assert u2.put(f"{BASE}/notes/documents/b1", {"data": {"owner": "u2"}}).status == 201
    assert u2.put(f"{BASE}/notes/documents/b2", {"data": {"owner": "u1"}}).status == 403  # not on their behalf

    assert ids(u1.post(f"{BASE}/notes/query", {})) == ["a1", "a2"]
    assert ids(u2.post(f"{BASE}/notes/query", {})) == ["b1"]
    assert ids(anonymous.post(f"{BASE}/notes/query", {})) == []
    assert u1.get(f"{BASE}/notes/documents/a1").body["data"]["text"] == "mine"
    assert u1.get(f"{BASE}/notes/documents/b1").status == 403
    assert anonymous.get(f"{BASE}/notes/documents/a1").status == 403

    assert u1.patch(f"{BASE}/notes/documents/a1", {"data": {"text": "edited"}}).status == 200
    assert u1.patch(f"{BASE}/notes/documents/a1", {"data": {"owner": "u2"}}).status == 403  # cannot give away
    assert u2.patch(f"{BASE}/notes/documents/a1", {"data": {"text": "vandal"}}).status == 403
    assert u2.delete(f"{BASE}/notes/documents/a2").status == 403
    assert u1.delete(f"{BASE}/notes/documents/a2").status == 204
    assert secret_api.get(f"{BASE}/notes/documents/a1").body["data"] == {"owner": "u1", "text": "edited"}
    assert secret_api.get(f"{BASE}/notes/documents/a2").status == 404


def test_role_claim(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "reports", {"read": "auth.token.role == 'admin'", "write": "auth.token.role == 'admin'"})
    admin, u1 = users["admin"], users["u1"]
    assert admin.put(f"{BASE}/reports/documents/r1", {"data": {"n": 1}}).status == 201
    assert u1.put(f"{BASE}/reports/documents/r2", {"data": {"n": 2}}).status == 403
    assert ids(admin.post(f"{BASE}/reports/query", {})) == ["r1"]
    assert ids(u1.post(f"{BASE}/reports/query", {})) == []
    assert admin.get(f"{BASE}/reports/documents/r1").status == 200
    assert u1.get(f"{BASE}/reports/documents/r1").status == 403


def test_public_read_and_field_validation(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(
        secret_api,
        "posts",
        {"read": "true", "create": "auth != null && request.data.title.size() < 100", "update": "false"},
    )
    anonymous, u1 = users["anonymous"], users["u1"]
    assert u1.put(f"{BASE}/posts/documents/ok", {"data": {"title": "x" * 99}}).status == 201
    assert u1.put(f"{BASE}/posts/documents/long", {"data": {"title": "x" * 100}}).status == 403
    assert u1.put(f"{BASE}/posts/documents/none", {"data": {"body": "no title"}}).status == 403
    assert u1.put(f"{BASE}/posts/documents/num", {"data": {"title": 5}}).status == 403
    assert anonymous.put(f"{BASE}/posts/documents/anon", {"data": {"title": "hi"}}).status == 403
    assert anonymous.get(f"{BASE}/posts/documents/ok").status == 200
    assert ids(anonymous.post(f"{BASE}/posts/query", {})) == ["ok"]
    assert u1.put(f"{BASE}/posts/documents/ok", {"data": {"title": "again"}}).status == 403  # an update


def test_update_rules_see_the_document_after_the_write(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "counters", {"read": "true", "update": "request.data.n == resource.data.n + 1"})
    secret_api.put(f"{BASE}/counters/documents/c", {"data": {"n": 1, "label": "x"}})
    u1 = users["u1"]
    assert u1.patch(f"{BASE}/counters/documents/c", {"data": {"n": 3}}).status == 403
    assert u1.patch(f"{BASE}/counters/documents/c", {"data": {"n": 2}}).status == 200
    increment = {"data": {}, "transforms": [{"field": "n", "op": "increment", "value": 1}]}
    assert u1.patch(f"{BASE}/counters/documents/c", increment).status == 200
    assert secret_api.get(f"{BASE}/counters/documents/c").body["data"] == {"n": 3, "label": "x"}


# --- no existence oracle --------------------------------------------------------------------------


def test_denied_is_403_whether_or_not_the_document_exists(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "notes", OWNER_RULES)
    secret_api.put(f"{BASE}/notes/documents/theirs", {"data": {"owner": "u2"}})
    u1 = users["u1"]
    pairs = [
        (u1.get(f"{BASE}/notes/documents/theirs"), u1.get(f"{BASE}/notes/documents/missing")),
        (
            u1.patch(f"{BASE}/notes/documents/theirs", {"data": {"x": 1}}),
            u1.patch(f"{BASE}/notes/documents/missing", {"data": {"x": 1}}),
        ),
        (u1.delete(f"{BASE}/notes/documents/theirs"), u1.delete(f"{BASE}/notes/documents/missing")),
        (
            u1.delete(f"{BASE}/notes/documents/theirs", headers={"If-Match": '"7"'}),
            u1.delete(f"{BASE}/notes/documents/missing", headers={"If-Match": '"7"'}),
        ),
    ]
    for existing, missing in pairs:
        assert existing.status == missing.status == 403
        assert existing.body["error"]["code"] == missing.body["error"]["code"] == "permission_denied"
        assert existing.body["error"]["message"].replace("theirs", "") == missing.body["error"]["message"].replace("missing", "")
    # Allowed callers still get the honest answers.
    assert secret_api.get(f"{BASE}/notes/documents/missing").status == 404
    assert users["u2"].delete(f"{BASE}/notes/documents/theirs", headers={"If-Match": '"7"'}).status == 412


# --- list rules as filters, with exact pagination ---------------------------------------------


@pytest.mark.parametrize(
    ("rule", "mode"),
    [("resource.data.visible == true", "sql"), ("resource.data.n % 7 == 0", "evaluated")],
)
def test_pagination_over_a_filtering_rule(users: dict[str, Any], secret_api: Any, rule: str, mode: str) -> None:
    assert set_rules(secret_api, "items", {"read": rule})["listRuleMode"] == mode
    for start in (0, 500):
        writes = [
            {"op": "set", "collection": "items", "id": f"i{n:04d}", "data": {"n": n, "visible": n % 7 == 0}}
            for n in range(start, start + 500)
        ]
        assert secret_api.post(BATCH, {"writes": writes}).status == 200
    expected = [f"i{n:04d}" for n in range(1000) if n % 7 == 0]
    for direction in ("asc", "desc"):
        body: dict[str, Any] = {"orderBy": [{"field": "n", "direction": direction}], "limit": 25}
        seen: list[str] = []
        while True:
            page = users["u1"].post(f"{BASE}/items/query", body)
            assert page.status == 200
            documents, cursor = page.body["documents"], page.body["nextCursor"]
            assert len(documents) == 25 or cursor is None  # full pages until the last
            seen.extend(doc["id"] for doc in documents)
            if cursor is None:
                break
            body["cursor"] = cursor
        assert seen == (expected if direction == "asc" else expected[::-1])
    assert secret_api.post(f"{BASE}/items/query", {"limit": 1000}).body["documents"].__len__() == 1000


def test_aggregates_count_only_what_the_rule_allows(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "notes", {"read": "resource.data.owner == auth.uid"})
    writes = [{"op": "set", "collection": "notes", "id": f"n{i}", "data": {"owner": f"u{i % 3}", "v": i}} for i in range(9)]
    secret_api.post(BATCH, {"writes": writes})
    counted = users["u1"].post(f"{BASE}/notes/query", {"aggregate": {"count": True, "sum": "v"}})
    assert counted.body["aggregates"] == {"count": 3, "sum": 1 + 4 + 7}
    set_rules(secret_api, "notes", {"read": "size(resource.data) > 1"})
    refused = users["u1"].post(f"{BASE}/notes/query", {"aggregate": {"count": True}})
    assert refused.status == 412 and refused.body["error"]["details"]["listRuleMode"] == "evaluated"


# --- batches --------------------------------------------------------------------------------------


def test_one_denied_write_fails_the_whole_batch(users: dict[str, Any], secret_api: Any) -> None:
    set_rules(secret_api, "notes", OWNER_RULES)
    secret_api.put(f"{BASE}/notes/documents/theirs", {"data": {"owner": "u2"}})
    writes = [
        {"op": "create", "collection": "notes", "id": "mine1", "data": {"owner": "u1"}},
        {"op": "update", "collection": "notes", "id": "theirs", "data": {"owner": "u1"}},
        {"op": "create", "collection": "notes", "id": "mine2", "data": {"owner": "u1"}},
    ]
    response = users["u1"].post(BATCH, {"writes": writes})
    assert response.status == 403 and response.body["error"]["details"]["index"] == 1
    assert secret_api.get(f"{BASE}/notes/documents/mine1").status == 404
    assert secret_api.get(f"{BASE}/notes/documents/theirs").body["data"] == {"owner": "u2"}
    allowed = [writes[0], writes[2]]
    assert users["u1"].post(BATCH, {"writes": allowed}).status == 200
    assert ids(users["u1"].post(f"{BASE}/notes/query", {})) == ["mine1", "mine2"]


# --- isolation ------------------------------------------------------------------------------------


def test_tokens_and_rules_do_not_cross_projects(
    api: Any, users: dict[str, Any], secret_api: Any, other_project: Any, project: Any, enduser_token: Any
) -> None:
    set_rules(secret_api, "notes", {"read": "true"})
    secret_api.put(f"{BASE}/notes/documents/a", {"data": {"owner": "u1"}})
    beta = api.with_key(other_project.publishable_key)
    beta_secret = api.with_key(other_project.secret_key)
    # Alpha's open rule does not open beta's collection of the same name.
    beta_secret.put("/v1/projects/beta-app/collections/notes/documents/b", {"data": {"owner": "u1"}})
    assert beta.get("/v1/projects/beta-app/collections/notes/documents/b").status == 403
    assert beta.post("/v1/projects/beta-app/collections/notes/query", {}).status == 403
    # Beta's key cannot read alpha; alpha's user token is refused on beta.
    assert beta.get(f"{BASE}/notes/documents/a").status == 401
    alpha_token = enduser_token(project, "u1")
    assert beta.with_bearer(alpha_token).get("/v1/projects/beta-app/collections/notes/documents/b").status == 401
    # The playground reads only the caller's project's rules.
    probe = {"collection": "notes", "operation": "get", "resource": {"id": "b", "data": {}}}
    assert beta_secret.post("/v1/projects/beta-app/rules:test", probe).body["allowed"] is False
    assert secret_api.post(RULES_TEST, probe).body["allowed"] is True
    assert beta_secret.post(RULES_TEST, probe).status == 401


# --- the rules playground -------------------------------------------------------------------------


def test_rules_test_endpoint(secret_api: Any, public_api: Any) -> None:
    owner = "resource.data.owner == auth.uid"
    same = {"rule": owner, "auth": {"uid": "u1"}, "resource": {"id": "x", "data": {"owner": "u1"}}}
    assert secret_api.post(RULES_TEST, same).body == {"allowed": True}
    other = {**same, "auth": {"uid": "u2"}}
    assert secret_api.post(RULES_TEST, other).body == {"allowed": False}
    assert secret_api.post(RULES_TEST, {**same, "operation": "list"}).body == {"allowed": True, "listRuleMode": "sql"}
    evaluated = {"rule": "size(resource.data) > 0", "operation": "list", "resource": {"id": "x", "data": {"a": 1}}}
    assert secret_api.post(RULES_TEST, evaluated).body == {"allowed": True, "listRuleMode": "evaluated"}
    no_user = secret_api.post(RULES_TEST, {"rule": owner, "auth": None, "resource": {"id": "x", "data": {}}}).body
    assert no_user["allowed"] is False and no_user["error"]
    timed = {"rule": "request.time < timestamp('2030-01-01T00:00:00Z')", "request": {"time": "2031-05-01T00:00:00Z"}}
    assert secret_api.post(RULES_TEST, timed).body["allowed"] is False
    assert secret_api.post(RULES_TEST, {**timed, "request": {"time": "2029-05-01T00:00:00Z"}}).body["allowed"] is True
    set_rules(secret_api, "notes", {"read": owner})
    by_collection = {"collection": "notes", "operation": "get", "auth": {"uid": "u1"}, "resource": same["resource"]}
    assert secret_api.post(RULES_TEST, by_collection).body["allowed"] is True
    assert secret_api.post(RULES_TEST, {**by_collection, "operation": "delete"}).body["allowed"] is False

    broken = secret_api.post(RULES_TEST, {"rule": "auth.uid == "})
    assert broken.status == 400 and broken.body["error"]["details"]["column"] == 13
    for bad in ({}, {"rule": "true", "auth": "u1"}, {"rule": "true", "operation": "peek"}, {"rule": "true", "request": {"time": "soon"}}):
        response = secret_api.post(RULES_TEST, bad)
        assert response.status == 400 and response.error_code == "invalid_argument", bad
    assert public_api.post(RULES_TEST, same).status == 403


def test_a_recreated_collection_does_not_inherit_old_rules(secret_api: Any, public_api: Any) -> None:
    assert set_rules(secret_api, "again", {"read": "true"})["version"] == 1
    secret_api.put(f"{BASE}/again/documents/x", {"data": {}})
    assert public_api.get(f"{BASE}/again/documents/x").status == 200
    assert secret_api.delete(f"{BASE}/again").status in (200, 204)
    assert set_rules(secret_api, "again", {"read": "false"})["version"] == 1  # the version starts over
    secret_api.put(f"{BASE}/again/documents/x", {"data": {}})
    assert public_api.get(f"{BASE}/again/documents/x").status == 403
