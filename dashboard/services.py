"""Console-only writes: the audit log, invitations, member changes and project deletion.

Everything else the console changes goes through the same services as the REST API.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from baas.api.errors import FailedPrecondition, InvalidArgument, NotFound
from dashboard.models import AuditEntry, Invitation
from projects import caching
from projects.models import Membership, Project, Role
from projects.services import membership_set, secret_hash

logger = logging.getLogger("baas.console")

INVITATION_LIFETIME = timedelta(days=7)


def audit_record(*, project: Project | None, actor: Any, action: str, target: str = "", details: dict[str, Any] | None = None) -> None:
    """One line of the audit log. Never pass secrets in ``details``."""
    AuditEntry.objects.unscoped().create(
        project=project,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target=target[:300],
        details=details or {},
    )


def audit_list(*, project: Project, limit: int = 200) -> list[AuditEntry]:
    return list(AuditEntry.objects.for_project(project).order_by("-created_at", "-pk")[:limit])


# --- members ------------------------------------------------------------------------------


def _owners_left(project: Project, without_user_id: int) -> int:
    return Membership.objects.for_project(project).filter(role=Role.OWNER).exclude(user_id=without_user_id).count()


def member_role_change(*, project: Project, actor: Any, user_id: int, role: str) -> Membership:
    """Owners only (the view checks). The last owner cannot step down."""
    if role not in Role.values:
        raise InvalidArgument(f"role must be one of {', '.join(Role.values)}.", details={"field": "role"})
    with transaction.atomic():
        membership = Membership.objects.for_project(project).select_for_update().filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("Member not found.")
        if membership.role == Role.OWNER and role != Role.OWNER and not _owners_left(project, user_id):
            raise FailedPrecondition("A project keeps at least one owner.")
        membership = membership_set(project=project, user=membership.user, role=role)
        audit_record(project=project, actor=actor, action="member.role", target=membership.user.email, details={"role": role})
    return membership


def member_remove(*, project: Project, actor: Any, user_id: int) -> None:
    with transaction.atomic():
        membership = Membership.objects.for_project(project).select_for_update().filter(user_id=user_id).first()
        if membership is None:
            raise NotFound("Member not found.")
        if membership.role == Role.OWNER and not _owners_left(project, user_id):
            raise FailedPrecondition("A project keeps at least one owner.")
        email = membership.user.email
        membership.delete()
        audit_record(project=project, actor=actor, action="member.remove", target=email)


def invitation_create(*, project: Project, actor: Any, email: str, role: str, accept_url: Any) -> Invitation:
    """Mail a single-use link (``accept_url(token)`` builds it) to join with ``role``."""
    email = (email or "").strip()
    if not email or "@" not in email or len(email) > 254:
        raise InvalidArgument("Enter the email address to invite.", details={"field": "email"})
    if role not in Role.values:
        raise InvalidArgument(f"role must be one of {', '.join(Role.values)}.", details={"field": "role"})
    if Membership.objects.for_project(project).filter(user__email__iexact=email).exists():
        raise FailedPrecondition(f"{email} is already a member.", details={"field": "email"})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.unscoped().create(
            project=project,
            email=email,
            role=role,
            token_hash=secret_hash(token),
            invited_by=actor,
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        audit_record(project=project, actor=actor, action="member.invite", target=email, details={"role": role})
    link = accept_url(token)
    body = render_to_string(
        "dashboard/email/invitation.txt", {"project": project, "inviter": actor, "role": role, "link": link}
    )
    transaction.on_commit(
        lambda: send_mail(f"Join {project.name} on baas", body, settings.DEFAULT_FROM_EMAIL, [email]), robust=True
    )
    return invitation


def invitation_get(*, token: str) -> Invitation:
    invitation = (
        Invitation.objects.unscoped().select_related("project").filter(token_hash=secret_hash(token or "")).first()
    )
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at < timezone.now():
        raise NotFound("This invitation is not valid any more.")
    return invitation


def invitation_accept(*, token: str, user: Any) -> Membership:
    """The signed-in user joins with the invited role (an existing membership is kept
    if it is already higher: an invitation never demotes)."""
    with transaction.atomic():
        invitation = invitation_get(token=token)
        Invitation.objects.for_project(invitation.project).filter(pk=invitation.pk).update(accepted_at=timezone.now())
        current = caching.member_role(invitation.project_id, user.pk)
        from projects.models import ROLE_RANK

        role = invitation.role
        if current is not None and ROLE_RANK[Role(current)] >= ROLE_RANK[Role(role)]:
            role = current
        membership = membership_set(project=invitation.project, user=user, role=role)
        audit_record(project=invitation.project, actor=user, action="member.join", target=user.email, details={"role": role})
    return membership


def invitation_revoke(*, project: Project, actor: Any, invitation_id: int) -> None:
    updated = (
        Invitation.objects.for_project(project)
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .update(revoked_at=timezone.now())
    )
    if not updated:
        raise NotFound("Invitation not found.")
    audit_record(project=project, actor=actor, action="member.invite_revoke", target=str(invitation_id))


def invitations_pending(*, project: Project) -> list[Invitation]:
    return list(
        Invitation.objects.for_project(project)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
    )


# --- projects -----------------------------------------------------------------------------


def project_delete(*, project: Project, actor: Any, confirm: str) -> None:
    """Delete the project and everything in it (rows cascade; stored file bytes are
    removed after commit). ``confirm`` must repeat the project id."""
    if confirm != project.id:
        raise InvalidArgument("Type the project id to confirm.", details={"field": "confirm"})
    from projects.models import ApiKey
    from storage.backends import backend_get, project_prefix

    key_hashes = list(ApiKey.objects.for_project(project).values_list("key_hash", flat=True))
    project_id = project.id
    from dashboard.models import UsageBucket

    with transaction.atomic():
        project.delete()
        UsageBucket.objects.for_project(project_id).delete()
        audit_record(project=None, actor=actor, action="project.delete", target=project_id)

    def forget() -> None:
        for key_hash in key_hashes:
            caching.api_key_forget(key_hash)
        backend = backend_get()
        try:
            for key in backend.keys(project_prefix(project_id)):
                backend.delete(key)
        except Exception:
            logger.exception("could not delete the stored files of a deleted project")

    transaction.on_commit(forget, robust=True)


def console_user_create(*, email: str, password: str) -> Any:
    """A console account; the email is the username."""
    User = get_user_model()
    return User.objects.create_user(username=email, email=email, password=password)
