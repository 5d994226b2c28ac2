"""Webhook endpoints: validation, the secret shown once, SSRF refusals, isolation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from projects.webhooks.models import WebhookEndpoint
from projects.webhooks.targets import address_refusal

HOOKS = "/v1/projects/alpha-app/webhooks"


def _rows() -> list[tuple[str, str, list[str], bool]]:
    return list(WebhookEndpoint.objects.unscoped().order_by("pk").values_list("project_id", "url", "events", "is_enabled"))


def test_create_shows_the_secret_once(secret_api: Any, allow_private: Any, receiver: Any) -> None:
    created = secret_api.post(HOOKS, {"url": receiver.url + "/ok", "events": ["document.*", "user.created"],
                                      "collections": ["orders"], "description": "orders feed"})
    assert created.status == 201, created.body
    secret = created.body["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    view = {k: v for k, v in created.body.items() if k not in ("secret", "createTime", "updateTime")}
    assert view == {"id": created.body["id"], "url": receiver.url + "/ok", "events": ["document.*", "user.created"],
                    "collections": ["orders"], "description": "orders feed", "enabled": True}
    for response in (secret_api.get(HOOKS), secret_api.get(f"{HOOKS}/{created.body['id']}")):
        assert response.status == 200 and secret not in json.dumps(response.body) and "secret" not in json.dumps(response.body)
    assert secret not in WebhookEndpoint.objects.for_project("alpha-app").get().sealed_secret
    rotated = secret_api.post(f"{HOOKS}/{created.body['id']}:rotateSecret")
    assert rotated.status == 200 and rotated.body["secret"].startswith("whsec_") and rotated.body["secret"] != secret


def test_update_and_delete(secret_api: Any, allow_private: Any, receiver: Any) -> None:
    hook = secret_api.post(HOOKS, {"url": receiver.url + "/ok", "events": ["*"]}).body["id"]
    patched = secret_api.patch(f"{HOOKS}/{hook}", {"enabled": False, "events": ["object.finalized"]})
    assert patched.status == 200 and (patched.body["enabled"], patched.body["events"]) == (False, ["object.finalized"])
    assert secret_api.patch(f"{HOOKS}/{hook}", {"secret": "x"}).status == 400
    assert secret_api.delete(f"{HOOKS}/{hook}").status == 204
    assert secret_api.get(f"{HOOKS}/{hook}").status == 404 and _rows() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "http://user:pw@example.com/", "events": ["*"]}, "url"),
        ({"url": "https://example.com/x"}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["document.exploded"]}, "events"),
        ({"url": "https://example.com/x", "events": [{"a": 1}]}, "events"),
        ({"url": "https://example.com/x", "events": "*"}, "events"),
        ({"url": "http://example.com:99999/x", "events": ["*"]}, "url"),
        ({"url": 5, "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["*"], "description": 5}, "description"),
        ({"url": "https://example.com/x", "events": ["*"], "collections": "orders"}, "collections"),
        ({"url": "https://example.com/x", "events": ["*"], "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_endpoints_are_400(secret_api: Any, allow_private: Any, body: dict[str, Any], field: str) -> None:
    response = secret_api.post(HOOKS, body)
    assert response.status == 400 and response.body["error"]["details"]["field"] == field, response.body
    assert _rows() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:a9fe:a9fe]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.10/hook",
        "http://[fd00::1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::]/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://2130706433/hook",
        "http://no-such-host.invalid/hook",
    ],
)
def test_private_targets_are_refused(secret_api: Any, settings: Any, url: str) -> None:
    settings.BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = secret_api.post(HOOKS, {"url": url, "events": ["*"]})
    assert response.status == 400 and response.body["error"]["details"] == {"field": "url"}, response.body
    assert "not allowed" in response.body["error"]["message"]
    assert _rows() == []


def test_a_url_cannot_be_changed_to_a_private_target(secret_api: Any, settings: Any, allow_private: Any, receiver: Any) -> None:
    hook = secret_api.post(HOOKS, {"url": receiver.url + "/ok", "events": ["*"]}).body["id"]
    settings.BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    assert secret_api.patch(f"{HOOKS}/{hook}", {"url": "http://169.254.169.254/"}).status == 400
    assert _rows() == [("alpha-app", receiver.url + "/ok", ["*"], True)]


def test_address_classes() -> None:
    assert [address_refusal(a) for a in ("127.0.0.2", "::ffff:10.0.0.1", "169.254.1.1", "ff02::1", "::", "93.184.216.34",
                                           "2606:4700:4700::1111")] == [
        "loopback", "private", "link-local", "multicast", "unspecified", None, None]


def test_needs_a_secret_key_of_the_project(api: Any, project: Any, other_project: Any, allow_private: Any, receiver: Any) -> None:
    alpha = api.with_key(project.secret_key)
    hook = alpha.post(HOOKS, {"url": receiver.url + "/ok", "events": ["*"]}).body["id"]
    before = _rows()
    public = api.with_key(project.publishable_key)
    assert public.get(HOOKS).status == 403 and public.post(HOOKS, {"url": receiver.url, "events": ["*"]}).status == 403
    beta = api.with_key(other_project.secret_key)
    for response in (
        beta.get(HOOKS), beta.get(f"{HOOKS}/{hook}"), beta.patch(f"{HOOKS}/{hook}", {"enabled": False}),
        beta.delete(f"{HOOKS}/{hook}"), beta.post(f"{HOOKS}/{hook}:rotateSecret"), beta.get(f"{HOOKS}/{hook}/deliveries"),
        beta.post(f"{HOOKS}/{hook}/deliveries/whd_x:redeliver"),
    ):
        assert response.status == 401, response.body
    beta_hooks = "/v1/projects/beta-app/webhooks"
    for response in (
        beta.get(f"{beta_hooks}/{hook}"), beta.patch(f"{beta_hooks}/{hook}", {"enabled": False}),
        beta.delete(f"{beta_hooks}/{hook}"), beta.post(f"{beta_hooks}/{hook}:rotateSecret"),
        beta.get(f"{beta_hooks}/{hook}/deliveries"),
    ):
        assert response.status == 404, response.body
    assert beta.get(beta_hooks).body == {"webhooks": []}
    sealed = WebhookEndpoint.objects.for_project("alpha-app").get().sealed_secret
    assert _rows() == before
    assert WebhookEndpoint.objects.for_project("alpha-app").get().sealed_secret == sealed
