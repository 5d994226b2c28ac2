"""The ``baas`` console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from projects.models import ApiKey, Project
from projects.services import secret_hash
from tests.conftest import ROOT, server_env


def _baas(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("baas", path=os.path.dirname(os.sys.executable)) or "baas"
    return subprocess.run([executable, *args], cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=120)


def test_createproject_json_prints_working_keys(transactional_db: Any, api: Any) -> None:
    result = _baas("createproject", "cli-app", "--name", "From CLI", "--json")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert set(output) == {"projectId", "publishableKey", "secretKey"}
    assert output["projectId"] == "cli-app"
    assert Project.objects.get(pk="cli-app").name == "From CLI"
    hashes = set(ApiKey.objects.for_project("cli-app").values_list("key_hash", flat=True))
    assert hashes == {secret_hash(output["publishableKey"]), secret_hash(output["secretKey"])}
    assert api.with_key(output["secretKey"]).get("/v1/projects/cli-app/keys").status == 200


def test_createproject_rejects_bad_and_duplicate_ids(transactional_db: Any) -> None:
    bad = _baas("createproject", "Bad_Id", "--json")
    assert bad.returncode != 0 and "Project id must match" in bad.stderr
    assert _baas("createproject", "dup-app", "--json").returncode == 0
    again = _baas("createproject", "dup-app", "--json")
    assert again.returncode != 0 and "already exists" in again.stderr
    assert Project.objects.filter(pk="dup-app").count() == 1
