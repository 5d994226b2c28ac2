"""A fake FCM HTTP v1 server on loopback, speaking the real protocol to the real
firebase-admin client: the OAuth JWT-bearer token exchange (the assertion's RSA signature
is verified) and ``messages:send`` with FCM's error bodies.

Token prefixes choose the answer: ``unregistered…`` 404 UNREGISTERED, ``invalid…`` 400
INVALID_ARGUMENT, ``flaky…`` 503 with ``Retry-After`` for its first ``flaky_failures``
requests, anything else 200.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

ACCESS_TOKEN = "fake-access-token"


@dataclass
class Received:
    project: str
    token: str
    body: dict[str, Any]
    status: int
    at: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: a batch opens up to 500 connections at once


class FakeFCM:
    def __init__(self, public_key_pem: bytes, *, flaky_failures: int = 1, retry_after: str = "1") -> None:
        self.public_key_pem = public_key_pem
        self.flaky_failures, self.retry_after = flaky_failures, retry_after
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.tokens_issued = 0
        self.seen: dict[str, int] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                body = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    form = urllib.parse.parse_qs(raw.decode())
                    claims = jwt.decode(form["assertion"][0], fake.public_key_pem, algorithms=["RS256"],
                                        audience="https://oauth2.googleapis.com/token")
                    if "cloud-platform" not in claims.get("scope", ""):
                        return self.reply(400, {"error": "invalid_scope"})
                    with fake.lock:
                        fake.tokens_issued += 1
                    return self.reply(200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"})
                match = re.fullmatch(r"/v1/projects/([^/]+)/messages:send", self.path)
                if not match:
                    return self.reply(404, {"error": {"code": 404, "message": "no route", "status": "NOT_FOUND"}})
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    return self.reply(401, {"error": {"code": 401, "message": "bad auth", "status": "UNAUTHENTICATED"}})
                body = json.loads(raw)
                token = body["message"].get("token") or ""
                with fake.lock:
                    fake.seen[token] = fake.seen.get(token, 0) + 1
                    seen = fake.seen[token]
                    code, payload, headers = fake.answer(match.group(1), token, seen)
                    fake.received.append(Received(match.group(1), token, body, code, time.monotonic()))
                self.reply(code, payload, headers)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, project: str, token: str, seen: int) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        def fcm_error(code: int, status: str, message: str, error_code: str) -> dict[str, Any]:
            return {"error": {"code": code, "message": message, "status": status, "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]}}

        if token.startswith("unregistered"):
            return 404, fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"), None
        if token.startswith("invalid"):
            return 400, fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                                  "INVALID_ARGUMENT"), None
        if token.startswith("flaky") and seen <= self.flaky_failures:
            return 503, fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE"), {
                "Retry-After": self.retry_after}
        return 200, {"name": f"projects/{project}/messages/{len(self.received) + 1}"}, None

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.seen.clear()

    def sent_tokens(self) -> list[str]:
        """Tokens the fake accepted, in arrival order."""
        with self.lock:
            return [r.token for r in self.received if r.status == 200]

    def requests_for(self, token: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.token == token]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    """Run the fake standalone (for the benchmark): prints its URL, serves until killed."""
    import sys

    key = open(sys.argv[1], "rb").read()
    fake = FakeFCM(key)
    print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
