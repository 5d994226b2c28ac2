"""Auth events ride the project's change log (the event path functions and webhooks read)."""

from __future__ import annotations

from typing import Any

from projects.documents.changelog import changelog_sequence, changes_after

AUTH = "/v1/projects/alpha-app/auth"


def user_events(project_id: str = "alpha-app") -> list[Any]:
    changelog_sequence()
    return [entry for entry in changes_after(project_id=project_id, seq=0) if entry.collection == "$users"]


def test_user_created_updated_deleted_are_logged_without_secrets(public_api: Any, secret_api: Any, other_project: Any) -> None:
    signed_up = public_api.post(f"{AUTH}/signup", {"email": "Ada@Example.com", "password": "correct horse battery 9"})
    assert signed_up.status == 201, signed_up.body
    uid = signed_up.body["user"]["uid"]
    assert secret_api.patch(f"/v1/projects/alpha-app/users/{uid}", {"claims": {"role": "admin"}}).status == 200
    assert secret_api.delete(f"/v1/projects/alpha-app/users/{uid}").status == 204
    events = user_events()
    assert [(e.op, e.doc_id) for e in events] == [("create", uid), ("update", uid), ("delete", uid)]
    assert events[0].data["email"] == "Ada@Example.com" and events[1].data["claims"] == {"role": "admin"}
    assert events[2].data is None and events[2].before["uid"] == uid
    for event in events:
        shown = event.data or event.before
        assert "argon2" not in repr(shown) and not {"password", "passwordHash"} & set(shown)
    assert user_events("beta-app") == []  # nothing in another project's log


def test_a_refused_signup_logs_nothing(public_api: Any) -> None:
    body = {"email": "grace@example.com", "password": "another long passphrase 7"}
    assert public_api.post(f"{AUTH}/signup", body).status == 201
    assert public_api.post(f"{AUTH}/signup", {**body, "email": "GRACE@example.com"}).status == 409
    assert [e.op for e in user_events()] == ["create"]
