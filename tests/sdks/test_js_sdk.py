"""The JavaScript SDK's own tests (sdks/js/test, node's built-in runner) against a live
server: auth, documents, queries, realtime (resume across cut connections, token refresh
mid-subscription), storage."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.sdks.conftest import SdkTarget


def test_node_suite(js_sdk: Path, sdk_target: SdkTarget) -> None:
    result = subprocess.run(
        ["node", "--experimental-websocket", "--test", "--test-concurrency=1", "--test-reporter=tap", "test/"],
        cwd=js_sdk,
        env={**os.environ, **sdk_target.env()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node's tests failed:\n{output}\n--- server log ---\n{sdk_target.server.log()[-5000:]}"
    passed = re.search(r"^# pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", output, re.MULTILINE)
    assert passed and failed, output
    assert int(failed.group(1)) == 0
    assert int(passed.group(1)) >= 25, output  # every test file ran
