"""Cloud functions and push devices."""

from __future__ import annotations

from typing import Any

from baas_client.transport import Call, Transport, segment


class Functions:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def call(self, name: str, data: Any = None, *, timeout: float | None = None) -> Any:
        """The function's result. It raising is ``FunctionError`` (422); running past its
        deadline is ``DeadlineExceeded`` (504)."""
        return self._t.run(Call("POST", f"functions/{segment(name)}:call", json={"data": data}, timeout=timeout,
                                retryable=False, parse=lambda r: r.json()["result"]))


class Push:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def register(self, token: str, *, platform: str, app_version: str | None = None, uid: str | None = None) -> Any:
        """Register (or refresh) this device's push token for the signed-in user;
        ``platform`` is android, ios or web. A secret key may name the ``uid``."""
        body: dict[str, Any] = {"token": token, "platform": platform}
        if app_version is not None:
            body["appVersion"] = app_version
        if uid is not None:
            body["uid"] = uid
        return self._t.run(Call("POST", "push/devices", json=body))

    def devices(self, *, uid: str | None = None) -> Any:
        """The signed-in user's devices; with a secret key, the devices of ``uid``."""
        return self._t.run(Call("GET", "push/devices", params={"uid": uid}, parse=lambda r: r.json()["devices"]))

    def unregister(self, token: str) -> Any:
        return self._t.run(Call("DELETE", f"push/devices/{segment(token)}", parse=lambda r: None))

    def subscribe_topic(self, token: str, topic: str) -> Any:
        return self._t.run(Call("PUT", f"push/devices/{segment(token)}/topics/{segment(topic)}", parse=lambda r: None))

    def unsubscribe_topic(self, token: str, topic: str) -> Any:
        return self._t.run(Call("DELETE", f"push/devices/{segment(token)}/topics/{segment(topic)}",
                                parse=lambda r: None))
