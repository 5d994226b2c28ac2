"""Push device registration through the SDK: register and refresh, topics, removal, the
signed-in user required, and isolation between projects."""

from __future__ import annotations

from typing import Any

import pytest
from baas_client import Client, Unauthenticated

PASSWORD = "correct-Horse-battery-9"
TOKEN = "fcm-token:APA91b-sdk-phone"


def test_register_refresh_topics_and_unregister(app: Client, admin: Client) -> None:
    with pytest.raises(Unauthenticated):
        app.push.register(TOKEN, platform="android")  # nobody signed in
    uid = app.auth.sign_up("phone@example.com", PASSWORD)["uid"]
    device = app.push.register(TOKEN, platform="android", app_version="1.0.0")
    assert (device["token"], device["uid"], device["platform"], device["appVersion"]) == (TOKEN, uid, "android", "1.0.0")
    assert app.push.register(TOKEN, platform="android", app_version="1.1.0")["appVersion"] == "1.1.0"
    app.push.subscribe_topic(TOKEN, "news")
    assert [(d["token"], d["topics"]) for d in app.push.devices()] == [(TOKEN, ["news"])]
    app.push.unsubscribe_topic(TOKEN, "news")
    assert [(d["token"], d["topics"]) for d in admin.push.devices(uid=uid)] == [(TOKEN, [])]
    app.push.unregister(TOKEN)
    assert app.push.devices() == [] and admin.push.devices(uid=uid) == []


def test_another_projects_key_registers_and_removes_nothing(server: Any, app: Client, admin: Client,
                                                            other_project: Any, make_client: Any) -> None:
    uid = app.auth.sign_up("mine@example.com", PASSWORD)["uid"]
    app.push.register(TOKEN, platform="ios")
    intruder = make_client(server, other_project.secret_key)
    for call in (lambda: intruder.push.unregister(TOKEN), lambda: intruder.push.devices(uid=uid),
                 lambda: intruder.push.register(TOKEN, platform="ios", uid="someone")):
        with pytest.raises(Unauthenticated):
            call()
    assert [d["token"] for d in admin.push.devices(uid=uid)] == [TOKEN]
