"""Where a webhook may be sent: never to loopback, link-local, private, multicast,
reserved or unspecified addresses (IPv4, IPv6 and IPv4-mapped IPv6), so a tenant cannot
make the server call its own network (SSRF).

The address is checked when an endpoint is saved, and again on the socket of every
delivery, after connecting and before a byte is sent: a name that resolves to a public
address at creation and to 127.0.0.1 later (DNS rebinding) is refused. The operator switch
``BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS`` turns the check off (a private network's own hooks).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from baas.api.errors import InvalidArgument

MAX_URL_LENGTH = 2048


class TargetRefused(Exception):
    pass


def address_refusal(raw: str) -> str | None:
    """Why ``raw`` may not be a webhook target, or None when it is a public address."""
    address = ipaddress.ip_address(raw.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for reason in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "private"
    if not address.is_global:
        return "not public"
    return None


def _allowed() -> bool:
    return bool(settings.BAAS_WEBHOOKS_ALLOW_PRIVATE_TARGETS)


def host_check(host: str, port: int) -> None:
    """Resolve ``host`` and refuse it when any of its addresses is not public."""
    if _allowed():
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"the host {host!r} cannot be resolved") from error
    for info in infos:
        reason = address_refusal(str(info[4][0]))
        if reason:
            raise TargetRefused(f"the host {host!r} resolves to a {reason} address ({info[4][0]})")


def url_check(url: Any) -> str:
    """A webhook URL the server may call; 400 otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(f"'url' must be an http(s) URL of at most {MAX_URL_LENGTH} characters.", details={"field": "url"})
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidArgument("'url' is not a valid URL.", details={"field": "url"}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("'url' must be an http:// or https:// URL with a host.", details={"field": "url"})
    if parts.username or parts.password:
        raise InvalidArgument("'url' must not carry credentials.", details={"field": "url"})
    try:
        host_check(parts.hostname, port)
    except TargetRefused as error:
        raise InvalidArgument(f"'url' is not allowed: {error}.", details={"field": "url"}) from None
    return url


# --- an HTTP client that checks the address it actually connected to ----------------------------


def _peer_check(sock: socket.socket) -> None:
    if _allowed():
        return
    peer = sock.getpeername()[0]
    reason = address_refusal(str(peer))
    if reason:
        sock.close()
        raise TargetRefused(f"the target resolved to a {reason} address ({peer})")


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _peer_check(sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _peer_check(sock)  # before the TLS handshake
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedHTTPPool, "https": _CheckedHTTPSPool}
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)


def session_make() -> requests.Session:
    """No proxies from the environment (they would hide the peer), no retries, no redirects
    are followed by the caller."""
    session = requests.Session()
    session.trust_env = False
    adapter = _CheckedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
