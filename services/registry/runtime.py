"""The registry as a running service: its HTTP routes, its outbox relay, the names it answers
over NATS and the logouts it announces to every other process (``shared.revocations``)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.registry import auth_api
from services.registry.api import router as registry_router
from services.registry.application import RegistryService
from services.registry.paired import BusPairs
from services.registry.rpc import serve_contacts, serve_names
from shared.loops import supervise
from shared.relay import OutboxRelay
from shared.revocations import RevocationFeed
from shared.settings import Settings

router = APIRouter()
router.include_router(registry_router)
router.include_router(auth_api.router)


class RegistryRuntime:
    name = "registry"
    router = router

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.service = RegistryService(settings)
        self.relay: OutboxRelay | None = None
        self.revocations = RevocationFeed()

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.registry = self.service
        self.relay = OutboxRelay(self.service.events, js, self.settings.relay_batch,
                                 self.settings.relay_idle_seconds)
        loop = asyncio.get_running_loop()
        relay = self.relay
        # Commands run in worker threads; the relay lives on the event loop.
        self.service.on_stored = lambda: loop.call_soon_threadsafe(relay.notify)
        # Other services ask for names over NATS, for a user their signed claims name; the answer
        # is limited to what that user may read, and sealed to the asking service.
        await serve_names(nc, self.service)
        self.service.pairs_peer = BusPairs(nc)
        await serve_contacts(nc, self.service)
        accounts = self.service.accounts
        feed = self.revocations
        accounts.on_revoked = feed.announce
        return [asyncio.create_task(relay.run(stop), name="registry-relay"),
                asyncio.create_task(supervise(
                    "registry-revocations",
                    lambda halt: feed.run(js, self.settings, halt, accounts.live_revocations), stop),
                    name="registry-revocations")]

    def health(self) -> dict[str, Any]:
        return {"stored": self.service.events.max_position(),
                "published": self.relay.published_total if self.relay else 0}

    def close(self) -> None:
        self.service.close()
