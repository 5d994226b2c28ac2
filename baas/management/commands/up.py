"""``baas up``: migrate, then serve HTTP, WebSocket and background jobs in one process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Migrate, then serve everything (HTTP, WebSocket, background jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="skip migrations")

    def handle(self, *args: Any, host: str, port: int, no_migrate: bool, **options: Any) -> None:
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
        mode = "services" if settings.SERVICES_MODE else "embedded"
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        self.stdout.write(
            f"baas: {mode} mode ({database}), data in {settings.DATA_DIR}, "
            f"serving http://{host}:{port}/ (console /console/, API docs /docs/)"
        )
        self.stdout.flush()
        import uvicorn

        # One process: the ASGI module starts the embedded job worker (no Redis broker)
        # and the in-process channel layer lives here too. Uvicorn rather than daphne:
        # daphne reads a whole request body before the app sees it, and served the
        # document API at a third of uvicorn's rate here (see docs/deploy.md).
        uvicorn.run(
            "baas.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_level="warning",
            proxy_headers=True,
            ws="websockets-sansio",
            ws_per_message_deflate=settings.BAAS_WS_DEFLATE,
        )
