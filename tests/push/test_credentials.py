"""FCM credentials: validated, sealed at rest, never returned, rotatable."""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
import pytest

from endusers.crypto import secret_open
from projects.push.models import FcmCredential

CREDS = "/v1/projects/alpha-app/push/credentials"


def _stored(project_id: str = "alpha-app") -> FcmCredential | None:
    return FcmCredential.objects.for_project(project_id).first()


def test_upload_shows_only_public_facts_and_seals_the_key(secret_api: Any, service_account: dict[str, str], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    assert secret_api.get(CREDS).body == {"configured": False, "dryRun": True}
    put = secret_api.put(CREDS, {"serviceAccount": service_account})
    assert put.status == 200, put.body
    facts = {"configured": True, "dryRun": False, "projectId": "demo-fcm",
             "clientEmail": "push@demo-fcm.iam.gserviceaccount.com", "version": 1}
    assert {k: v for k, v in put.body.items() if k != "updateTime"} == facts
    got = secret_api.get(CREDS)
    assert {k: v for k, v in got.body.items() if k != "updateTime"} == facts
    key_body = service_account["private_key"].splitlines()[1]
    for text in (json.dumps(put.body), json.dumps(got.body), caplog.text):
        assert key_body not in text and service_account["private_key_id"] not in text
    row = _stored()
    assert row is not None and key_body not in row.sealed and "demo-fcm" not in row.sealed
    assert orjson.loads(secret_open(row.sealed)) == service_account


def test_json_text_is_accepted_and_an_upload_replaces_the_previous(secret_api: Any, service_account: dict[str, str]) -> None:
    assert secret_api.put(CREDS, {"serviceAccount": service_account}).status == 200
    second = {**service_account, "client_email": "other@demo-fcm.iam.gserviceaccount.com"}
    response = secret_api.put(CREDS, {"serviceAccount": json.dumps(second)})
    assert response.status == 200 and response.body["version"] == 2
    assert response.body["clientEmail"] == "other@demo-fcm.iam.gserviceaccount.com"
    assert FcmCredential.objects.unscoped().count() == 1
    assert secret_api.delete(CREDS).status == 204
    assert _stored() is None and secret_api.get(CREDS).body["configured"] is False
    assert secret_api.delete(CREDS).status == 404


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda sa: "{not json", "not valid JSON"),
        (lambda sa: ["a", "list"], "service account JSON object"),
        (lambda sa: {k: v for k, v in sa.items() if k != "private_key"}, "lacks: private_key"),
        (lambda sa: {k: v for k, v in sa.items() if k not in ("client_email", "project_id")}, "lacks: project_id, client_email"),
        (lambda sa: {**sa, "type": "authorized_user"}, "'type' must be 'service_account'"),
        (lambda sa: {**sa, "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}, "private key could not be read"),
        (lambda sa: {**sa, "token_uri": "http://169.254.169.254/token"}, "Google's OAuth token endpoint"),
    ],
)
def test_invalid_service_accounts_are_refused_and_nothing_is_stored(
    secret_api: Any, service_account: dict[str, str], mutate: Any, fragment: str
) -> None:
    response = secret_api.put(CREDS, {"serviceAccount": mutate(service_account)})
    assert response.status == 400 and response.error_code == "invalid_argument", response.body
    assert fragment in response.body["error"]["message"]
    assert service_account["private_key"] not in json.dumps(response.body)
    assert _stored() is None


def test_missing_field_and_unknown_fields_are_400(secret_api: Any) -> None:
    assert secret_api.put(CREDS, {}).error_code == "invalid_argument"
    response = secret_api.put(CREDS, {"serviceAccount": {}, "extra": 1})
    assert response.status == 400 and response.body["error"]["details"] == {"fields": ["extra"]}


def test_publishable_keys_and_other_projects_cannot_touch_credentials(
    api: Any, project: Any, other_project: Any, service_account: dict[str, str]
) -> None:
    alpha = api.with_key(project.secret_key)
    assert alpha.put(CREDS, {"serviceAccount": service_account}).status == 200
    before = _stored()
    public = api.with_key(project.publishable_key)
    assert public.get(CREDS).status == 403
    assert public.put(CREDS, {"serviceAccount": service_account}).status == 403
    beta = api.with_key(other_project.secret_key)
    changed = {**service_account, "client_email": "intruder@x.iam.gserviceaccount.com"}
    for response in (beta.get(CREDS), beta.put(CREDS, {"serviceAccount": changed}), beta.delete(CREDS)):
        assert response.status == 401 and response.error_code == "unauthenticated"
    after = _stored()
    assert after is not None and before is not None
    assert (after.sealed, after.client_email, after.version) == (before.sealed, before.client_email, before.version)
    assert beta.get("/v1/projects/beta-app/push/credentials").body == {"configured": False, "dryRun": True}


def test_reseal_moves_credentials_to_a_new_secret_key(secret_api: Any, service_account: dict[str, str], settings: Any) -> None:
    from projects.push.services import push_credentials_reseal

    assert secret_api.put(CREDS, {"serviceAccount": service_account}).status == 200
    old_key, old_sealed = settings.SECRET_KEY, _stored().sealed  # type: ignore[union-attr]
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-secret-key-" + "x" * 40, [old_key]
    assert orjson.loads(secret_open(old_sealed)) == service_account  # still readable via the fallback
    assert push_credentials_reseal() == 1
    settings.SECRET_KEY_FALLBACKS = []
    resealed = _stored().sealed  # type: ignore[union-attr]
    assert resealed != old_sealed and orjson.loads(secret_open(resealed)) == service_account


def test_one_app_per_project_rebuilt_when_the_credential_changes(fake_fcm: Any, service_account: dict[str, str]) -> None:
    import firebase_admin

    from projects.push import fcm

    first = fcm.messaging_app("alpha-app", "v1", service_account)
    assert fcm.messaging_app("alpha-app", "v1", service_account) is first
    other = fcm.messaging_app("beta-app", "v1", service_account)
    assert other is not first and other.name == "baas-push:beta-app:v1"
    second = fcm.messaging_app("alpha-app", "v2", service_account)
    assert second.name == "baas-push:alpha-app:v2"
    with pytest.raises(ValueError):
        firebase_admin.get_app(first.name)  # the stale App is gone
    assert firebase_admin.get_app(other.name) is other
