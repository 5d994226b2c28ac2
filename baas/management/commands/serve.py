"""``baas serve``: the production web server, several worker processes on one socket.

Django runs synchronous views on one thread per process, so throughput comes from
processes. The parent binds the socket once and each worker accepts from it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve HTTP and WebSocket with N worker processes sharing one listening socket."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("BAAS_WEB_WORKERS", "0")) or (os.cpu_count() or 1))
        parser.add_argument("--server", choices=["uvicorn", "daphne"], default=os.environ.get("BAAS_ASGI_SERVER", "uvicorn"))

    def handle(self, *args: Any, host: str, port: int, workers: int, server: str, **options: Any) -> None:
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this on Linux: without it a response written in two
        # parts waits ~40 ms for the client's delayed ACK.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
        listener.listen(2048)
        listener.set_inheritable(True)
        fd = listener.fileno()
        if server == "uvicorn":
            command = [
                sys.executable, "-m", "uvicorn", "--fd", str(fd), "--lifespan", "off", "--no-access-log",
                "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--proxy-headers",
                # Compressing each small event separately per socket costs more CPU than it saves.
                "--ws-per-message-deflate", "true" if settings.BAAS_WS_DEFLATE else "false",
                "--log-level", "warning", "baas.asgi:application",
            ]
        else:
            command = [sys.executable, "-m", "daphne", "--fd", str(fd), "-v", "0", "--proxy-headers", "baas.asgi:application"]
        children = [subprocess.Popen(command, pass_fds=(fd,)) for _ in range(max(1, workers))]
        self.stdout.write(f"baas: serving http://{host}:{port}/ with {len(children)} {server} workers")
        self.stdout.flush()
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping:
                for index, child in enumerate(children):
                    if child.poll() is not None and not stopping:
                        # A worker that died is replaced; the socket never stopped listening.
                        self.stderr.write(f"baas: worker {child.pid} exited ({child.returncode}); restarting")
                        children[index] = subprocess.Popen(command, pass_fds=(fd,))
                time.sleep(0.5)
        finally:
            stop(signal.SIGTERM, None)
            for child in children:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
            listener.close()
