"""Push and webhooks in the console: credentials, the devices count, test sends and their
results; endpoints with a secret shown once, and their delivery log."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.push import support

pytestmark = pytest.mark.django_db

P = "/console/p/alpha-app/"
HOOK = "https://93.184.216.34/hooks/baas"


@pytest.fixture(scope="module")
def service_account() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization

    private_pem = support.fcm_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account", "project_id": "demo-fcm", "private_key_id": "0" * 40, "private_key": private_pem,
        "client_email": "push@demo-fcm.iam.gserviceaccount.com", "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token",
    }


def _credentials() -> Any:
    from projects.push.models import FcmCredential

    return list(FcmCredential.objects.for_project("alpha-app").values_list("client_email", "version"))


def test_credentials_are_for_admins_and_never_shown_again(seeded: Any, as_user: Any, service_account: dict[str, str]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = {"action": "credentials", "service_account_file": SimpleUploadedFile("sa.json", json.dumps(service_account).encode())}
    refused = as_user(seeded["developer"]).post(P + "push/", upload)
    assert refused.status_code == 403 and _credentials() == []
    upload["service_account_file"].seek(0)
    assert as_user(seeded["admin"]).post(P + "push/", upload).status_code == 302
    assert _credentials() == [("push@demo-fcm.iam.gserviceaccount.com", 1)]
    page = as_user(seeded["viewer"]).get(P + "push/").content.decode()
    assert "push@demo-fcm.iam.gserviceaccount.com" in page and "PRIVATE KEY" not in page
    broken = as_user(seeded["admin"]).post(P + "push/", {"action": "credentials", "service_account": '{"type": "service_account"}'})
    assert broken.status_code == 400 and b"The service account lacks" in broken.content
    assert _credentials() == [("push@demo-fcm.iam.gserviceaccount.com", 1)]
    assert as_user(seeded["admin"]).post(P + "push/", {"action": "credentials_delete"}).status_code == 302
    assert _credentials() == []


def test_devices_count_and_a_test_send(seeded: Any, as_user: Any) -> None:
    from projects.push.models import PushMessage
    from projects.push.services import device_register

    ctx = seeded["ctx"]
    device_register(ctx=ctx, token="tok-1", platform="android", uid="u1")
    device_register(ctx=ctx, token="tok-2", platform="ios", uid="u1")
    dev = as_user(seeded["developer"])
    page = dev.get(P + "push/")
    assert b'data-devices="2"' in page.content and b"active devices of 1 user" in page.content
    devices = dev.get(P + "push/", {"uid": "u1"})
    assert devices.content.count(b"<code>tok-") == 2
    sent = dev.post(P + "push/", {"action": "send", "target_kind": "users", "target": "u1", "title": "Hi", "body": "There", "data": '{"k": "v"}'})
    assert sent.status_code == 302
    message = PushMessage.objects.for_project("alpha-app").get()
    assert sent["Location"] == P + f"push/messages/{message.id}/"
    assert (message.target, message.content, message.origin) == ({"users": ["u1"]}, {"notification": {"title": "Hi", "body": "There"}, "data": {"k": "v"}}, "console")
    detail = dev.get(sent["Location"])
    assert detail.status_code == 200 and b'data-status="queued"' in detail.content
    empty = dev.post(P + "push/", {"action": "send", "target_kind": "users", "target": "u1"})
    assert empty.status_code == 400 and b"at least one of notification" in empty.content
    assert PushMessage.objects.for_project("alpha-app").count() == 1
    viewer = as_user(seeded["viewer"]).post(P + "push/", {"action": "send", "target_kind": "users", "target": "u1", "title": "x"})
    assert viewer.status_code == 403 and PushMessage.objects.for_project("alpha-app").count() == 1
    assert as_user(seeded["outsider"]).get(sent["Location"]).status_code == 404


def _endpoints() -> Any:
    from projects.webhooks.models import WebhookEndpoint

    return list(WebhookEndpoint.objects.for_project("alpha-app").values_list("url", "events", "is_enabled"))


def test_webhook_endpoints_and_their_log(seeded: Any, as_user: Any) -> None:
    dev = as_user(seeded["developer"])
    created = dev.post(P + "webhooks/", {"action": "create", "url": HOOK, "events": "document.*, user.created", "collections": "posts"})
    assert created.status_code == 201
    secret = re.search(rb"data-webhook-secret>([^<]+)<", created.content).group(1).decode()
    assert _endpoints() == [(HOOK, ["document.*", "user.created"], True)]
    listing = dev.get(P + "webhooks/").content.decode()
    assert HOOK in listing and secret not in listing
    endpoint_id = re.search(r'data-endpoint="([^"]+)"', listing).group(1)
    assert dev.post(P + "webhooks/", {"action": "disable", "endpoint_id": endpoint_id}).status_code == 302
    assert _endpoints()[0][2] is False
    rotated = dev.post(P + "webhooks/", {"action": "rotate", "endpoint_id": endpoint_id})
    assert rotated.status_code == 200 and secret.encode() not in rotated.content and b"data-webhook-secret" in rotated.content
    bad = dev.post(P + "webhooks/", {"action": "create", "url": "http://127.0.0.1/x", "events": "document.*"})
    assert bad.status_code == 400 and b"is not allowed" in bad.content
    unknown = dev.post(P + "webhooks/", {"action": "create", "url": HOOK, "events": "coffee.made"})
    assert unknown.status_code == 400 and b"Unknown event types" in unknown.content
    log = dev.get(P + f"webhooks/{endpoint_id}/")
    assert log.status_code == 200 and b"No deliveries yet" in log.content
    assert dev.post(P + f"webhooks/{endpoint_id}/", {"delivery_id": "nope"}).status_code == 404
    assert as_user(seeded["outsider"]).get(P + f"webhooks/{endpoint_id}/").status_code == 404
    assert as_user(seeded["viewer"]).post(P + "webhooks/", {"action": "delete", "endpoint_id": endpoint_id}).status_code == 403
    assert len(_endpoints()) == 1
    assert dev.post(P + "webhooks/", {"action": "delete", "endpoint_id": endpoint_id}).status_code == 302
    assert _endpoints() == []


from tests.push.conftest import _stop_worker_at_the_end, fake_fcm, push_worker  # noqa: E402,F401  (fixtures)


def test_a_test_send_shows_its_delivery_results(
    seeded: Any, as_user: Any, service_account: dict[str, str], push_worker: Any, fake_fcm: Any
) -> None:
    """Through a real job worker to a fake FCM on loopback (the real firebase-admin client)."""
    import time

    from projects.push.services import device_register

    device_register(ctx=seeded["ctx"], token="tok-ok", platform="android", uid="u1")
    admin = as_user(seeded["admin"])
    assert admin.post(P + "push/", {"action": "credentials", "service_account": json.dumps(service_account)}).status_code == 302
    sent = admin.post(P + "push/", {"action": "send", "target_kind": "tokens", "target": "tok-ok", "title": "Hello"})
    assert sent.status_code == 302
    deadline = time.monotonic() + 60
    page = admin.get(sent["Location"]).content
    while b'data-status="sent"' not in page and time.monotonic() < deadline:
        time.sleep(0.3)
        page = admin.get(sent["Location"]).content
    assert b'data-status="sent"' in page
    assert re.findall(rb'data-delivery-status="([^"]+)"', page) == [b"sent"]
    assert b"1 delivered" in page
    assert fake_fcm.sent_tokens() == ["tok-ok"]
    # The send is counted on the usage chart (flushed here, or by the worker process).
    from projects import usage

    deadline = time.monotonic() + 30
    sends = 0
    while sends < 1 and time.monotonic() < deadline:
        usage.usage_flush()
        sends = next(s.total for s in usage.usage_series(project_id="alpha-app", range_name="1h") if s.metric == "push_sends")
        time.sleep(0.3)
    assert sends == 1
