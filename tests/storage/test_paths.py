"""Object paths: normalised, and nothing a client sends can reach outside its bucket or
turn into a 500 (hypothesis, over HTTP, on both backends)."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.storage.conftest import Http, StorageTarget, bucket_create, error_of, objects_url
from tests.storage.test_objects import put

REFUSED = ["../a", "a/../../b", "/abs", "a//b", "a/", "./a", "a/./b", "..", ".", "a\\b", "a\x00b", "a\nb", "a\x7fb",
           "a\u202eb", "x" * 1025]  # fmt: skip


def test_bad_paths_are_400(admin: Http, target: StorageTarget) -> None:
    bucket_create(admin)
    for path in REFUSED:
        # Dots escaped too, or the client itself would resolve "..".
        encoded = quote(path, safe="").replace(".", "%2E")
        for encoding in (encoded, encoded.replace("%2F", "/")):
            response = admin.put(f"{objects_url()}/{encoding}", data=b"1")
            assert error_of(response) == (400, "invalid_argument"), path
            assert error_of(admin.get(f"{objects_url()}/{encoding}")) == (400, "invalid_argument"), path
    raw = admin.put(f"{objects_url()}/a%FF", data=b"1")  # not UTF-8
    assert error_of(raw) == (400, "invalid_argument")
    assert error_of(admin.put(f"{objects_url()}/", data=b"1")) == (400, "invalid_argument")
    assert target.keys() == [] and target.unfinished() == []
    # The same object whatever the Unicode normalisation form of its name.
    assert put(admin, unicodedata.normalize("NFD", "café.txt"), b"nfd").status_code == 201
    assert admin.get(f"{objects_url()}/{quote('café.txt')}").content == b"nfd"
    assert admin.get(objects_url()).json()["objects"][0]["path"] == "café.txt"


PATH_CHARS = st.sampled_from(list("ab/.-_%?#&+:;= ~\\\x00\x1f\x7f\u00e9\u200d\u202e\ufeff\U0001f600\u2028") + ["..", "%2e", "%2F"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.one_of(st.lists(PATH_CHARS, min_size=1, max_size=12).map("".join), st.text(min_size=1, max_size=40)))
def fuzz_paths(raw: str, admin_session: Any) -> None:
    """Upload to a generated path: 400, or stored under its normalised name and only there."""
    http, target, root_keys = admin_session
    data = raw.encode("utf-8", "surrogatepass")[:64]
    encoded = quote(raw.encode("utf-8", "surrogatepass"), safe="/").replace(".", "%2E")
    response = http.put(f"{objects_url()}/{encoded}", data=data)
    assert response.status_code in (200, 201, 400), (raw, response.status_code, response.text)
    if response.status_code == 400:
        assert error_of(response) == (400, "invalid_argument")
        return
    stored = response.json()["path"]
    assert stored == unicodedata.normalize("NFC", raw) and not stored.startswith("/")
    assert ".." not in stored.split("/") and "" not in stored.split("/")
    got = http.get(f"{objects_url()}/{quote(stored, safe='/')}")
    assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == response.json()["sha256"]
    # Every stored key is the project's own, under this bucket.
    assert all(key.startswith(root_keys) for key in target.keys())
    if target.backend == "local":
        root = Path(target.env["BAAS_STORAGE_LOCAL_DIR"]).resolve()
        for file in root.rglob("*"):
            assert file.resolve().is_relative_to(root)
        assert all(part in ("alpha-app", ".incoming") for part in {p.relative_to(root).parts[0] for p in root.iterdir()})


def test_fuzzed_paths_never_escape_and_never_500(admin: Http, target: StorageTarget) -> None:
    """Never escapes its bucket, never a 500 (hypothesis, against this backend's server)."""
    bucket_create(admin)
    from storage.models import Bucket

    bucket_id = Bucket.objects.for_project("alpha-app").get(name="files").pk
    fuzz_paths(admin_session=(admin, target, f"projects/alpha-app/{bucket_id}/"))
