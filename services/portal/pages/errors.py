"""The page for an address that leads nowhere: a browser that asks the portal for a page it does
not have gets a Russian «Страница не найдена» with the way back, not the APIs' JSON.

The route is the last resort of the whole application, not only of the portal: it takes a
request only when no other route of the app (the services' APIs included, whatever their order)
knows its path, and only from a browser navigating (``Accept: text/html``). Every other client
keeps the APIs' own JSON answer.

URLs: ``/{path}`` (any other address).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.routing import Match
from starlette.types import Scope

from services.portal.frame import PortalRoute, page_router, render, signed_in_or_none


def wants_html(scope: Scope) -> bool:
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept"), b"")
    return b"text/html" in accept


#: Marks the copy of a request's scope the fallback asks the other routes with: the app's list
#: holds this route too (wrapped by the routers that include it), and it must not ask itself.
PROBE = "nastavnik.portal.fallback_probe"


class Fallback(PortalRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get(PROBE) or scope.get("method") != "GET" or not wants_html(scope):
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        app: Any = scope.get("app")
        routes = app.router.routes if app is not None and hasattr(app, "router") else []
        probe = {**scope, PROBE: True}
        # a route that knows the path answers for itself; one that knows it only for another
        # method (a form's POST) is no page a browser can open: this page says so
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            return Match.NONE, {}
        return match, child


router = page_router()
router.route_class = Fallback


@router.get("/{path:path}")
async def not_found(request: Request, path: str) -> Response:
    return render(request, "error.html", status=404, code="NOT_FOUND",
                  message="Такой страницы нет. Проверьте адрес или начните с главной.",
                  actor=signed_in_or_none(request))
