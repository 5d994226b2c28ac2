"""sandbox_discover: the triggers a deploy's decorators declare, and refused imports."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def discover(files: dict[str, str], timeout: float = 10) -> list[dict[str, Any]]:
    from functions.sandbox import Limits, sandbox_discover

    return sandbox_discover(
        files={path: textwrap.dedent(text).lstrip("\n") for path, text in files.items()},
        limits=Limits(timeout_seconds=timeout),
    )


def refused(files: dict[str, str], timeout: float = 10) -> Any:
    from functions.sandbox import DeployError

    with pytest.raises(DeployError) as caught:
        discover(files, timeout)
    return caught.value


def test_every_decorator_records_its_trigger(isolation: str) -> None:
    found = discover({"main.py": """
        from baas_functions import (
            on_call, on_document_created, on_document_deleted, on_document_updated, on_document_written,
            on_object_deleted, on_object_finalized, on_schedule, on_user_created, on_user_deleted,
        )

        @on_call
        def call(event, ctx):
            return event.data

        @on_call()
        def call_with_parentheses(event, ctx):
            return None

        @on_document_created("orders")
        def created(event, ctx): ...

        @on_document_updated("orders")
        def updated(event, ctx): ...

        @on_document_deleted("orders")
        def deleted(event, ctx): ...

        @on_document_written("carts")
        def written(event, ctx): ...

        @on_user_created
        def user_created(event, ctx): ...

        @on_user_deleted()
        def user_deleted(event, ctx): ...

        @on_object_finalized("avatars")
        def finalized(event, ctx): ...

        @on_object_deleted("avatars")
        def object_deleted(event, ctx): ...

        @on_schedule("*/5 * * * *", timezone="Europe/Paris")
        def every_five_minutes(event, ctx): ...

        @on_schedule("0 3 * * *")
        def nightly(event, ctx): ...

        @on_document_created("orders")
        @on_document_deleted("orders")
        def both(event, ctx): ...

        def helper(event, ctx):  # not decorated: not a function of the deploy
            ...
    """})
    by_name = {item["name"]: item for item in found}
    assert [item["name"] for item in found] == sorted(by_name)
    assert {name: item["entrypoint"] for name, item in by_name.items()} == {name: f"main:{name}" for name in by_name}
    assert {name: item["triggers"] for name, item in by_name.items()} == {
        "call": [{"type": "http"}],
        "call_with_parentheses": [{"type": "http"}],
        "created": [{"type": "document", "collection": "orders", "events": ["create"]}],
        "updated": [{"type": "document", "collection": "orders", "events": ["update"]}],
        "deleted": [{"type": "document", "collection": "orders", "events": ["delete"]}],
        "written": [{"type": "document", "collection": "carts", "events": ["create", "update", "delete"]}],
        "user_created": [{"type": "auth", "events": ["user.created"]}],
        "user_deleted": [{"type": "auth", "events": ["user.deleted"]}],
        "finalized": [{"type": "storage", "bucket": "avatars", "events": ["object.finalized"]}],
        "object_deleted": [{"type": "storage", "bucket": "avatars", "events": ["object.deleted"]}],
        "every_five_minutes": [{"type": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Paris"}],
        "nightly": [{"type": "schedule", "cron": "0 3 * * *", "timezone": "UTC"}],
        "both": [
            {"type": "document", "collection": "orders", "events": ["delete"]},
            {"type": "document", "collection": "orders", "events": ["create"]},
        ],
    }


def test_decorated_functions_run_unchanged() -> None:
    from tests.functions_sandbox.conftest import run

    result = run(
        """
        from baas_functions import on_call, on_schedule, triggers_of

        @on_schedule("0 * * * *")
        def handler(event, ctx):
            return {"type": event.type, "triggers": triggers_of(handler), "name": handler.__name__}
        """,
        event={"type": "schedule", "id": "s-1"},
    )
    assert result.status == "succeeded", result.error
    assert result.result == {
        "type": "schedule",
        "triggers": [{"type": "schedule", "cron": "0 * * * *", "timezone": "UTC"}],
        "name": "handler",
    }


def test_packages_are_searched_and_imports_are_not_counted_twice() -> None:
    found = discover({
        "main.py": """
            from baas_functions import on_call
            from shop.jobs import nightly  # re-exported: still shop.jobs:nightly only

            @on_call
            def checkout(event, ctx):
                return nightly
        """,
        "shop/__init__.py": "",
        "shop/jobs.py": """
            from baas_functions import on_schedule

            @on_schedule("0 2 * * *", timezone="UTC")
            def nightly(event, ctx):
                return "ran"
        """,
        "shop/prices.json": "{}",
    })
    assert found == [
        {"entrypoint": "main:checkout", "name": "checkout", "triggers": [{"type": "http"}]},
        {"entrypoint": "shop.jobs:nightly", "name": "nightly",
         "triggers": [{"type": "schedule", "cron": "0 2 * * *", "timezone": "UTC"}]},
    ]


def test_a_module_without_decorators_declares_nothing() -> None:
    assert discover({"main.py": "def handler(event, ctx):\n    return 1\n"}) == []


def test_a_syntax_error_is_refused_with_its_traceback(isolation: str) -> None:
    error = refused({"main.py": """
        def handler(event, ctx):
            return {"unclosed": [1, 2}
    """})
    assert error.message.startswith("SyntaxError: ")
    assert 'File "main.py", line 2' in error.traceback
    assert "return {\"unclosed\": [1, 2}" in error.traceback
    assert "/sandbox/" not in error.traceback and "baas-fn-" not in error.traceback


def test_an_import_error_is_refused_and_the_platforms_packages_are_not_there() -> None:
    error = refused({"main.py": "import django\n\ndef handler(event, ctx):\n    return 1\n"})
    assert error.message == "ModuleNotFoundError: No module named 'django'"
    assert 'File "main.py", line 1, in <module>' in error.traceback
    missing = refused({"main.py": "from helpers import tax\n"})
    assert missing.message == "ModuleNotFoundError: No module named 'helpers'"


def test_an_exception_at_import_is_refused() -> None:
    error = refused({"main.py": """
        import os

        API_KEY = os.environ["API_KEY"]
    """})
    assert error.message == "KeyError: 'API_KEY'"
    assert 'File "main.py", line 3, in <module>' in error.traceback


def test_a_decorator_used_wrongly_is_refused() -> None:
    error = refused({"main.py": """
        from baas_functions import on_document_created

        @on_document_created(42)
        def handler(event, ctx): ...
    """})
    assert error.message == "TypeError: the collection is a non-empty string, got 42"


def test_an_import_that_does_not_finish_is_refused() -> None:
    error = refused({"main.py": "import time\ntime.sleep(30)\n"}, timeout=1)
    assert error.message == "Importing the code did not finish within 1 seconds."


def test_files_without_a_top_level_module_are_refused() -> None:
    error = refused({"lib/helpers.py": "X = 1\n", "README.md": "hello"})
    assert error.message.startswith("No Python module at the top level")


def test_paths_that_leave_the_code_folder_are_refused() -> None:
    from functions.sandbox import Limits, sandbox_discover

    for files in ({"../evil.py": "x = 1"}, {"/tmp/evil.py": "x = 1"}, {"main.py": "", "a/../../b.py": ""}):
        with pytest.raises(ValueError):
            sandbox_discover(files=files, limits=Limits())
