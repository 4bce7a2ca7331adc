"""The portal as a running service: its pages, and an HTTP client to the services' public APIs.

In embedded mode the APIs are served by the same process and application, so the client calls
that application in-process (no loopback socket: the pool's per-request check of every idle
connection cost more than some of the calls); in distributed mode ``NASTAVNIK_PORTAL_API_URL``
points at the API gateway. Either way a call passes the API's own middlewares and rights checks.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.portal.frame import Portal
from services.portal.routes import router
from shared.settings import Settings

API_TIMEOUT_SECONDS = 120.0  # an import of a large base takes a while


def api_base_url(settings: Settings) -> str:
    return os.environ.get("NASTAVNIK_PORTAL_API_URL") or f"http://127.0.0.1:{settings.api_port}"


def api_transport(app: FastAPI) -> httpx.AsyncBaseTransport | None:
    """The same application in-process when it serves the APIs itself (embedded mode); None:
    over the network to the gateway. An API's failure comes back as its 500 answer, as over
    the network, not as an exception inside the page."""
    if os.environ.get("NASTAVNIK_PORTAL_API_URL"):
        return None
    return httpx.ASGITransport(app=app, raise_app_exceptions=False)


class PortalRuntime:
    name = "portal"
    router = router

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http: httpx.AsyncClient | None = None

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        self.http = httpx.AsyncClient(base_url=api_base_url(self.settings), timeout=API_TIMEOUT_SECONDS,
                                      transport=api_transport(app))
        app.state.portal = Portal(self.settings, self.http)
        return [asyncio.create_task(self._close_on(stop), name="portal-http")]

    async def _close_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        if self.http is not None:
            await self.http.aclose()

    def health(self) -> dict[str, Any]:
        return {"api": str(self.http.base_url) if self.http else None}

    def close(self) -> None:
        pass
