"""``baas functions deploy DIR --project ID``: deploy every decorated function of a folder.

Without ``--url`` it works on this installation's database, like ``createproject``; with
``--url`` (and a secret key in ``--key`` or ``BAAS_SECRET_KEY``) it deploys through the
HTTP API of a running server. Either way the source is imported in the sandbox first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser

from baas.api.context import RequestContext
from baas.api.errors import ApplicationError

SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules"}


def folder_files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder.")
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in relative.parts[:-1]):
            continue
        files[relative.as_posix()] = path.read_text()
    if not files:
        raise CommandError(f"No Python files in {folder}.")
    return files


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep:
            raise CommandError(f"{option} takes NAME=VALUE, not {value!r}.")
        pairs[name] = text
    return pairs


class Command(BaseCommand):
    help = "Cloud functions: `deploy DIR --project ID` deploys every decorated function in DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deploy = sub.add_parser("deploy", help="deploy a folder's decorated functions")
        deploy.add_argument("folder")
        deploy.add_argument("--project", required=True)
        deploy.add_argument("--url", default=os.environ.get("BAAS_URL"), help="a running server (default: this installation)")
        deploy.add_argument("--key", default=os.environ.get("BAAS_SECRET_KEY"), help="the project's secret key, with --url")
        deploy.add_argument("--only", action="append", default=[], help="deploy only these function names")
        deploy.add_argument("--timeout", type=int, default=None, dest="timeout_seconds")
        deploy.add_argument("--memory", type=int, default=None, dest="memory_mb")
        deploy.add_argument("--env", action="append", default=[], help="NAME=VALUE")
        deploy.add_argument("--secret", action="append", default=[], help="NAME=VALUE (stored sealed, never shown)")
        deploy.add_argument("--retry", action="store_true", help="retry failed event executions with backoff")
        deploy.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args: Any, **options: Any) -> None:
        files = folder_files(Path(options["folder"]))
        settings_body: dict[str, Any] = {"files": files, "env": _pairs(options["env"], "--env"),
                                         "secrets": _pairs(options["secret"], "--secret")}
        if options["timeout_seconds"] is not None:
            settings_body["timeoutSeconds"] = options["timeout_seconds"]
        if options["memory_mb"] is not None:
            settings_body["memoryMb"] = options["memory_mb"]
        if options["retry"]:
            settings_body["retry"] = True
        client = _Remote(options["url"], options["project"], options["key"]) if options["url"] else _Local(options["project"])
        found = client.discover(files)
        if options["only"]:
            found = [item for item in found if item["name"] in options["only"]]
        if not found:
            raise CommandError("No decorated functions found (use @on_call, @on_document_created(...), ...).")
        deployed = []
        for item in found:
            body = {**settings_body, "name": item["name"], "entrypoint": item["entrypoint"], "triggers": item["triggers"]}
            result = client.deploy(body)
            deployed.append({"name": result["name"], "version": result["activeVersion"], "triggers": result["triggers"]})
            if not options["as_json"]:
                kinds = ", ".join(trigger["type"] for trigger in result["triggers"])
                self.stdout.write(f"deployed {result['name']} v{result['activeVersion']} ({kinds})")
        if options["as_json"]:
            self.stdout.write(json.dumps({"projectId": options["project"], "functions": deployed}))


class _Local:
    def __init__(self, project_id: str) -> None:
        from projects.models import Project

        if not Project.objects.filter(pk=project_id).exists():
            raise CommandError(f"No project {project_id!r}.")
        self.ctx = RequestContext(project_id=project_id, key_kind="secret", origin="cli")

    def discover(self, files: dict[str, str]) -> list[dict[str, Any]]:
        from functions.services import functions_discover

        return _or_command_error(lambda: functions_discover(files=files))

    def deploy(self, body: dict[str, Any]) -> dict[str, Any]:
        from functions.selectors import function_get
        from functions.services import function_deploy

        return _or_command_error(lambda: (function_deploy(ctx=self.ctx, data=body), function_get(ctx=self.ctx, name=body["name"]))[1])


class _Remote:
    def __init__(self, url: str, project_id: str, key: str | None) -> None:
        if not key:
            raise CommandError("--url needs the project's secret key (--key or BAAS_SECRET_KEY).")
        self.base = f"{url.rstrip('/')}/v1/projects/{project_id}"
        self.session = requests.Session()
        self.session.headers["X-Api-Key"] = key

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.session.post(self.base + path, json=body, timeout=120)
        except requests.RequestException as exc:
            raise CommandError(f"Cannot reach the server: {exc}") from None
        payload = response.json() if response.content else {}
        if response.status_code >= 400:
            error = payload.get("error", {})
            trace = error.get("details", {}).get("traceback")
            raise CommandError(f"{error.get('code', response.status_code)}: {error.get('message', '')}" + (f"\n{trace}" if trace else ""))
        return payload

    def discover(self, files: dict[str, str]) -> list[dict[str, Any]]:
        return self._post("/functions:discover", {"files": files})["functions"]

    def deploy(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._post("/functions", body)


def _or_command_error(call: Any) -> Any:
    try:
        return call()
    except ApplicationError as error:
        trace = error.details.get("traceback")
        raise CommandError(f"{error.code}: {error.message}" + (f"\n{trace}" if trace else "")) from None
