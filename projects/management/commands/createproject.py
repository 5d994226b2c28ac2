"""``baas createproject ID``: a project with a publishable and a secret key."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from baas.api.errors import ApplicationError
from projects.services import project_create


class Command(BaseCommand):
    help = "Create a project and print its id and keys (the keys are shown only now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id")
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", default=None, help="email of an existing console user")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, project_id: str, name: str, owner: str | None, as_json: bool, **options: Any) -> None:
        owner_user = None
        if owner:
            owner_user = get_user_model().objects.filter(email__iexact=owner).first()
            if owner_user is None:
                raise CommandError(f"No console user with email {owner!r}.")
        try:
            created = project_create(project_id=project_id, name=name, owner=owner_user)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        result = {
            "projectId": created.project.id,
            "publishableKey": created.publishable_key,
            "secretKey": created.secret_key,
        }
        if as_json:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"Project:         {result['projectId']}\n"
                f"Publishable key: {result['publishableKey']}\n"
                f"Secret key:      {result['secretKey']}\n"
                "Keep the secret key safe: it is not shown again."
            )
