"""Every route served by the lean HTTP edge, from every capability."""

from __future__ import annotations

from baas.api.edge import Route, Router
from functions.api import ROUTES as FUNCTION_ROUTES
from projects.documents.api import ROUTES as DOCUMENT_ROUTES
from projects.rules.api import ROUTES as RULES_ROUTES

EDGE_ROUTES: list[Route] = [*DOCUMENT_ROUTES, *RULES_ROUTES, *FUNCTION_ROUTES]
edge_router = Router(EDGE_ROUTES)
