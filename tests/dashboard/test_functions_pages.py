"""Functions in the console: deploy (pasted or uploaded), versions and rollback, schedules,
delete, and who may do it. Invoking and logs run in the browser test, on a live server."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.django_db

P = "/console/p/alpha-app/functions/"
HELLO = "from baas_functions import on_call\n\n@on_call\ndef handler(event, ctx):\n    return 'v{}'\n"
TICK = "from baas_functions import on_schedule\n\n@on_schedule('*/5 * * * *')\ndef handler(event, ctx):\n    print('tick')\n"


def _state() -> Any:
    from functions.models import Function, FunctionVersion

    return (
        sorted(Function.objects.for_project("alpha-app").values_list("name", "active_version")),
        FunctionVersion.objects.for_project("alpha-app").count(),
    )


def test_deploy_versions_rollback_and_delete(seeded: Any, as_user: Any) -> None:
    dev = as_user(seeded["developer"])
    first = dev.post(P, {"name": "hello", "entrypoint": "main:handler", "source": HELLO.format(1)})
    assert first.status_code == 302 and first["Location"] == P + "hello/"
    from django.core.files.uploadedfile import SimpleUploadedFile

    second = dev.post(P, {"name": "hello", "entrypoint": "main:handler", "source": "", "file": SimpleUploadedFile("main.py", HELLO.format(2).encode())})
    assert second.status_code == 302
    assert _state() == ([("hello", 2)], 2)
    detail = dev.get(P + "hello/")
    assert re.findall(rb'data-version="(\d+)"', detail.content) == [b"2", b"1"]
    assert b"return &#x27;v2&#x27;" in detail.content
    assert dev.post(P + "hello/", {"action": "rollback", "version": "1"}).status_code == 302
    assert _state() == ([("hello", 1)], 2)
    assert dev.post(P + "hello/", {"action": "rollback", "version": "7"}).status_code == 404
    assert _state() == ([("hello", 1)], 2)
    assert dev.post(P + "hello/", {"action": "delete"}).status_code == 302
    assert _state() == ([], 0)
    assert dev.get(P + "hello/").status_code == 404


def test_a_broken_deploy_is_refused_in_place(seeded: Any, as_user: Any) -> None:
    dev = as_user(seeded["developer"])
    dev.post(P, {"name": "hello", "entrypoint": "main:handler", "source": HELLO.format(1)})
    broken = dev.post(P, {"name": "hello", "entrypoint": "main:handler", "source": "def handler(:\n"})
    assert broken.status_code == 400
    assert b'role="alert"' in broken.content and b"def handler(:" in broken.content
    assert _state() == ([("hello", 1)], 1)
    bad_name = dev.post(P, {"name": "no spaces", "source": HELLO.format(1)})
    assert bad_name.status_code == 400 and b"[name]" in bad_name.content
    not_python = dev.post(P, {"name": "x", "source": "", "file": __import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile("a.txt", b"hi")})
    assert not_python.status_code == 400 and b"Upload one Python file" in not_python.content
    assert _state() == ([("hello", 1)], 1)


def test_schedules_show_with_their_next_run(seeded: Any, as_user: Any) -> None:
    dev = as_user(seeded["developer"])
    dev.post(P, {"name": "tick", "entrypoint": "main:handler", "source": TICK})
    page = dev.get(P + "tick/").content.decode()
    assert "<code>*/5 * * * *</code> (UTC), next run" in page
    listing = dev.get(P).content.decode()
    assert 'data-function="tick"' in listing and "schedule */5 * * * *" in listing


@pytest.mark.parametrize("role", ["viewer", "outsider"])
def test_viewers_and_outsiders_cannot_deploy_invoke_or_roll_back(seeded: Any, as_user: Any, role: str) -> None:
    as_user(seeded["developer"]).post(P, {"name": "hello", "entrypoint": "main:handler", "source": HELLO.format(1)})
    as_user(seeded["developer"]).post(P, {"name": "hello", "entrypoint": "main:handler", "source": HELLO.format(2)})
    before = _state()
    client = as_user(seeded[role])
    expected = 403 if role == "viewer" else 404
    assert client.post(P, {"name": "hello", "source": HELLO.format(3)}).status_code == expected
    assert client.post(P + "hello/", {"action": "rollback", "version": "1"}).status_code == expected
    assert client.post(P + "hello/", {"action": "invoke", "payload": "{}"}).status_code == expected
    assert client.post(P + "hello/", {"action": "delete"}).status_code == expected
    assert _state() == before
    from functions.models import Execution

    assert Execution.objects.for_project("alpha-app").count() == 0
    assert client.get(P + "hello/").status_code == (200 if role == "viewer" else 404)
