"""Who may see and change what in the console.

A console member acts with their role's power, the same mapping as a personal access
token on the REST API (``authenticate_console_token``): owners, admins and developers
write with secret-key power, viewers only read. A project the user is not a member of
answers 404, like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from baas.api.authentication import WRITER_ROLES
from baas.api.context import RequestContext
from projects import caching
from projects.models import ROLE_RANK, Project, Role

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# What each role may change, shown on the members page and enforced by every view.
ROLE_POWERS = {
    Role.OWNER: "everything, including members and deleting the project",
    Role.ADMIN: "API keys, and everything a developer can",
    Role.DEVELOPER: "collections, documents, rules, users, files and settings",
    Role.VIEWER: "sees everything, changes nothing",
}


@dataclass(frozen=True)
class Console:
    """The project a console page is about, and the signed-in member's standing in it."""

    project: Project
    user: Any
    role: str
    ctx: RequestContext

    def allows(self, minimum: str) -> bool:
        return ROLE_RANK.get(Role(self.role), 0) >= ROLE_RANK[Role(minimum)]

    @property
    def can_write(self) -> bool:
        return self.allows(Role.DEVELOPER)

    @property
    def can_admin(self) -> bool:
        return self.allows(Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.allows(Role.OWNER)


def console_access(request: HttpRequest, project_id: str) -> Console:
    """The caller's console on ``project_id``; 404 for a non-member, whoever they are."""
    role = caching.member_role(project_id, request.user.pk) if request.user.is_authenticated else None
    if role is None:
        raise Http404("Project not found.")
    project = Project.objects.get(pk=project_id)
    writes = request.method not in SAFE_METHODS
    # A viewer's changes get no power at all, so a check missed in a view still fails.
    powerful = role in WRITER_ROLES or not writes
    ctx = RequestContext(
        project_id=project_id,
        key_kind="secret" if powerful else None,
        origin="console",
        console_user_id=request.user.pk,
        role=role,
    )
    return Console(project=project, user=request.user, role=role, ctx=ctx)


def forbidden(request: HttpRequest, console: Console | None, message: str) -> HttpResponse:
    return render(request, "dashboard/forbidden.html", {"console": console, "message": message}, status=403)


def project_page(*, write_role: str = Role.DEVELOPER) -> Callable[..., Any]:
    """A view of one project: signed in, a member, and ``write_role`` or above to change."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, project_id: str, **kwargs: Any) -> HttpResponse:
            console = console_access(request, project_id)
            if request.method not in SAFE_METHODS and not console.allows(write_role):
                return forbidden(request, console, f"This change needs the {write_role} role; you are {console.role}.")
            request.console = console  # type: ignore[attr-defined]
            return view(request, console, **kwargs)

        return wrapped

    return decorate
