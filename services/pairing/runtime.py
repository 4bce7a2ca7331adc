"""The pairing as a running service, wiring only: HTTP routes, the outbox relay of its store, the
candidate pools fed from the registry stream, and the consent watcher that dissolves the pairs of
anyone who withdrew consent (a consumer writing an inbox, and a loop working it off)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.pairing.api import router
from services.pairing.application import PairingService
from services.pairing.config import PairingConfig
from services.pairing.consumers import CONSENT_WITHDRAWN_FILTER, ConsentWatch, PoolsProjection
from services.pairing.rpc import serve_pairs
from shared.consumer import ConsumerRunner
from shared.loops import periodic, supervise
from shared.relay import OutboxRelay
from shared.settings import Settings

#: The consent inbox is worked off when the watcher's commit wakes it; this clock is only a
#: fallback (looking every two seconds was a good part of an idle system's CPU).
CONSENT_INTERVAL_SECONDS = 30.0


class PairingRuntime:
    name = "pairing"
    router = router

    def __init__(self, settings: Settings, today: Callable[[], date] | None = None,
                 config: PairingConfig | None = None) -> None:
        self.settings = settings
        self.service = PairingService(settings, today, config)
        self.relay: OutboxRelay | None = None
        self.pools: ConsumerRunner | None = None
        self.consent: ConsumerRunner | None = None
        self.consent_wake = asyncio.Event()

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.pairing = self.service
        loop = asyncio.get_running_loop()
        self.relay = OutboxRelay(self.service.events, js, self.settings.relay_batch,
                                 self.settings.relay_idle_seconds)
        relay = self.relay
        # Commands run in worker threads; the relay lives on the event loop.
        self.service.on_stored = lambda: loop.call_soon_threadsafe(relay.notify)
        self.consent_wake = asyncio.Event()
        wake = self.consent_wake
        self.pools = ConsumerRunner(self.service.engine, js, PoolsProjection(), service=self.name)
        self.consent = ConsumerRunner(
            self.service.engine, js, ConsentWatch(), filter_subject=CONSENT_WITHDRAWN_FILTER,
            service=self.name, on_commit=wake.set)
        # The documents service asks which pairs exist before it lists them in an order, for a
        # user its signed claims name; the answer is what that user may read of them, sealed.
        await serve_pairs(nc, self.service)
        return [asyncio.create_task(relay.run(stop), name="pairing-relay"),
                asyncio.create_task(supervise("pairing-pools", self.pools.run, stop),
                                    name="pairing-pools"),
                asyncio.create_task(supervise("pairing-consent-watch", self.consent.run, stop),
                                    name="pairing-consent-watch"),
                asyncio.create_task(periodic("pairing-consent", self.service.process_consent_withdrawals,
                                             CONSENT_INTERVAL_SECONDS, stop, wake),
                                    name="pairing-consent")]

    def health(self) -> dict[str, Any]:
        return {"stored": self.service.events.max_position(),
                "published": self.relay.published_total if self.relay else 0,
                "pools_applied": self.pools.applied_total if self.pools else 0,
                "consent_applied": self.consent.applied_total if self.consent else 0}

    def close(self) -> None:
        self.service.close()
