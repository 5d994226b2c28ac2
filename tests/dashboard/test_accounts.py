"""Console accounts: sign up, log in and out, password reset, projects, tokens, invitations."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_sign_up_logs_in_and_lists_no_projects(client: Client) -> None:
    from django.contrib.auth import get_user_model

    response = client.post("/console/signup/", {"email": "grace@example.com", "password": "a-Decent-pass-9"})
    assert response.status_code == 302
    assert response["Location"] == "/console/"
    user = get_user_model().objects.get(email="grace@example.com")
    assert user.username == "grace@example.com"
    assert user.check_password("a-Decent-pass-9")
    page = client.get("/console/")
    assert page.status_code == 200
    assert b"No projects yet" in page.content


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ada@example.com", "a-Decent-pass-9", b"already exists"),
        ("grace@example.com", "short", b"too short"),
        ("grace@example.com", "12345678901", b"entirely numeric"),
        ("not-an-email", "a-Decent-pass-9", b"valid email"),
    ],
)
def test_sign_up_shows_what_is_wrong(client: Client, console_user: Any, email: str, password: str, message: bytes) -> None:
    from django.contrib.auth import get_user_model

    response = client.post("/console/signup/", {"email": email, "password": password})
    assert response.status_code == 400
    assert message in response.content
    assert get_user_model().objects.count() == 1


def test_log_in_with_email_then_log_out(client: Client, console_user: Any) -> None:
    wrong = client.post("/console/login/", {"username": "ada@example.com", "password": "nope"})
    assert wrong.status_code == 200
    assert b"Please enter a correct" in wrong.content
    response = client.post("/console/login/", {"username": "ada@example.com", "password": "x-Long-pass-42"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302


def test_forms_need_the_csrf_token(console_user: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/console/login/", {"username": "ada@example.com", "password": "x-Long-pass-42"}).status_code == 403
    page = strict.get("/console/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    ok = strict.post("/console/login/", {"username": "ada@example.com", "password": "x-Long-pass-42", "csrfmiddlewaretoken": token})
    assert ok.status_code == 302


def test_password_reset_by_email(client: Client, console_user: Any, mailoutbox: Any) -> None:
    response = client.post("/console/password-reset/", {"email": "ada@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ada@example.com"]
    link = re.search(r"http://testserver(/console/password-reset/[^\s]+)", mailoutbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-7", "new_password2": "Brand-new-pass-7"})
    assert done.status_code == 302
    console_user.refresh_from_db()
    assert console_user.check_password("Brand-new-pass-7")
    client.post("/console/password-reset/", {"email": "nobody@example.com"})
    assert len(mailoutbox) == 1


def test_create_a_project_and_see_its_keys_once(client: Client, console_user: Any) -> None:
    from projects.models import ApiKey, Membership

    client.force_login(console_user)
    response = client.post("/console/", {"project_id": "my-app", "name": "My app"})
    assert response.status_code == 201
    keys = re.findall(rb'data-key="(publishable|secret)">([^<]+)<', response.content)
    assert [kind for kind, _ in keys] == [b"publishable", b"secret"]
    assert keys[0][1].startswith(b"pk_") and keys[1][1].startswith(b"sk_")
    assert Membership.objects.for_project("my-app").get().role == "owner"
    assert ApiKey.objects.for_project("my-app").count() == 2
    again = client.get("/console/")
    assert b"my-app" in again.content and keys[1][1] not in again.content
    duplicate = client.post("/console/", {"project_id": "my-app"})
    assert duplicate.status_code == 400
    assert b"already exists" in duplicate.content
    invalid = client.post("/console/", {"project_id": "No Spaces"})
    assert invalid.status_code == 400
    assert b"Project id must match" in invalid.content


def test_personal_access_token_is_shown_once_and_works(client: Client, console_user: Any, api: Any) -> None:
    client.force_login(console_user)
    response = client.post("/console/account/", {"name": "cli"})
    assert response.status_code == 201
    token = re.search(rb"data-token>(pat_[^<]+)<", response.content).group(1).decode()
    assert token.encode() not in client.get("/console/account/").content
    made = api.with_bearer(token).post("/v1/projects", {"projectId": "from-cli"})
    assert made.status == 201
    from projects.models import PersonalAccessToken

    row = PersonalAccessToken.objects.get(user=console_user)
    assert client.post(f"/console/account/tokens/{row.pk}/revoke/").status_code == 302
    assert api.with_bearer(token).get("/v1/projects").status == 401


def test_a_token_of_someone_else_cannot_be_revoked(client: Client, console_user: Any) -> None:
    from django.contrib.auth import get_user_model

    from projects.models import PersonalAccessToken
    from projects.services import personal_access_token_create

    other = get_user_model().objects.create_user(username="eve", email="eve@example.com", password="x-Long-pass-42")
    token, _ = personal_access_token_create(user=other, name="hers")
    client.force_login(console_user)
    assert client.post(f"/console/account/tokens/{token.pk}/revoke/").status_code == 404
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked_at is None


def test_invitation_by_email_joins_with_the_role(
    client: Client, members: Any, as_user: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from dashboard.models import AuditEntry
    from projects.caching import member_role

    owner = as_user(members["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/console/p/alpha-app/members/", {"action": "invite", "email": "newbie@example.com", "role": "developer"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/console/invitations/[^\s]+/)", mailoutbox[0].body).group(1)
    assert client.get(link).status_code == 200
    client.post("/console/signup/", {"email": "newbie@example.com", "password": "a-Decent-pass-9"})
    joined = client.post(link)
    assert joined.status_code == 302 and joined["Location"] == "/console/p/alpha-app/"
    from django.contrib.auth import get_user_model

    newbie = get_user_model().objects.get(email="newbie@example.com")
    assert member_role("alpha-app", newbie.pk) == "developer"
    assert client.post(link).status_code == 404  # spent
    actions = list(AuditEntry.objects.for_project("alpha-app").order_by("pk").values_list("action", "target"))
    assert actions == [("member.invite", "newbie@example.com"), ("member.join", "newbie@example.com")]


def test_the_last_owner_cannot_leave(members: Any, as_user: Any) -> None:
    from projects.caching import member_role

    owner = as_user(members["owner"])
    response = owner.post("/console/p/alpha-app/members/", {"action": "role", "user_id": members["owner"].pk, "role": "viewer"})
    assert response.status_code == 412
    assert b"at least one owner" in response.content
    removed = owner.post("/console/p/alpha-app/members/", {"action": "remove", "user_id": members["owner"].pk})
    assert removed.status_code == 412
    assert member_role("alpha-app", members["owner"].pk) == "owner"


def test_deleting_a_project_needs_its_id_and_removes_everything(seeded: Any, as_user: Any) -> None:
    from dashboard.models import AuditEntry
    from projects.models import Project
    from storage.models import StoredObject

    owner = as_user(seeded["owner"])
    wrong = owner.post("/console/p/alpha-app/settings/", {"confirm": "alpha"})
    assert wrong.status_code == 400
    assert Project.objects.filter(pk="alpha-app").exists()
    response = owner.post("/console/p/alpha-app/settings/", {"confirm": "alpha-app"})
    assert response.status_code == 302
    assert not Project.objects.filter(pk="alpha-app").exists()
    assert StoredObject.objects.for_project("alpha-app").count() == 0
    assert Project.objects.filter(pk="beta-app").exists()
    entry = AuditEntry.objects.unscoped().filter(action="project.delete").get()
    assert (entry.target, entry.actor_email) == ("alpha-app", "owner@example.com")
    assert owner.get("/console/p/alpha-app/").status_code == 404
