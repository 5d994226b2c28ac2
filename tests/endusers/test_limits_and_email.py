"""Brute-force limits on sign-in, and the mailed flows: password reset and email
verification, through Django's test outbox."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from endusers import throttle, tokens
from endusers.models import EmailToken, EndUser
from tests.conftest import MODE
from tests.endusers.helpers import AUTH, BETA_AUTH, PASSWORD, error, signup

NEW_PASSWORD = "fresh-Garden-river-8"


@pytest.fixture
def mail(mailoutbox: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> Any:
    """Run after-commit callbacks and jobs inline, so a call's mail is in the outbox."""
    from endusers.tasks import email_send

    # The job runs here, through Celery's own eager path (arguments as the broker would carry them).
    monkeypatch.setattr(email_send, "delay", lambda *args: email_send.apply(args=args, throw=True))

    class Mail:
        outbox = mailoutbox

        @staticmethod
        def call(client: Any, path: str, body: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return client.post(path, body)

    return Mail()


def _login(client: Any, email: str, password: str, ip: str = "10.0.0.1") -> Any:
    return client.request("POST", f"{AUTH}/login", {"email": email, "password": password}, headers={"X-Forwarded-For": ip})


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.BAAS_TRUST_X_FORWARDED_FOR = True
    settings.BAAS_AUTH_LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.BAAS_AUTH_LOGIN_FAILURES_PER_IP = 6
    return settings


def test_account_limit_trips_for_real_and_unknown_accounts_alike(public_api: Any, limits: Any) -> None:
    signup(public_api)
    for email in ("ada@example.com", "ghost@example.com"):
        for _ in range(3):
            error(_login(public_api, email, "wrong-Pass-000"), 401, "unauthenticated")
    real = _login(public_api, "ada@example.com", PASSWORD)  # right password, but the account is locked out
    ghost = _login(public_api, "GHOST@example.com", "wrong-Pass-000")
    body = error(real, 429, "resource_exhausted")
    assert body["details"]["scope"] == "account" and 1 <= body["details"]["retryAfterSeconds"] <= 900
    assert real.headers["retry-after"] == str(body["details"]["retryAfterSeconds"])
    assert (ghost.status, ghost.body["error"]["code"], ghost.body["error"]["details"]["scope"]) == (429, "resource_exhausted", "account")
    # Another account from another address is untouched.
    signup(public_api, "bob@example.com")
    assert _login(public_api, "bob@example.com", PASSWORD, ip="10.0.0.2").status == 200


def test_a_success_resets_the_account_count_and_the_window_ends(public_api: Any, limits: Any, monkeypatch: Any) -> None:
    signup(public_api)
    for _ in range(2):
        error(_login(public_api, "ada@example.com", "wrong-Pass-000"), 401, "unauthenticated")
    assert _login(public_api, "ada@example.com", PASSWORD).status == 200
    for _ in range(2):
        error(_login(public_api, "ada@example.com", "wrong-Pass-000"), 401, "unauthenticated")
    assert _login(public_api, "ada@example.com", PASSWORD).status == 200
    for _ in range(3):
        _login(public_api, "ada@example.com", "wrong-Pass-000")
    error(_login(public_api, "ada@example.com", PASSWORD), 429, "resource_exhausted")
    later = time.time() + 900
    monkeypatch.setattr(throttle.time, "time", lambda: later)
    assert _login(public_api, "ada@example.com", PASSWORD).status == 200


def test_ip_limit_spans_accounts(public_api: Any, limits: Any) -> None:
    signup(public_api)
    for i in range(6):
        error(_login(public_api, f"user{i}@example.com", "wrong-Pass-000", ip="10.9.9.9"), 401, "unauthenticated")
    body = error(_login(public_api, "ada@example.com", PASSWORD, ip="10.9.9.9"), 429, "resource_exhausted")
    assert body["details"]["scope"] == "ip"
    assert _login(public_api, "ada@example.com", PASSWORD, ip="10.9.9.8").status == 200


def test_wrong_current_password_is_limited_too(public_api: Any, limits: Any) -> None:
    session = signup(public_api)
    me = public_api.with_bearer(session["accessToken"])
    for _ in range(3):
        error(me.post(f"{AUTH}/me/password", {"currentPassword": "wrong-Pass-000", "newPassword": NEW_PASSWORD}), 401, "unauthenticated")
    error(me.post(f"{AUTH}/me/password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}), 429, "resource_exhausted")


@pytest.mark.services
def test_counts_are_shared_between_processes_in_services_mode(public_api: Any, limits: Any) -> None:
    signup(public_api)
    for _ in range(3):
        _login(public_api, "ada@example.com", "wrong-Pass-000")
    throttle._memory.clear()  # nothing of this process's own memory is needed
    error(_login(public_api, "ada@example.com", PASSWORD), 429, "resource_exhausted")
    assert MODE == "services"


def test_wrong_email_costs_what_a_wrong_password_costs(public_api: Any) -> None:
    signup(public_api)

    def timed(email: str) -> float:
        started = time.perf_counter()
        error(public_api.post(f"{AUTH}/login", {"email": email, "password": "wrong-Pass-000"}), 401, "unauthenticated")
        return time.perf_counter() - started

    timed("nobody@example.com")  # the dummy hash is made once per process
    wrong_password = statistics.median(timed("ada@example.com") for _ in range(5))
    wrong_email = statistics.median(timed(f"nobody{i}@example.com") for i in range(5))
    assert 0.5 < wrong_email / wrong_password < 2, (wrong_email, wrong_password)


# --- password reset -----------------------------------------------------------------------


def _code(message: Any) -> str:
    found = re.search(r"code: (\S+)", message.body) or re.search(r"token=([^&\s]+)", message.body)
    assert found, message.body
    return found.group(1)


def test_password_reset_end_to_end(public_api: Any, mail: Any) -> None:
    session = signup(public_api, "Ada@Example.com", displayName="Ada")
    known = mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@EXAMPLE.com"})
    unknown = mail.call(public_api, f"{AUTH}/password-reset", {"email": "nobody@example.com"})
    assert (known.status, known.body) == (202, {}) and (unknown.status, unknown.body) == (202, {})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Ada@Example.com"] and message.subject == "Reset your password for Alpha"
    assert "Hello Ada," in message.body and "expires in 60 minutes" in message.body
    code = _code(message)
    assert not EmailToken.objects.for_project("alpha-app").filter(token_hash=code).exists()  # kept hashed
    # A weak password is refused without using up the code.
    error(public_api.post(f"{AUTH}/password-reset/confirm", {"token": code, "newPassword": "password"}), 400, "invalid_argument")
    done = public_api.post(f"{AUTH}/password-reset/confirm", {"token": code, "newPassword": NEW_PASSWORD})
    assert done.status == 200 and done.body["user"]["emailVerified"] is True
    reused = error(public_api.post(f"{AUTH}/password-reset/confirm", {"token": code, "newPassword": "other-Long-phrase-3"}), 400, "invalid_argument")
    assert reused["details"] == {"field": "token", "reason": "used"}
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}), 401, "unauthenticated")
    error(public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}), 401, "unauthenticated")
    assert public_api.post(f"{AUTH}/login", {"email": "ada@example.com", "password": NEW_PASSWORD}).status == 200


def test_reset_codes_expire_and_only_the_newest_address_counts(public_api: Any, secret_api: Any, mail: Any) -> None:
    uid = signup(public_api)["user"]["uid"]
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    expired_code, moved_code = _code(mail.outbox[0]), _code(mail.outbox[1])
    EmailToken.objects.for_project("alpha-app").filter(pk=EmailToken.objects.for_project("alpha-app").order_by("pk").first().pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    body = error(public_api.post(f"{AUTH}/password-reset/confirm", {"token": expired_code, "newPassword": NEW_PASSWORD}), 400, "invalid_argument")
    assert body["details"]["reason"] == "expired"
    secret_api.patch(f"/v1/projects/alpha-app/users/{uid}", {"email": "new@example.com"})
    body = error(public_api.post(f"{AUTH}/password-reset/confirm", {"token": moved_code, "newPassword": NEW_PASSWORD}), 400, "invalid_argument")
    assert body["details"]["reason"] == "invalid"
    for bad in ("", "x", "y" * 201):
        error(public_api.post(f"{AUTH}/password-reset/confirm", {"token": bad, "newPassword": NEW_PASSWORD}), 400, "invalid_argument")
    assert public_api.post(f"{AUTH}/login", {"email": "new@example.com", "password": PASSWORD}).status == 200


def test_disabled_and_passwordless_accounts_get_no_mail(public_api: Any, secret_api: Any, mail: Any) -> None:
    uid = signup(public_api)["user"]["uid"]
    secret_api.patch(f"/v1/projects/alpha-app/users/{uid}", {"disabled": True})
    assert mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"}).status == 202
    error(public_api.post(f"{AUTH}/password-reset", {}), 400, "invalid_argument")
    assert mail.outbox == []


def test_mails_link_to_the_projects_action_page(public_api: Any, secret_api: Any, mail: Any) -> None:
    assert secret_api.patch(f"{AUTH}/config", {"emailActionUrl": "https://app.example.com/auth-action"}).body["emailActionUrl"] == (
        "https://app.example.com/auth-action"
    )
    error(secret_api.patch(f"{AUTH}/config", {"emailActionUrl": "javascript:alert(1)"}), 400, "invalid_argument")
    signup(public_api)
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    link = re.search(r"https://app\.example\.com/auth-action\?mode=resetPassword&token=([^&\s]+)&projectId=alpha-app", mail.outbox[0].body)
    assert link is not None
    assert public_api.post(f"{AUTH}/password-reset/confirm", {"token": link.group(1), "newPassword": NEW_PASSWORD}).status == 200


# --- email verification -------------------------------------------------------------------


def test_verify_email_end_to_end(public_api: Any, mail: Any) -> None:
    session = signup(public_api)
    me = public_api.with_bearer(session["accessToken"])
    error(public_api.post(f"{AUTH}/verify-email", {}), 401, "unauthenticated")
    assert mail.call(me, f"{AUTH}/verify-email", {}).status == 202
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"] and message.subject == "Confirm your email address for Alpha"
    code = _code(message)
    confirmed = public_api.post(f"{AUTH}/verify-email/confirm", {"token": code})
    assert confirmed.status == 200 and confirmed.body["user"]["emailVerified"] is True
    body = error(public_api.post(f"{AUTH}/verify-email/confirm", {"token": code}), 400, "invalid_argument")
    assert body["details"]["reason"] == "used"
    refreshed = public_api.post(f"{AUTH}/refresh", {"refreshToken": session["refreshToken"]}).body
    assert tokens.access_token_verify("alpha-app", refreshed["accessToken"])["token"]["email_verified"] is True
    # Already verified: nothing more to send. A reset code is no verification code.
    assert mail.call(me, f"{AUTH}/verify-email", {}).status == 202 and len(mail.outbox) == 1
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    error(public_api.post(f"{AUTH}/verify-email/confirm", {"token": _code(mail.outbox[1])}), 400, "invalid_argument")


def test_verification_codes_expire_and_need_an_address(public_api: Any, mail: Any) -> None:
    session = signup(public_api)
    mail.call(public_api.with_bearer(session["accessToken"]), f"{AUTH}/verify-email", {})
    EmailToken.objects.for_project("alpha-app").update(expires_at=timezone.now() - timedelta(seconds=1))
    body = error(public_api.post(f"{AUTH}/verify-email/confirm", {"token": _code(mail.outbox[0])}), 400, "invalid_argument")
    assert body["details"]["reason"] == "expired"
    assert EndUser.objects.for_project("alpha-app").get().email_verified is False
    anonymous = public_api.post(f"{AUTH}/anonymous", {}).body
    error(public_api.with_bearer(anonymous["accessToken"]).post(f"{AUTH}/verify-email", {}), 412, "failed_precondition")


def test_codes_of_one_project_mean_nothing_to_another(api: Any, project: Any, other_project: Any, mail: Any) -> None:
    alpha, beta = api.with_key(project.publishable_key), api.with_key(other_project.publishable_key)
    session = signup(alpha)
    signup(beta, base=BETA_AUTH)
    mail.call(alpha, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    mail.call(alpha.with_bearer(session["accessToken"]), f"{AUTH}/verify-email", {})
    reset_code, verify_code = _code(mail.outbox[0]), _code(mail.outbox[1])
    error(beta.post(f"{BETA_AUTH}/password-reset/confirm", {"token": reset_code, "newPassword": NEW_PASSWORD}), 400, "invalid_argument")
    error(beta.post(f"{BETA_AUTH}/verify-email/confirm", {"token": verify_code}), 400, "invalid_argument")
    for path in ("password-reset", "password-reset/confirm", "verify-email", "verify-email/confirm"):
        error(beta.post(f"{AUTH}/{path}", {"email": "ada@example.com"}), 401, "unauthenticated")
    assert beta.post(f"{BETA_AUTH}/login", {"email": "ada@example.com", "password": PASSWORD}).status == 200
    assert beta.post(f"{BETA_AUTH}/login", {"email": "ada@example.com", "password": NEW_PASSWORD}).status == 401
    assert EndUser.objects.for_project("beta-app").get().email_verified is False
    # Both codes still work where they belong.
    assert alpha.post(f"{AUTH}/verify-email/confirm", {"token": verify_code}).status == 200
    assert alpha.post(f"{AUTH}/password-reset/confirm", {"token": reset_code, "newPassword": NEW_PASSWORD}).status == 200


# --- the project's own wording ----------------------------------------------------------------


def test_a_projects_own_mail_templates_are_used_and_can_be_reset(public_api: Any, secret_api: Any, mail: Any) -> None:
    template = {"subject": "{{ project_name }}: new password",
                "body": "Hi {{ email }}, your code: {{ token }} ({{ minutes }} min) {% include 'admin/base.html' %}"}
    saved = secret_api.patch(f"{AUTH}/config", {"emailTemplates": {"reset": template}})
    assert saved.status == 200 and saved.body["emailTemplates"] == {"reset": template, "verify": None}
    signup(public_api)
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    (message,) = mail.outbox
    assert message.subject == "Alpha: new password"
    code = _code(message)
    # Only the named placeholders are replaced: template code stays text, never runs.
    assert message.body == f"Hi ada@example.com, your code: {code} (60 min) {{% include 'admin/base.html' %}}"
    assert public_api.post(f"{AUTH}/password-reset/confirm", {"token": code, "newPassword": NEW_PASSWORD}).status == 200
    assert secret_api.patch(f"{AUTH}/config", {"emailTemplates": {"reset": None}}).body["emailTemplates"]["reset"] is None
    mail.call(public_api, f"{AUTH}/password-reset", {"email": "ada@example.com"})
    assert mail.outbox[1].subject == "Reset your password for Alpha"


@pytest.mark.parametrize(
    "templates",
    [
        {"welcome": {"subject": "x", "body": "{{ token }}"}},
        {"reset": {"subject": "x"}},
        {"reset": {"subject": "", "body": "{{ token }}"}},
        {"reset": {"subject": "two\nlines", "body": "{{ token }}"}},
        {"reset": {"subject": "x", "body": "no code in here"}},
        {"reset": {"subject": "x", "body": "{{ token }} {{ settings.SECRET_KEY }}"}},
        {"reset": {"subject": "{{ password }}", "body": "{{ token }}"}},
        {"reset": "text"},
        [],
    ],
)
def test_bad_mail_templates_are_400_and_change_nothing(secret_api: Any, templates: Any) -> None:
    before = secret_api.get(f"{AUTH}/config").body
    response = secret_api.patch(f"{AUTH}/config", {"emailTemplates": templates})
    assert response.status == 400 and response.error_code == "invalid_argument", response.body
    assert secret_api.get(f"{AUTH}/config").body == before
