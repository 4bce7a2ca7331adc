"""The path filter in front of included routers (shared.routing) answers every request as the
routers alone would: the route that knows the path, a 405 for a known path's other method, a
fallback page that only answers what no route knows."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from shared.routing import index_routes


class GetOnlyFallback(APIRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("method") != "GET":
            return Match.NONE, {}
        return super().matches(scope)


def app_with_routers() -> FastAPI:
    api = APIRouter(prefix="/api")

    @api.post("/items/{item_id}")
    def post_item(item_id: int) -> dict[str, Any]:
        return {"posted": item_id}

    pages = APIRouter()

    @pages.get("/items")
    def page() -> dict[str, str]:
        return {"page": "items"}

    fallback = APIRouter(route_class=GetOnlyFallback)

    @fallback.get("/{path:path}")
    def not_found(path: str) -> dict[str, str]:
        return {"fallback": path}

    pages.include_router(fallback)
    app = FastAPI()
    app.include_router(pages)
    app.include_router(api)
    index_routes(app)
    return app


def test_filtered_routers_answer_as_before() -> None:
    app = app_with_routers()
    client = TestClient(app)
    assert client.post("/api/items/7").json() == {"posted": 7}
    assert client.get("/api/items/7").json() == {"fallback": "api/items/7"}
    assert client.put("/api/items/7").status_code == 405
    assert client.get("/items").json() == {"page": "items"}
    assert client.post("/nowhere").status_code == 404


def test_routes_added_later_are_found() -> None:
    app = app_with_routers()
    client = TestClient(app)
    assert client.post("/api/other").status_code == 404
    included = [r for r in app.router.routes if hasattr(r, "original_router")]
    router = included[-1].original_router  # the API's

    @router.post("/other")
    def other() -> dict[str, str]:
        return {"other": "yes"}

    assert client.post("/api/other").json() == {"other": "yes"}
