"""A path filter in front of each included router of the app: a request tries only the routers
that have a route for its path.

FastAPI matches a request against every route in turn, in Python, with scope bookkeeping around
each regex: with every service and the portal in one app (200 routes, the portal's 99 before
the pairing API) matching ``POST /pairing/pairs/{id}/goals`` cost 3-4 ms of CPU, more than the
command itself. The filter is one regex per router, built from its routes' own path regexes, so
a router it passes over could not have matched: a route answers (even with a 405) only when
its path regex matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["index_routes"]

#: Every method: a route that cannot be filtered by its path.
ANY = "*"


def index_routes(app: FastAPI) -> None:
    """Give each router included in ``app`` a filter on the request's path. Routes added to it
    later are seen: the filter is rebuilt when the router's routes change."""
    for route in app.router.routes:
        if hasattr(route, "effective_candidates"):
            route.matches = _filtered(route)  # type: ignore[method-assign]


def _filtered(router: Any) -> Callable[[Scope], tuple[Match, Scope]]:
    original = router.matches
    built: dict[str, Any] = {"version": None}

    def matches(scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return original(scope)
        # FastAPI's own count of changes to the router and every router below it (the one its
        # ``effective_candidates`` rebuilds on): cheaper than walking the candidates per request.
        version = router.original_router._get_routes_version()
        if built["version"] != version:
            built.update(version=version, filter=_path_filter(router))
        paths, methods = built["filter"]
        if (paths is not None and paths.match(get_route_path(scope))) \
                or ANY in methods or scope.get("method") in methods:
            return original(scope)
        return Match.NONE, {}

    return matches


def _leaves(router: Any) -> Iterator[Any]:
    for candidate in router.effective_candidates():
        if hasattr(candidate, "effective_candidates"):
            yield from _leaves(candidate)
        else:
            yield candidate


def _path_filter(router: Any) -> tuple[re.Pattern[str] | None, set[str]]:
    """One regex matching every path one of the router's plain routes could match, and the
    methods for which the other routes must be asked whatever the path.

    A route class with a ``matches`` of its own (the portal's fallback page) is taken at its
    word for its methods only: it is asked for a GET page, not for an API's POST.
    """
    patterns: list[str] = []
    methods: set[str] = set()
    for leaf in _leaves(router):
        route: BaseRoute = getattr(leaf, "original_route", leaf)
        regex = getattr(leaf, "path_regex", None)
        if isinstance(route, APIRoute) and regex is not None \
                and type(route).matches is APIRoute.matches:
            patterns.append(regex.pattern)
        elif isinstance(route, APIRoute):
            methods.update(route.methods or {ANY})
        else:
            methods.add(ANY)  # a mount, a plain Starlette route: asked for everything
    if not patterns:
        return None, methods
    # Group names repeat across routes; the filter only needs to know that one matches.
    unnamed = [re.sub(r"\(\?P<\w+>", "(?:", p) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in unnamed)), methods
