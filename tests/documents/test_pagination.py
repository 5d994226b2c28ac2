"""Keyset cursors stay exact while documents are inserted and deleted between pages."""

from __future__ import annotations

import random
from typing import Any

import pytest

BASE = "/v1/projects/alpha-app/collections"
BATCH = "/v1/projects/alpha-app/batch"


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_duplicates_and_no_skips_under_concurrent_changes(secret_api: Any, direction: str, seed: int) -> None:
    rng = random.Random(seed)
    initial = {f"d{i:03d}": rng.randint(0, 20) for i in range(120)}
    writes = [{"op": "set", "collection": "p", "id": doc_id, "data": {"score": score}} for doc_id, score in initial.items()]
    assert secret_api.post(BATCH, {"writes": writes}).status == 200
    body: dict[str, Any] = {
        "where": {"field": "score", "op": ">=", "value": 3},
        "orderBy": [{"field": "score", "direction": direction}],
        "limit": 7,
    }
    seen: list[str] = []
    deleted: set[str] = set()
    inserted = 0
    cursor = None
    while True:
        page = secret_api.post(f"{BASE}/p/query", {**body, "cursor": cursor} if cursor else body).body
        seen.extend(doc["id"] for doc in page["documents"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        # Between pages: insert new documents anywhere in the order, delete seen and unseen ones.
        for _ in range(3):
            inserted += 1
            secret_api.put(f"{BASE}/p/documents/new{inserted:03d}", {"data": {"score": rng.randint(0, 20)}})
        for doc_id in rng.sample(sorted(set(initial) - deleted), 2):
            secret_api.delete(f"{BASE}/p/documents/{doc_id}")
            deleted.add(doc_id)
    assert len(seen) == len(set(seen)), "a document was returned twice"
    survivors = {doc_id for doc_id, score in initial.items() if score >= 3 and doc_id not in deleted}
    assert survivors <= set(seen), f"skipped: {sorted(survivors - set(seen))}"
    # The page order is the query's order throughout.
    scores = [int(secret_api.get(f"{BASE}/p/documents/{d}").body["data"]["score"]) for d in seen if d not in deleted]
    assert scores == sorted(scores, reverse=direction == "desc")
