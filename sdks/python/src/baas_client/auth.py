"""End-user auth: sign-up/in, anonymous users and linking, sign-out, the current user.

Sessions go to the client's token store; the transport refreshes the access token before
it expires (``refresh_margin`` seconds ahead) and once more if a call answers 401."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from baas_client.session import Session
from baas_client.transport import Call, Transport


class Auth:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    # --- state ------------------------------------------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self._t.state.session

    @property
    def current_user(self) -> dict[str, Any] | None:
        """The signed-in user as last answered by the API (``get_user()`` reloads it)."""
        session = self._t.state.session
        return session.user if session else None

    @property
    def uid(self) -> str | None:
        session = self._t.state.session
        return session.uid if session else None

    def on_change(self, listener: Callable[[Session | None], None]) -> Callable[[], None]:
        """Call ``listener`` on every sign-in, refresh and sign-out; returns a remover."""
        return self._t.state.listen(listener)

    def access_token(self) -> Any:
        """The current access token, refreshed first if it is about to expire."""
        return self._t.access_token()

    def refresh(self) -> Any:
        """Refresh now, whatever the expiry."""
        return self._t.refresh()

    # --- sign-in ----------------------------------------------------------------------------------

    def _session(self, response: httpx.Response) -> dict[str, Any]:
        session = Session.from_response(response.json())
        self._t.state.set(session)
        return session.user

    def _signin(self, path: str, body: Mapping[str, Any], *, use_auth: bool = False) -> Any:
        return self._t.run(Call("POST", f"auth/{path}", json=dict(body), use_auth=use_auth, parse=self._session))

    def sign_up(self, email: str, password: str, *, display_name: str | None = None) -> Any:
        body: dict[str, Any] = {"email": email, "password": password}
        if display_name is not None:
            body["displayName"] = display_name
        return self._signin("signup", body)

    def sign_in(self, email: str, password: str) -> Any:
        return self._signin("login", {"email": email, "password": password})

    def sign_in_anonymously(self) -> Any:
        return self._signin("anonymous", {})

    def sign_in_with_custom_token(self, token: str) -> Any:
        return self._signin("custom-token/exchange", {"token": token})

    def link(self, email: str, password: str) -> Any:
        """Give the signed-in anonymous user an email and password; the uid stays."""
        return self._signin("link", {"email": email, "password": password}, use_auth=True)

    def sign_out(self) -> Any:
        """End this session on the server (its refresh family) and forget it locally."""
        session = self._t.state.session
        self._t.state.set(None)
        if session is None:
            return self._t.done(None)
        return self._t.run(Call("POST", "auth/logout", json={"refreshToken": session.refresh_token},
                                use_auth=False, allow=frozenset({401}), parse=lambda r: None))

    # --- the signed-in user -----------------------------------------------------------------------

    def _user(self, response: httpx.Response) -> dict[str, Any]:
        user: dict[str, Any] = response.json()["user"]
        self._t.state.set_user(user)
        return user

    def get_user(self) -> Any:
        return self._t.run(Call("GET", "auth/me", parse=self._user))

    def update_user(self, *, display_name: str | None = None, data: Mapping[str, Any] | None = None) -> Any:
        body: dict[str, Any] = {}
        if display_name is not None:
            body["displayName"] = display_name
        if data is not None:
            body["data"] = dict(data)
        return self._t.run(Call("PATCH", "auth/me", json=body, parse=self._user))

    def change_password(self, current_password: str, new_password: str) -> Any:
        """A fresh session; every other session of the user ends."""
        return self._t.run(Call("POST", "auth/me/password", json={"currentPassword": current_password,
                                "newPassword": new_password}, retryable=False, parse=self._session))

    def delete_user(self) -> Any:
        def parse(response: httpx.Response) -> None:
            self._t.state.set(None)

        return self._t.run(Call("DELETE", "auth/me", parse=parse))

    def send_password_reset(self, email: str) -> Any:
        return self._t.run(Call("POST", "auth/password-reset", json={"email": email}, use_auth=False,
                                parse=lambda r: None))

    def confirm_password_reset(self, token: str, new_password: str) -> Any:
        return self._t.run(Call("POST", "auth/password-reset/confirm", json={"token": token, "newPassword": new_password},
                                use_auth=False, parse=lambda r: r.json()["user"]))

    def send_email_verification(self) -> Any:
        return self._t.run(Call("POST", "auth/verify-email", json={}, parse=lambda r: None))

    def confirm_email_verification(self, token: str) -> Any:
        return self._t.run(Call("POST", "auth/verify-email/confirm", json={"token": token}, use_auth=False,
                                parse=lambda r: r.json()["user"]))
