"""`baas functions deploy DIR --project ID`: every decorated function of a folder, on this
installation's database or through a running server's API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from functions.models import Function
from tests.conftest import ROOT, server_env

MODULE = """
from baas_functions import on_call, on_document_deleted

@on_call
def greet(event, ctx):
    return "hi " + str(event.data)

@on_document_deleted("orders")
def order_gone(event, ctx):
    return None

def not_a_function_of_ours():
    return 1
"""


def _folder(tmp_path: Path, text: str = MODULE) -> Path:
    folder = tmp_path / "fns"
    (folder / "helpers").mkdir(parents=True, exist_ok=True)
    (folder / "main.py").write_text(text)
    (folder / "helpers" / "__init__.py").write_text("VALUE = 1\n")
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "junk.py").write_text("this is not python (\n")
    return folder


def _baas(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baas.cli", *args], cwd=ROOT, env=server_env(**env),
                          capture_output=True, text=True, timeout=120)


def test_deploy_a_folder_on_this_installation(transactional_db: Any, project: Any, tmp_path: Path) -> None:
    done = _baas("functions", "deploy", str(_folder(tmp_path)), "--project", "alpha-app", "--json", "--env", "A=1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {(f["name"], f["version"]) for f in result["functions"]} == {("greet", 1), ("order_gone", 1)}
    triggers = {f.name: f.versions.get().triggers for f in Function.objects.for_project("alpha-app")}
    assert triggers == {
        "greet": [{"type": "http"}],
        "order_gone": [{"type": "document", "collection": "orders", "events": ["delete"]}],
    }
    assert sorted(Function.objects.for_project("alpha-app").get(name="greet").versions.get().files) == [
        "helpers/__init__.py", "main.py"
    ]
    again = _baas("functions", "deploy", str(_folder(tmp_path)), "--project", "alpha-app", "--only", "greet")
    assert again.returncode == 0 and "deployed greet v2" in again.stdout


def test_refusals_are_clear(transactional_db: Any, project: Any, tmp_path: Path) -> None:
    broken = _baas("functions", "deploy", str(_folder(tmp_path, "def oops(:\n")), "--project", "alpha-app")
    assert broken.returncode != 0 and "SyntaxError" in broken.stderr
    missing = _baas("functions", "deploy", str(_folder(tmp_path)), "--project", "no-such-app")
    assert missing.returncode != 0 and "No project 'no-such-app'" in missing.stderr
    plain = _baas("functions", "deploy", str(_folder(tmp_path, "def f():\n    return 1\n")), "--project", "alpha-app")
    assert plain.returncode != 0 and "No decorated functions" in plain.stderr
    assert not Function.objects.for_project("alpha-app").exists()


def test_deploy_through_a_running_server(asgi_server: Any, project: Any, tmp_path: Path) -> None:
    done = _baas("functions", "deploy", str(_folder(tmp_path)), "--project", "alpha-app", "--url", asgi_server.url,
                 "--key", project.secret_key, "--json")
    assert done.returncode == 0, done.stderr + asgi_server.log()
    assert {f["name"] for f in json.loads(done.stdout)["functions"]} == {"greet", "order_gone"}
    assert Function.objects.for_project("alpha-app").count() == 2
    wrong_key = _baas("functions", "deploy", str(_folder(tmp_path)), "--project", "alpha-app", "--url", asgi_server.url,
                      "--key", "sk_wrong")
    assert wrong_key.returncode != 0 and "unauthenticated" in wrong_key.stderr
