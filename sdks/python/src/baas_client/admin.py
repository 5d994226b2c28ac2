"""Calls that need a secret key: users, custom tokens, collection configs, buckets and the
auth settings. For servers, scripts and tests, never for apps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from baas_client.transport import Call, Transport, segment


def _users_page(response: Any) -> tuple[list[dict[str, Any]], str | None]:
    body = response.json()
    return body["users"], body.get("nextCursor")


class Admin:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    # --- users ----------------------------------------------------------------------------------

    def list_users(self, *, search: str | None = None, limit: int | None = None, cursor: str | None = None) -> Any:
        """``(users, next_cursor)``, in creation order."""
        return self._t.run(Call("GET", "users", params={"search": search, "limit": limit, "cursor": cursor},
                                use_auth=False, parse=_users_page))

    def iter_users(self, *, search: str | None = None, page_size: int = 100) -> Any:
        """Every user across pages (an async iterator on ``AsyncClient``)."""
        return self._aiter_users(search, page_size) if self._t.is_async else self._iter_users(search, page_size)

    def _iter_users(self, search: str | None, page_size: int) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            users, cursor = self.list_users(search=search, limit=page_size, cursor=cursor)
            yield from users
            if not cursor:
                return

    async def _aiter_users(self, search: str | None, page_size: int) -> AsyncIterator[dict[str, Any]]:
        cursor = None
        while True:
            users, cursor = await self.list_users(search=search, limit=page_size, cursor=cursor)
            for user in users:
                yield user
            if not cursor:
                return

    def create_user(self, **fields: Any) -> Any:
        """Fields as the API names them: uid, email, password, displayName, data, claims,
        emailVerified, disabled."""
        return self._t.run(Call("POST", "users", json=fields, use_auth=False, parse=lambda r: r.json()["user"]))

    def get_user(self, uid: str) -> Any:
        return self._t.run(Call("GET", f"users/{segment(uid)}", use_auth=False, parse=lambda r: r.json()["user"]))

    def update_user(self, uid: str, **fields: Any) -> Any:
        return self._t.run(Call("PATCH", f"users/{segment(uid)}", json=fields, use_auth=False,
                                parse=lambda r: r.json()["user"]))

    def delete_user(self, uid: str) -> Any:
        return self._t.run(Call("DELETE", f"users/{segment(uid)}", use_auth=False, parse=lambda r: None))

    def create_custom_token(self, uid: str, *, claims: Mapping[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {"uid": uid}
        if claims is not None:
            body["claims"] = dict(claims)
        return self._t.run(Call("POST", "auth/custom-token", json=body, use_auth=False, parse=lambda r: r.json()["token"]))

    def get_auth_config(self) -> Any:
        return self._t.run(Call("GET", "auth/config", use_auth=False))

    def update_auth_config(self, **fields: Any) -> Any:
        return self._t.run(Call("PATCH", "auth/config", json=fields, use_auth=False))

    # --- collections ----------------------------------------------------------------------------

    def set_collection_config(self, collection: str, *, schema: Mapping[str, Any] | None = None,
                              rules: Mapping[str, str] | None = None, indexes: list[list[str]] | None = None) -> Any:
        """Replace the collection's schema, rules and indexes."""
        body: dict[str, Any] = {"schema": dict(schema) if schema is not None else None, "rules": dict(rules or {})}
        if indexes is not None:
            body["indexes"] = indexes
        return self._t.run(Call("PUT", f"collections/{segment(collection)}", json=body, use_auth=False))

    def get_collection_config(self, collection: str) -> Any:
        return self._t.run(Call("GET", f"collections/{segment(collection)}", use_auth=False))

    def delete_collection(self, collection: str) -> Any:
        return self._t.run(Call("DELETE", f"collections/{segment(collection)}", use_auth=False, parse=lambda r: None))

    # --- buckets --------------------------------------------------------------------------------

    def create_bucket(self, name: str, **fields: Any) -> Any:
        """Fields: maxFileSize, allowedContentTypes, rules."""
        return self._t.run(Call("POST", "buckets", json={"name": name, **fields}, use_auth=False))

    def list_buckets(self) -> Any:
        return self._t.run(Call("GET", "buckets", use_auth=False, parse=lambda r: r.json()["buckets"]))

    def update_bucket(self, name: str, **fields: Any) -> Any:
        return self._t.run(Call("PATCH", f"buckets/{segment(name)}", json=fields, use_auth=False))

    def delete_bucket(self, name: str) -> Any:
        return self._t.run(Call("DELETE", f"buckets/{segment(name)}", use_auth=False, parse=lambda r: None))
