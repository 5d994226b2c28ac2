from __future__ import annotations

from typing import Any

from tests.realtime.client import Http, Realtime


def test_collection_subscription_sees_changes(asgi_server: Any, project: Any) -> None:
    admin = Http(asgi_server.url, "alpha-app", project.secret_key)
    assert admin.put("/collections/posts", {"rules": {"read": "true"}}).status_code == 200
    assert admin.put("/collections/posts/documents/a", {"data": {"n": 1}}).status_code == 201
    client = Realtime(asgi_server.url, "alpha-app", project.publishable_key)
    client.auth(None)
    subscribed = client.subscribe("s1", "posts", snapshot=True)
    assert [doc["id"] for doc in subscribed["snapshot"]] == ["a"]
    admin.put("/collections/posts/documents/b", {"data": {"n": 2}})
    admin.patch("/collections/posts/documents/a", {"data": {"n": 3}})
    admin.delete("/collections/posts/documents/b")
    events = client.changes(3)
    assert [(e["change"], e["doc"]["id"]) for e in events] == [("added", "b"), ("modified", "a"), ("removed", "b")]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and seqs[0] > subscribed["seq"]
    client.close()
