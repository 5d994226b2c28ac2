"""One project never sees or changes another's collections, documents or change log."""

from __future__ import annotations

from typing import Any

from projects.documents.changelog import changelog_sequence, changes_after


def test_every_document_endpoint_rejects_another_projects_key(api: Any, project: Any, other_project: Any) -> None:
    beta = api.with_key(other_project.secret_key)
    assert beta.put("/v1/projects/beta-app/collections/c/documents/x", {"data": {"owner": "beta"}}).status == 201
    alpha_key = api.with_key(project.secret_key)
    base = "/v1/projects/beta-app"
    calls = [
        alpha_key.get(f"{base}/collections/c/documents/x"),
        alpha_key.put(f"{base}/collections/c/documents/x", {"data": {"owner": "alpha"}}),
        alpha_key.patch(f"{base}/collections/c/documents/x", {"data": {"owner": "alpha"}}),
        alpha_key.delete(f"{base}/collections/c/documents/x"),
        alpha_key.post(f"{base}/collections/c/documents", {"data": {}}),
        alpha_key.post(f"{base}/collections/c/query", {}),
        alpha_key.post(f"{base}/batch", {"writes": [{"op": "delete", "collection": "c", "id": "x"}]}),
        alpha_key.get(f"{base}/collections"),
        alpha_key.get(f"{base}/collections/c"),
        alpha_key.put(f"{base}/collections/c", {"schema": None}),
        alpha_key.delete(f"{base}/collections/c"),
    ]
    assert [c.status for c in calls] == [401] * len(calls)
    doc = beta.get(f"{base}/collections/c/documents/x").body
    assert doc["data"] == {"owner": "beta"} and doc["version"] == 1


def test_same_names_in_two_projects_stay_apart(api: Any, project: Any, other_project: Any) -> None:
    alpha, beta = api.with_key(project.secret_key), api.with_key(other_project.secret_key)
    for client, pid in ((alpha, "alpha-app"), (beta, "beta-app")):
        client.put(f"/v1/projects/{pid}/collections/c", {"schema": {"type": "object"}, "indexes": [["n"]]})
        for i in range(3):
            client.put(f"/v1/projects/{pid}/collections/c/documents/d{i}", {"data": {"n": i, "p": pid}})
    alpha.post("/v1/projects/alpha-app/batch", {"writes": [{"op": "delete", "collection": "c", "id": "d0"}]})
    alpha.delete("/v1/projects/alpha-app/collections/c/documents/d1")
    alpha_docs = alpha.post("/v1/projects/alpha-app/collections/c/query", {}).body["documents"]
    beta_docs = beta.post("/v1/projects/beta-app/collections/c/query", {}).body["documents"]
    assert [(d["id"], d["data"]["p"]) for d in alpha_docs] == [("d2", "alpha-app")]
    assert [(d["id"], d["data"]["p"]) for d in beta_docs] == [("d0", "beta-app"), ("d1", "beta-app"), ("d2", "beta-app")]
    assert beta.post("/v1/projects/beta-app/collections/c/query", {"aggregate": {"count": True}}).body == {"aggregates": {"count": 3}}
    alpha.delete("/v1/projects/alpha-app/collections/c")
    assert beta.get("/v1/projects/beta-app/collections/c").status == 200
    assert len(beta.post("/v1/projects/beta-app/collections/c/query", {}).body["documents"]) == 3
    changelog_sequence()
    assert {e.doc_id for e in changes_after(project_id="beta-app", seq=0)} == {"d0", "d1", "d2"}
    assert all(e.data is None or e.data["p"] == "alpha-app" for e in changes_after(project_id="alpha-app", seq=0))
