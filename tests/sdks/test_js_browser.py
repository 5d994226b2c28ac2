"""The built JavaScript SDK in headless Chromium, on a page served from another origin than
the API (so every call goes through CORS): sign-in persisted in localStorage across a
reload, an upload from a browser File with progress, documents, a realtime subscription,
and typed errors with the exposed request id."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, sync_playwright

from tests.sdks.conftest import SdkTarget
from tests.services import free_port

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def page_origin(js_sdk: Path) -> Iterator[str]:
    """A static server for the SDK's folder (the page and dist/), on its own port: another origin."""
    port = free_port()
    handler = functools.partial(_QuietHandler, directory=str(js_sdk))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(page_origin: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{page_origin}/test/browser/index.html")
            page.wait_for_function("window.sdkReady === true", timeout=10_000)
            yield page
            assert errors == []
        finally:
            browser.close()


def start_client(page: Page, target: SdkTarget) -> str | None:
    """A client with the default persistence (localStorage here); the restored user's uid."""
    return page.evaluate(
        """async (cfg) => {
            window.app = baas.createClient(cfg);
            await app.auth.ready;
            return app.auth.currentUser ? app.auth.currentUser.uid : null;
        }""",
        {"url": target.url, "projectId": target.project_id, "apiKey": target.publishable_key},
    )


def test_sdk_in_chromium(page: Page, sdk_target: SdkTarget) -> None:
    admin = requests.Session()
    admin.headers["X-Api-Key"] = sdk_target.secret_key
    base = f"{sdk_target.url}/v1/projects/{sdk_target.project_id}"
    owner_rules = {"read": "auth != null", "write": "auth != null"}
    assert admin.post(f"{base}/buckets", json={"name": "photos", "rules": owner_rules}, timeout=10).status_code == 201
    assert admin.put(f"{base}/collections/notes", json={"rules": owner_rules}, timeout=10).status_code == 200

    assert start_client(page, sdk_target) is None
    uid = page.evaluate("async () => (await app.auth.signInAnonymously()).uid")

    # an upload from a real browser File (XMLHttpRequest, with upload progress)
    content = bytes((i * 13) % 256 for i in range(256 * 1024))
    page.set_input_files("#file", files=[{"name": "cat.png", "mimeType": "image/png", "buffer": content}])
    uploaded = page.evaluate(
        """async () => {
            const file = document.querySelector("#file").files[0];
            const progress = [];
            const object = await app.storage.bucket("photos").upload("me/" + file.name, file, {
                metadata: { album: "Été" }, onProgress: (p) => progress.push(p),
            });
            const back = await app.storage.bucket("photos").download("me/cat.png");
            let same = back.length === file.size;
            const original = new Uint8Array(await file.arrayBuffer());
            for (let i = 0; same && i < back.length; i++) same = back[i] === original[i];
            return { object, last: progress[progress.length - 1], count: progress.length, same };
        }"""
    )
    obj = uploaded["object"]
    assert (obj["path"], obj["size"], obj["contentType"], obj["owner"]) == ("me/cat.png", len(content), "image/png", uid)
    assert obj["sha256"] == hashlib.sha256(content).hexdigest() and obj["metadata"] == {"album": "Été"}
    assert uploaded["last"] == {"loaded": len(content), "total": len(content)} and uploaded["count"] >= 1
    assert uploaded["same"] is True
    stored = admin.get(f"{base}/buckets/photos/objects/me/cat.png", timeout=10)
    assert stored.status_code == 200 and stored.content == content

    # documents, and a realtime subscription fed by writes from elsewhere
    doc = page.evaluate(
        """async () => {
            await app.doc("notes", "n1").set({ text: "hi", views: baas.increment(2) });
            window.snaps = [];
            app.collection("notes").onSnapshot((s) => window.snaps.push(s));
            return (await app.doc("notes", "n1").get()).data;
        }"""
    )
    assert doc == {"text": "hi", "views": 2}
    page.wait_for_function("window.snaps.length === 1", timeout=10_000)
    assert admin.patch(f"{base}/collections/notes/documents/n1", json={"data": {"views": 3}}, timeout=10).status_code == 200
    page.wait_for_function("window.snaps.length === 2", timeout=10_000)
    change = page.evaluate("window.snaps[1].changes.map((c) => [c.type, c.doc.id, c.doc.data.views])")
    assert change == [["modified", "n1", 3]]

    # errors are typed, with the request id read from an exposed header
    error = page.evaluate(
        """async () => {
            const e = await app.storage.bucket("photos").upload("x.png", new Uint8Array(1), { contentType: "image/png", ifSha256: "0".repeat(64) })
                .catch((e) => e);
            const g = await app.doc("9bad", "x").get().catch((e) => e);
            return [[e.name, e.code, e.status, typeof e.requestId], [g.code, g.status, typeof g.requestId]];
        }"""
    )
    assert error == [["BaasError", "failed_precondition", 412, "string"], ["invalid_argument", 400, "string"]]

    # the session survives a reload (localStorage)
    page.reload()
    page.wait_for_function("window.sdkReady === true", timeout=10_000)
    assert start_client(page, sdk_target) == uid
    assert page.evaluate("async () => (await app.auth.reloadUser()).uid") == uid


def test_tabs_sharing_a_session_refresh_it_once(page_origin: str, sdk_target: SdkTarget) -> None:
    """Two tabs of one origin share the stored session. A tab whose refresh comes after the
    other's takes the stored tokens instead of presenting a refresh token already used
    (which, later than the server's grace window, would end the session everywhere);
    refreshing at the same moment, they take turns (Web Locks) and both stay signed in."""
    config = {"url": sdk_target.url, "projectId": sdk_target.project_id, "apiKey": sdk_target.publishable_key}
    start = """async (cfg) => {
        window.refreshes = 0;
        const counting = (input, init) => {
            if (String(input).endsWith("/auth/refresh")) window.refreshes += 1;
            return fetch(input, init);
        };
        window.app = baas.createClient({ ...cfg, fetch: counting });
        await app.auth.ready;
        return app.auth.currentUser ? app.auth.currentUser.uid : null;
    }"""
    key = f"baas:{sdk_target.project_id}:session"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
        try:
            context = browser.new_context()
            tabs = [context.new_page(), context.new_page()]
            for tab in tabs:
                tab.goto(f"{page_origin}/test/browser/index.html")
                tab.wait_for_function("window.sdkReady === true", timeout=10_000)
            assert tabs[0].evaluate("() => typeof navigator.locks?.request") == "function"
            assert tabs[0].evaluate(start, config) is None
            uid = tabs[0].evaluate("async () => (await app.auth.signInAnonymously()).uid")
            assert tabs[1].evaluate(start, config) == uid  # restored from the shared storage
            before = [tab.evaluate("async () => await app.auth.getAccessToken()") for tab in tabs]
            assert before[0] == before[1]

            # The first tab refreshes; once the second sees the stored session, its own
            # refresh takes it, with no call.
            rotated = tabs[0].evaluate("async () => await app.auth.forceRefresh()")
            assert rotated != before[0] and tabs[0].evaluate("() => window.refreshes") == 1
            tabs[1].wait_for_function(f"() => JSON.parse(localStorage.getItem({key!r})).accessToken === {rotated!r}")
            assert tabs[1].evaluate("async () => await app.auth.forceRefresh()") == rotated
            assert tabs[1].evaluate("() => window.refreshes") == 0

            # Both at once (as their timers would be, set from the same stored expiry).
            for tab in tabs:
                tab.evaluate("() => { window.done = app.auth.forceRefresh(); }")
            after = [tab.evaluate("async () => await window.done") for tab in tabs]
            assert None not in after and rotated not in after
            # One refresh when the second tab already sees the first one's tokens; two
            # (branches of one session, within the server's grace window) when it does not yet.
            assert sum(tab.evaluate("() => window.refreshes") for tab in tabs) in (2, 3)
            for tab in tabs:
                assert tab.evaluate("async () => (await app.auth.reloadUser()).uid") == uid
        finally:
            browser.close()
