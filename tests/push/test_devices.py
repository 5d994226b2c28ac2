"""Devices: tokens of signed-in users, moving with the token, topics, admin listing."""

from __future__ import annotations

from typing import Any

import pytest

from projects.push.models import Device, TopicSubscription

DEVICES = "/v1/projects/alpha-app/push/devices"
TOKEN = "fcm-token:APA91b-ada-phone"


@pytest.fixture
def ada(public_api: Any, project: Any, enduser_token: Any) -> Any:
    return public_api.with_bearer(enduser_token(project, "ada"))


@pytest.fixture
def bob(public_api: Any, project: Any, enduser_token: Any) -> Any:
    return public_api.with_bearer(enduser_token(project, "bob"))


def _devices(project_id: str = "alpha-app") -> list[tuple[str, str, str, str, bool]]:
    return list(
        Device.objects.for_project(project_id).order_by("token").values_list("token", "uid", "platform", "app_version", "is_active")
    )


def test_register_then_refresh(ada: Any) -> None:
    created = ada.post(DEVICES, {"token": TOKEN, "platform": "android", "appVersion": "1.0.0"})
    assert created.status == 201, created.body
    assert {k: created.body[k] for k in ("token", "uid", "platform", "appVersion", "active", "topics")} == {
        "token": TOKEN, "uid": "ada", "platform": "android", "appVersion": "1.0.0", "active": True, "topics": []}
    Device.objects.for_project("alpha-app").update(is_active=False)
    refreshed = ada.post(DEVICES, {"token": TOKEN, "platform": "android", "appVersion": "1.1.0"})
    assert refreshed.status == 200 and refreshed.body["appVersion"] == "1.1.0" and refreshed.body["active"] is True
    assert _devices() == [(TOKEN, "ada", "android", "1.1.0", True)]


def test_a_token_moves_to_the_user_who_registers_it(ada: Any, bob: Any) -> None:
    assert ada.post(DEVICES, {"token": TOKEN, "platform": "ios"}).status == 201
    assert ada.put(f"{DEVICES}/{TOKEN}/topics/ada-news").status == 200
    moved = bob.post(DEVICES, {"token": TOKEN, "platform": "ios", "appVersion": "2"})
    assert moved.status == 200 and moved.body["uid"] == "bob" and moved.body["topics"] == []
    assert _devices() == [(TOKEN, "bob", "ios", "2", True)]
    assert ada.get(DEVICES).body == {"devices": []}
    assert [d["token"] for d in bob.get(DEVICES).body["devices"]] == [TOKEN]
    assert ada.delete(f"{DEVICES}/{TOKEN}").status == 404  # no longer hers
    assert _devices() == [(TOKEN, "bob", "ios", "2", True)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "android"}, "token"),
        ({"token": "", "platform": "android"}, "token"),
        ({"token": "a/b", "platform": "android"}, "token"),
        ({"token": "x" * 1025, "platform": "android"}, "token"),
        ({"token": TOKEN, "platform": "symbian"}, "platform"),
        ({"token": TOKEN}, "platform"),
        ({"token": TOKEN, "platform": "web", "appVersion": 3}, "appVersion"),
    ],
)
def test_bad_registrations_are_400(ada: Any, body: dict[str, Any], field: str) -> None:
    response = ada.post(DEVICES, body)
    assert response.status == 400 and response.body["error"]["details"]["field"] == field
    assert _devices() == []


def test_registration_needs_a_signed_in_user(public_api: Any, ada: Any) -> None:
    anonymous = public_api.post(DEVICES, {"token": TOKEN, "platform": "web"})
    assert anonymous.status == 401 and anonymous.error_code == "unauthenticated"
    forged = ada.post(DEVICES, {"token": TOKEN, "platform": "web", "uid": "bob"})
    assert forged.status == 403
    assert public_api.with_bearer("not-a-token").post(DEVICES, {"token": TOKEN, "platform": "web"}).status == 401
    assert _devices() == []


def test_topics_subscribe_and_unsubscribe(ada: Any) -> None:
    ada.post(DEVICES, {"token": TOKEN, "platform": "web"})
    assert ada.put(f"{DEVICES}/{TOKEN}/topics/news").body["topics"] == ["news"]
    assert ada.put(f"{DEVICES}/{TOKEN}/topics/sports").body["topics"] == ["news", "sports"]
    assert ada.put(f"{DEVICES}/{TOKEN}/topics/news").body["topics"] == ["news", "sports"]  # idempotent
    assert ada.delete(f"{DEVICES}/{TOKEN}/topics/news").body["topics"] == ["sports"]
    bad = ada.put(f"{DEVICES}/{TOKEN}/topics/bad topic!")
    assert bad.status == 400 and bad.body["error"]["details"]["field"] == "topic"
    assert ada.put(f"{DEVICES}/unknown-token/topics/news").status == 404
    assert list(TopicSubscription.objects.for_project("alpha-app").values_list("topic", flat=True)) == ["sports"]


def test_delete_own_device_only(ada: Any, bob: Any) -> None:
    ada.post(DEVICES, {"token": TOKEN, "platform": "android"})
    assert bob.delete(f"{DEVICES}/{TOKEN}").status == 404
    assert bob.put(f"{DEVICES}/{TOKEN}/topics/news").status == 404
    assert bob.get(f"{DEVICES}/{TOKEN}").status == 404
    assert len(_devices()) == 1 and not TopicSubscription.objects.for_project("alpha-app").exists()
    assert ada.get(f"{DEVICES}/{TOKEN}").body["uid"] == "ada"
    assert ada.delete(f"{DEVICES}/{TOKEN}").status == 204
    assert _devices() == []


def test_admin_lists_and_manages_any_users_devices(secret_api: Any, ada: Any) -> None:
    ada.post(DEVICES, {"token": TOKEN, "platform": "android"})
    ada.post(DEVICES, {"token": TOKEN + "-2", "platform": "web"})
    listed = secret_api.get(f"{DEVICES}?uid=ada")
    assert listed.status == 200 and [d["token"] for d in listed.body["devices"]] == [TOKEN, TOKEN + "-2"]
    assert secret_api.get(f"{DEVICES}?uid=nobody").body == {"devices": []}
    assert secret_api.get(DEVICES).status == 400  # per user
    assert secret_api.post(DEVICES, {"token": "server-side", "platform": "ios", "uid": "carol"}).status == 201
    assert secret_api.post(DEVICES, {"token": "no-owner", "platform": "ios"}).status == 400
    assert secret_api.delete(f"{DEVICES}/{TOKEN}").status == 204
    assert [row[0] for row in _devices()] == [TOKEN + "-2", "server-side"]


def test_other_projects_cannot_see_or_change_devices(
    api: Any, ada: Any, other_project: Any, enduser_token: Any
) -> None:
    ada.post(DEVICES, {"token": TOKEN, "platform": "android"})
    ada.put(f"{DEVICES}/{TOKEN}/topics/news")
    before = (_devices(), list(TopicSubscription.objects.unscoped().values_list("topic", flat=True)))
    beta_user = api.with_key(other_project.publishable_key).with_bearer(enduser_token(other_project, "ada"))
    beta_secret = api.with_key(other_project.secret_key)
    for response in (
        beta_user.get(DEVICES), beta_user.delete(f"{DEVICES}/{TOKEN}"), beta_secret.delete(f"{DEVICES}/{TOKEN}"),
        beta_secret.get(f"{DEVICES}?uid=ada"), beta_user.put(f"{DEVICES}/{TOKEN}/topics/evil"),
        beta_user.post(DEVICES, {"token": TOKEN, "platform": "web"}),
    ):
        assert response.status == 401, response.body
    beta_devices = "/v1/projects/beta-app/push/devices"
    assert beta_user.get(beta_devices).body == {"devices": []}
    assert beta_user.delete(f"{beta_devices}/{TOKEN}").status == 404
    assert beta_secret.delete(f"{beta_devices}/{TOKEN}").status == 404
    # The same token in another project is another device; alpha's is untouched.
    assert beta_user.post(beta_devices, {"token": TOKEN, "platform": "web"}).status == 201
    assert (_devices(), list(TopicSubscription.objects.unscoped().values_list("topic", flat=True))) == before
    assert _devices("beta-app") == [(TOKEN, "ada", "web", "", True)]


def test_a_deleted_users_devices_go_with_them(ada: Any, bob: Any, secret_api: Any, other_project: Any) -> None:
    from projects.documents import feeds
    from projects.documents.changelog import changelog_sequence

    ada.post(DEVICES, {"token": TOKEN, "platform": "android"})
    ada.put(f"{DEVICES}/{TOKEN}/topics/news")
    bob.post(DEVICES, {"token": "bob-phone", "platform": "ios"})
    Device.objects.for_project("beta-app").create(project_id="beta-app", token="beta-ada", uid="ada", platform="web")
    assert secret_api.post("/v1/projects/alpha-app/users", {"uid": "ada"}).status == 201
    assert secret_api.delete("/v1/projects/alpha-app/users/ada").status == 204
    changelog_sequence()
    feeds.feeds_pump()
    assert [row[:2] for row in _devices()] == [("bob-phone", "bob")]
    assert not TopicSubscription.objects.for_project("alpha-app").exists()
    assert _devices("beta-app") == [("beta-ada", "ada", "web", "", True)]  # another project's "ada"
