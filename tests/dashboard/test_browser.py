"""The console in a real headless Chromium against a live server process.

Chromium is Debian's /usr/bin/chromium driven by Playwright; when it is missing these
tests fail (never skip). Screenshots of the main pages land in test-artifacts/console/.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets.sync.client

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
SHOTS = ROOT / "test-artifacts" / "console"
PASSWORD = "a-Decent-pass-9"
FAST_USAGE = {"BAAS_USAGE_FLUSH_SECONDS": "0.5", "BAAS_USAGE_SAMPLE_SECONDS": "1"}
GREET = """from baas_functions import on_call


@on_call
def handler(event, ctx):
    print("greeting", event.data["name"])
    return {"hello": event.data["name"]}
"""


@pytest.fixture(autouse=True)
def _cheap_passwords() -> None:
    """Keep the real hashers: the server process must verify hashes made in this one."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(asgi_server_factory: Any) -> Any:
    # Usage counts flushed every half second, so the chart has data within the test.
    return asgi_server_factory("console", **FAST_USAGE)


@pytest.fixture
def functions_runner(server: Any, tmp_path: Path) -> Iterator[None]:
    """Services mode runs functions in a Celery worker beside the server (embedded mode
    runs them in the server process)."""
    from tests.conftest import MODE, server_env, stop_process

    if MODE != "services":
        yield
        return
    log_path = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "baas", "worker", "--pool=threads", "--concurrency=2",
         "-l", "info", "-n", "console@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=server_env(**FAST_USAGE), stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    from baas.celery import app

    node = f"console@{socket.gethostname()}"
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts Celery slowly
        # The worker logs at WARNING, so it says nothing when ready: ask it.
        while not app.control.ping(destination=[node], timeout=0.5):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        yield
    finally:
        stop_process(process)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_new_team_builds_an_app_in_the_console(server: Any, functions_runner: None, page: Any, tmp_path: Path) -> None:
    base = server.url + "/console/"
    # Sign up and create a project.
    page.goto(base + "signup/")
    page.get_by_label("Email").fill("lin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(base)
    page.get_by_label("Project id").fill("shop-app")
    page.get_by_label("Name").fill("Shop")
    page.get_by_role("button", name="Create project").click()
    publishable = page.locator('[data-key="publishable"]').inner_text()
    secret = page.locator('[data-key="secret"]').inner_text()
    assert publishable.startswith("pk_") and secret.startswith("sk_")
    shot(page, "projects")
    page.get_by_role("link", name="Open Shop").click()
    page.wait_for_url(base + "p/shop-app/")

    # A collection with a rule.
    page.get_by_role("link", name="Collections").click()
    page.get_by_label("New collection").fill("posts")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url(base + "p/shop-app/collections/posts/")
    page.get_by_role("link", name="Rules, schema & indexes").click()
    page.get_by_label("read", exact=True).fill("auth != null && resource.data.owner == auth.uid")
    page.get_by_role("button", name="Save config").click()
    assert "Saved (version 2)" in page.locator("[role=status]").inner_text()

    # Add a document, edit it (a JSON mistake is shown in place), see it in the browser.
    page.goto(base + "p/shop-app/collections/posts/")
    page.get_by_role("link", name="Add document").click()
    page.get_by_label("Id").fill("p1")
    page.get_by_label("Data (JSON object)").fill('{"title": "Hello", "owner": "u1"}')
    page.get_by_role("button", name="Save document").click()
    page.wait_for_url(base + "p/shop-app/collections/posts/documents/p1/")
    page.get_by_label("Data (JSON object)").fill('{"title": "Hello again", "owner": "u1"')
    page.get_by_role("button", name="Save").click()
    assert "Invalid JSON at line 1" in page.locator("[role=alert]").inner_text()
    assert page.get_by_label("Data (JSON object)").get_attribute("aria-invalid") == "true"
    page.get_by_label("Data (JSON object)").fill('{"title": "Hello again", "owner": "u1"}')
    page.get_by_role("button", name="Save").click()
    assert "Saved as version 2" in page.locator("[role=status]").inner_text()
    page.get_by_role("link", name="Documents").click()
    row = page.locator('tr[data-doc="p1"]')
    assert '{"owner": "u1", "title": "Hello again"}' in row.inner_text()
    shot(page, "documents")
    # The query builder swaps the results in place (htmx) and keeps the query in the URL.
    page.locator("#f0_field").fill("title")
    page.locator("#f0_value").fill("nothing like it")
    page.get_by_role("button", name="Run query").click()
    page.get_by_text("No documents match.").wait_for()
    assert "f0_value=nothing" in page.url
    page.locator("#f0_value").fill('"Hello again"')
    page.get_by_role("button", name="Run query").click()
    page.locator('tr[data-doc="p1"]').wait_for()

    # Test the rule in the playground, as a real end user of the project.
    signup = requests.post(
        server.url + "/v1/projects/shop-app/auth/signup",
        json={"email": "u1@example.com", "password": PASSWORD},
        headers={"X-Api-Key": publishable},
        timeout=10,
    )
    assert signup.status_code == 201, signup.text
    uid = signup.json()["user"]["uid"]
    page.get_by_role("link", name="Rules, schema & indexes").click()
    page.get_by_label("Document id").fill("p1")
    page.get_by_label("As user").select_option(uid)
    page.get_by_role("button", name="Run test").click()
    result = page.locator("#playground-result [data-playground]")
    result.wait_for()
    # The document's owner is "u1", not this user's uid: denied.
    assert result.get_attribute("data-playground") == "denied"
    page.get_by_label("Draft rule").fill("auth != null")
    page.get_by_role("button", name="Run test").click()
    page.locator('#playground-result [data-playground="allowed"]').wait_for()
    shot(page, "rules")

    # Upload a file into a folder and download it again.
    page.get_by_role("link", name="Storage").click()
    page.get_by_label("New bucket").fill("files")
    page.get_by_role("button", name="Create bucket").click()
    page.get_by_role("link", name="files").click()
    # Larger than the 2 MiB limit on JSON bodies: console uploads are held to the storage limit.
    payload = b"hello from the console\n" * 140_000
    page.get_by_label("File", exact=True).set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": payload})
    page.get_by_label("Save as").fill("docs/notes.txt")
    page.get_by_role("button", name="Upload").click()
    page.locator('tr[data-folder="docs/"]').wait_for()
    page.get_by_role("link", name="docs/").click()
    page.locator('tr[data-path="docs/notes.txt"]').wait_for()
    with page.expect_download() as download_info:
        page.locator('tr[data-path="docs/notes.txt"]').get_by_role("link", name="Download").click()
    saved = tmp_path / "downloaded.txt"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == payload

    # Deploy a function from pasted code, invoke it with a payload, read its log.
    page.get_by_role("link", name="Functions").click()
    page.get_by_label("Name", exact=True).fill("greet")
    page.get_by_label("Code (main.py)").fill(GREET)
    page.get_by_role("button", name="Deploy function").click()
    page.wait_for_url(base + "p/shop-app/functions/greet/")
    page.get_by_label("Payload (JSON)").fill('{"name": "Lin"}')
    page.get_by_role("button", name="Invoke").click()
    outcome = page.locator('[data-outcome="ok"]')
    assert '"hello": "Lin"' in outcome.inner_text()
    page.locator('tr[data-status="succeeded"] a').first.click()
    assert "greeting Lin" in page.locator("#stdout").inner_text()
    shot(page, "function-execution")

    # API traffic (the edge, the storage transport) and a realtime connection show on the charts.
    for _ in range(5):
        assert requests.get(server.url + "/v1/projects/shop-app", headers={"X-Api-Key": publishable}, timeout=10).status_code == 200
    objects = server.url + "/v1/projects/shop-app/buckets/files/objects/"
    assert requests.get(objects + "docs/notes.txt", headers={"X-Api-Key": secret}, timeout=10).content == payload
    assert requests.get(objects + "docs/missing.txt", headers={"X-Api-Key": secret}, timeout=10).status_code == 404
    socket_url = server.url.replace("http://", "ws://") + f"/v1/projects/shop-app/realtime?apiKey={secret}"
    with websockets.sync.client.connect(socket_url):

        def totals() -> dict[str, int]:
            page.goto(base + "p/shop-app/usage/?range=1h")
            page.locator('[data-usage-url][data-ready="true"]').wait_for()
            return {m: int(page.locator(f"#chart-{m}").get_attribute("data-total")) for m in ("requests", "errors", "function_runs", "realtime_connections")}

        deadline = time.monotonic() + 20
        seen = totals()
        # The sign-up, five reads, one download and one miss; one socket open now.
        while (seen["requests"] < 8 or seen["realtime_connections"] < 1) and time.monotonic() < deadline:
            time.sleep(0.5)
            seen = totals()
        assert seen == {"requests": 8, "errors": 1, "function_runs": 1, "realtime_connections": 1}
        drawn = page.evaluate(
            """() => {
              const canvas = document.getElementById('chart-requests');
              const values = canvas.chart.data.datasets[0].data;
              return {points: values.length, sum: values.reduce((a, b) => a + b, 0), width: canvas.width,
                      charts: ['requests','errors','documents','storage_bytes','function_runs','push_sends','realtime_connections']
                        .filter(m => document.getElementById('chart-' + m).chart).length};
            }"""
        )
        assert drawn == {"points": 60, "sum": 8, "width": drawn["width"], "charts": 7} and drawn["width"] > 0
    shot(page, "usage")

    # The audit log recorded the changes, and the layout fits a phone.
    page.get_by_role("link", name="Audit log").click()
    actions = page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions[:4] == ["function.invoke", "function.deploy", "file.upload", "bucket.create"]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "p/shop-app/collections/posts/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "phone-documents")


def test_a_viewer_sees_but_cannot_change(server: Any, page: Any) -> None:
    from django.contrib.auth import get_user_model

    from projects.documents.services import document_set
    from projects.services import membership_set, project_create
    from baas.api.context import RequestContext

    created = project_create(project_id="view-app", name="Viewed")
    viewer = get_user_model().objects.create_user(username="vi@example.com", email="vi@example.com", password=PASSWORD)
    membership_set(project=created.project, user=viewer, role="viewer")
    ctx = RequestContext(project_id="view-app", key_kind="secret", origin="console")
    document_set(ctx=ctx, collection="posts", doc_id="p1", data={"title": "read me"})

    base = server.url + "/console/"
    page.goto(base + "login/")
    page.get_by_label("Email").fill("vi@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base)
    page.goto(base + "p/view-app/collections/posts/documents/p1/")
    editor = page.get_by_label("Data (JSON object)")
    assert '"read me"' in editor.input_value()
    assert editor.get_attribute("readonly") is not None
    assert page.get_by_role("button", name="Save").count() == 0
    page.goto(base + "p/view-app/collections/posts/")
    assert page.get_by_role("link", name="Add document").count() == 0
    # A hand-made POST with a valid CSRF token is still refused, and nothing changes.
    status = page.evaluate(
        """async () => {
          const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
          const body = new URLSearchParams({action: 'save', version: '1', data: '{"title": "changed"}'});
          const r = await fetch('p1/'.replace('p1/', 'documents/p1/'), {method: 'POST', body, headers: {'X-CSRFToken': token}});
          return r.status;
        }"""
    )
    assert status == 403
    from projects.documents.store import document_fetch

    assert document_fetch(project_id="view-app", collection="posts", doc_id="p1").data == {"title": "read me"}
