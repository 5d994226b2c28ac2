"""Housekeeping jobs: expired refresh tokens, OAuth states, mailed codes, custom-token
replay records and retired signing keys go; live rows and other projects' rows stay;
the schedule reaches a worker in both modes."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from django.utils import timezone

from baas.celery import app
from endusers import cleanup, keys
from endusers.models import CustomTokenUse, EmailToken, EndUser, OAuthState, RefreshToken, SigningKey
from tests.conftest import ROOT, server_env, stop_process
from tests.endusers.helpers import AUTH, BETA_AUTH, error, signup

PROJECTS = ("alpha-app", "beta-app")


def _user(project_id: str) -> EndUser:
    return EndUser.objects.for_project(project_id).create(project_id=project_id, uid=f"u-{secrets.token_hex(4)}")


def _refresh(project_id: str, expires_at: Any) -> RefreshToken:
    return RefreshToken.objects.for_project(project_id).create(
        project_id=project_id, user=_user(project_id), family=secrets.token_hex(16),
        token_hash=secrets.token_hex(32), expires_at=expires_at,
    )


def _oauth_state(project_id: str, expires_at: Any) -> OAuthState:
    return OAuthState.objects.for_project(project_id).create(
        project_id=project_id, provider="idp", state_hash=secrets.token_hex(32), secrets_sealed="x",
        redirect_uri="https://app.example/done", expires_at=expires_at,
    )


def _email_token(project_id: str, expires_at: Any) -> EmailToken:
    return EmailToken.objects.for_project(project_id).create(
        project_id=project_id, user=_user(project_id), purpose="reset", email="a@example.com",
        token_hash=secrets.token_hex(32), expires_at=expires_at,
    )


def _custom_use(project_id: str, expires_at: Any) -> CustomTokenUse:
    return CustomTokenUse.objects.for_project(project_id).create(
        project_id=project_id, jti=secrets.token_urlsafe(16), expires_at=expires_at
    )


KINDS: dict[str, tuple[Callable[[str, Any], Any], Callable[..., int]]] = {
    "refresh-token": (_refresh, cleanup.refresh_tokens_purge),
    "oauth-state": (_oauth_state, cleanup.oauth_states_purge),
    "email-token": (_email_token, cleanup.email_tokens_purge),
    "custom-token-use": (_custom_use, cleanup.custom_token_uses_purge),
}


def _seed(make: Callable[[str, Any], Any]) -> dict[tuple[str, str], Any]:
    """An expired row and a live one, in both projects."""
    now = timezone.now()
    rows = {}
    for project_id in PROJECTS:
        rows[(project_id, "expired")] = make(project_id, now - timedelta(seconds=1))
        rows[(project_id, "live")] = make(project_id, now + timedelta(minutes=5))
    return rows


def _left(model: Any) -> set[int]:
    return set(model.objects.unscoped().values_list("pk", flat=True))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_purge_removes_expired_rows_of_its_project_only(project: Any, other_project: Any, kind: str) -> None:
    make, purge = KINDS[kind]
    rows = _seed(make)
    model = type(rows[("alpha-app", "live")])
    assert purge(project_id="alpha-app") == 1
    assert _left(model) == {rows[k].pk for k in rows} - {rows[("alpha-app", "expired")].pk}
    # The job's sweep covers every project, and still keeps the live rows.
    assert purge() == 1
    assert _left(model) == {rows[("alpha-app", "live")].pk, rows[("beta-app", "live")].pk}
    assert purge() == 0


def test_purges_work_through_batches(project: Any) -> None:
    past = timezone.now() - timedelta(hours=1)
    expired = [_oauth_state("alpha-app", past) for _ in range(7)]
    live = _oauth_state("alpha-app", timezone.now() + timedelta(minutes=5))
    assert cleanup.oauth_states_purge(batch=3) == len(expired)
    assert _left(OAuthState) == {live.pk}


def test_live_sessions_keep_working_after_a_purge(public_api: Any, other_project: Any, api: Any) -> None:
    kept = signup(public_api, "kept@example.com")
    gone = signup(public_api, "gone@example.com")
    beta = signup(api.with_key(other_project.publishable_key), "beta@example.com", base=BETA_AUTH)
    RefreshToken.objects.for_project("alpha-app").filter(user__email="gone@example.com").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert cleanup.refresh_tokens_purge() == 1
    refreshed = public_api.post(f"{AUTH}/refresh", {"refreshToken": kept["refreshToken"]})
    assert refreshed.status == 200, refreshed.body
    error(public_api.post(f"{AUTH}/refresh", {"refreshToken": gone["refreshToken"]}), 401, "unauthenticated")
    beta_api = api.with_key(other_project.publishable_key)
    assert beta_api.post(f"{BETA_AUTH}/refresh", {"refreshToken": beta["refreshToken"]}).status == 200


def test_signing_keys_go_only_after_their_retention(project: Any, other_project: Any) -> None:
    for project_id in PROJECTS:
        keys.signer_for(project_id)
        keys.signing_key_rotate(project_id=project_id)  # retired now: still published
        keys.signing_key_rotate(project_id=project_id)
    long_ago = timezone.now() - timedelta(days=1, seconds=1)
    old = {}
    for project_id in PROJECTS:
        first = SigningKey.objects.for_project(project_id).order_by("created_at", "pk").first()
        assert first is not None
        SigningKey.objects.for_project(project_id).filter(pk=first.pk).update(retired_at=long_ago)
        old[project_id] = first.pk
    before = _left(SigningKey)
    assert len(before) == 6
    assert cleanup.signing_keys_purge(project_id="alpha-app") == 1
    assert _left(SigningKey) == before - {old["alpha-app"]}
    assert cleanup.signing_keys_purge() == 1
    assert _left(SigningKey) == before - set(old.values())
    for project_id in PROJECTS:  # the recently retired and the active key of each remain
        assert SigningKey.objects.for_project(project_id).count() == 2
        assert SigningKey.objects.for_project(project_id).filter(retired_at__isnull=True).count() == 1


def test_every_cleanup_is_scheduled_and_its_task_runs_it(project: Any, other_project: Any) -> None:
    import endusers.tasks  # noqa: F401  (registers the tasks)

    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "endusers.refresh_tokens_purge", "endusers.oauth_states_purge", "endusers.email_tokens_purge",
        "endusers.custom_token_uses_purge", "endusers.signing_keys_purge",
    } <= scheduled
    assert scheduled <= set(app.tasks)
    rows = _seed(_custom_use)
    assert app.tasks["endusers.custom_token_uses_purge"].apply(throw=True).get() == 2
    assert _left(CustomTokenUse) == {r.pk for k, r in rows.items() if k[1] == "live"}


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout}s")


@pytest.mark.embedded
def test_the_embedded_beat_thread_sends_due_cleanups_to_the_embedded_worker(
    transactional_db: Any, monkeypatch: Any
) -> None:
    from baas import jobs
    from projects.services import project_create

    project_create(project_id="alpha-app")
    assert jobs.embedded_worker_start() is not None
    assert jobs._beat is not None and jobs._beat.is_alive()
    # A scheduler like the thread's: every interval job first due a minute after start.
    scheduler = jobs.EmbeddedScheduler(app=app)
    due_in = {name: entry.is_due()[1] for name, entry in scheduler.schedule.items() if name.startswith("endusers.")}
    assert len(due_in) == 5 and all(0 < seconds <= jobs.FIRST_RUN_DELAY for seconds in due_in.values()), due_in
    monkeypatch.setattr(jobs, "FIRST_RUN_DELAY", 0.0)
    expired = _oauth_state("alpha-app", timezone.now() - timedelta(seconds=1))
    live = _oauth_state("alpha-app", timezone.now() + timedelta(minutes=5))
    scheduler = jobs.EmbeddedScheduler(app=app)
    for _ in range(10):  # a tick sends one due job, through the in-memory broker
        scheduler.tick()
    _wait_until(lambda: not OAuthState.objects.for_project("alpha-app").filter(pk=expired.pk).exists(), 10, "the purge")
    assert _left(OAuthState) == {live.pk}


@pytest.mark.services
def test_celery_beat_schedules_cleanups_for_a_worker_process(transactional_db: Any, tmp_path: Path) -> None:
    from projects.services import project_create

    project_create(project_id="alpha-app")
    expired = _email_token("alpha-app", timezone.now() - timedelta(seconds=1))
    live = _email_token("alpha-app", timezone.now() + timedelta(minutes=5))
    env = server_env(BAAS_CLEANUP_INTERVAL_SECONDS="1")
    celery = [sys.executable, "-m", "celery", "-A", "baas"]
    log = (tmp_path / "celery.log").open("wb")
    beat = subprocess.Popen([*celery, "beat", "-l", "warning", "--schedule", str(tmp_path / "beat-schedule")],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker = subprocess.Popen([*celery, "worker", "--pool=solo", "-l", "warning", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until(lambda: not EmailToken.objects.for_project("alpha-app").filter(pk=expired.pk).exists(), 30,
                    "the scheduled purge\n" + (tmp_path / "celery.log").read_text())
    finally:
        stop_process(beat)
        stop_process(worker)
    assert _left(EmailToken) == {live.pk}
