"""Listing: prefix, delimiter (folders), full pages and exact cursors, with and without
rules, on both backends."""

from __future__ import annotations

from typing import Any

from tests.storage.conftest import Http, bucket_create, error_of, objects_url
from tests.storage.test_objects import put


def walk(http: Http, **params: Any) -> tuple[list[list[str]], list[str]]:
    """Every page of a listing: (the entries of each page, the cursors followed)."""
    pages, cursors, cursor = [], [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = http.get(objects_url(), params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([o["path"] for o in body["objects"]] + body["prefixes"])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages, cursors
        cursors.append(cursor)
        assert len(pages) < 100


def test_prefix_delimiter_and_cursor(admin: Http) -> None:
    bucket_create(admin)
    paths = ["a.txt", "b/1", "b/2", "b/c/3", "b2", "c/x/y", "d", "é/1", "😀"]
    for path in paths:
        assert put(admin, path, b"1").status_code == 201
    body = admin.get(objects_url()).json()
    assert [o["path"] for o in body["objects"]] == sorted(paths) and body["prefixes"] == [] and body["nextCursor"] is None
    folders = admin.get(objects_url(), params={"delimiter": "/"}).json()
    assert [o["path"] for o in folders["objects"]] == ["a.txt", "b2", "d", "😀"]
    assert folders["prefixes"] == ["b/", "c/", "é/"]
    inside = admin.get(objects_url(), params={"prefix": "b/", "delimiter": "/"}).json()
    assert [o["path"] for o in inside["objects"]] == ["b/1", "b/2"] and inside["prefixes"] == ["b/c/"]
    assert [o["path"] for o in admin.get(objects_url(), params={"prefix": "b"}).json()["objects"]] == ["b/1", "b/2", "b/c/3", "b2"]
    # One entry per page, folders included, in path order, each exactly once.
    pages, _ = walk(admin, delimiter="/", limit=1)
    assert pages == [["a.txt"], ["b/"], ["b2"], ["c/"], ["d"], ["é/"], ["😀"]]
    pages, _ = walk(admin, limit=4)
    assert pages == [sorted(paths)[:4], sorted(paths)[4:8], sorted(paths)[8:]]
    pages, _ = walk(admin, limit=3)
    assert [len(p) for p in pages] == [3, 3, 3]  # the last page is full and says so: no empty page after it
    for bad in ({"limit": 0}, {"limit": 1001}, {"limit": "x"}, {"prefix": "/a"}, {"prefix": "../"}, {"delimiter": "//"},
                {"cursor": "garbage"}):  # fmt: skip
        assert error_of(admin.get(objects_url(), params=bad)) == (400, "invalid_argument"), bad
    cursor = admin.get(objects_url(), params={"limit": 1}).json()["nextCursor"]
    assert error_of(admin.get(objects_url(), params={"limit": 1, "cursor": cursor, "prefix": "b/"})) == (400, "invalid_argument")


def test_pages_stay_full_when_rules_hide_objects(admin: Http, app: Http, project: Any, enduser_token: Any) -> None:
    bucket_create(admin, rules={"read": "resource.owner == auth.uid", "write": "true"})
    ada, bob = app.as_user(enduser_token(project, "ada")), app.as_user(enduser_token(project, "bob"))
    mine = []
    for index in range(30):
        owner = ada if index % 3 == 0 else bob
        path = f"f/{index:03d}"
        assert put(owner, path, b"1").status_code == 201
        if owner is ada:
            mine.append(path)
    pages, _ = walk(ada, limit=4)
    assert [len(page) for page in pages] == [4, 4, 2]
    assert [path for page in pages for path in page] == mine
    pages, _ = walk(ada, limit=10)
    assert pages == [mine]
    pages, _ = walk(ada, delimiter="/", limit=1)
    assert pages == [["f/"]]
    assert walk(app.as_user(enduser_token(project, "carol")), limit=5)[0] == [[]]


def test_a_listing_examines_a_bounded_number_of_rows(admin: Http, app: Http, project: Any, enduser_token: Any, settings: Any) -> None:
    """Many hidden objects: pages may come back short, but the cursor still goes on
    exactly and nothing visible is skipped (BAAS_STORAGE_LIST_SCAN_LIMIT is 5000; the
    hidden rows here are fewer, so a short page never happens, and all is one page)."""
    bucket_create(admin, rules={"read": "resource.owner == auth.uid", "write": "true"})
    ada, bob = app.as_user(enduser_token(project, "ada")), app.as_user(enduser_token(project, "bob"))
    for index in range(40):
        assert put(bob, f"h/{index:03d}", b"1").status_code == 201
    assert put(ada, "h/zzz", b"1").status_code == 201
    assert walk(ada, limit=1)[0] == [["h/zzz"]]
