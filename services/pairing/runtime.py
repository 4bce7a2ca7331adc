"""The pairing as a running service: HTTP routes, the outbox relay of its store, the candidate
pools fed from the registry stream, and the consent watcher that dissolves the pairs of anyone
who withdrew consent (a consumer writing an inbox, and a loop working it off)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.pairing.api import router
from services.pairing.application import PairingConfig, PairingService
from services.pairing.pools import PoolsProjection
from services.pairing.rpc import serve_pairs
from shared.consumer import ConsumerRunner
from shared.contracts import SUBJECT_ROOT, Envelope
from shared.logging import get_logger
from shared.relay import OutboxRelay
from shared.settings import Settings

log = get_logger(__name__)
CONSENT_WITHDRAWN_FILTER = f"{SUBJECT_ROOT}.registry.*.*.ConsentWithdrawn"


class ConsentWatch:
    """Projection of the registry's ``ConsentWithdrawn`` events into the pairing's inbox."""

    name = "pairing-consent-watch"
    sources = ("registry",)

    def __init__(self, service: PairingService, on_applied: Callable[[], None]) -> None:
        self.service = service
        self.on_applied = on_applied

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        rows = [{"event_id": e.event_id, "person_id": e.aggregate_id, "region": e.org.region,
                 "correlation_id": e.correlation_id}
                for e in envelopes if e.type == "ConsentWithdrawn"]
        if rows:
            self.service.record_consent_withdrawals(conn, rows)
            self.on_applied()


class PairingRuntime:
    name = "pairing"
    router = router

    def __init__(self, settings: Settings, today: Callable[[], date] = date.today,
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
        self.pools = ConsumerRunner(self.service.engine, js, PoolsProjection())
        self.consent = ConsumerRunner(
            self.service.engine, js,
            ConsentWatch(self.service, lambda: loop.call_soon_threadsafe(wake.set)),
            filter_subject=CONSENT_WITHDRAWN_FILTER)
        # The documents service asks which pairs exist before it lists them in an order, with
        # the asking user's token; the answer is what that user may read of them.
        await serve_pairs(nc, self.service)
        return [asyncio.create_task(relay.run(stop), name="pairing-relay"),
                asyncio.create_task(supervise(self.pools, stop), name="pairing-pools"),
                asyncio.create_task(supervise(self.consent, stop), name="pairing-consent-watch"),
                asyncio.create_task(self._dissolve_withdrawn(stop), name="pairing-consent")]

    async def _dissolve_withdrawn(self, stop: asyncio.Event) -> None:
        """Woken by the watcher, and every few seconds in case a wake-up came before its commit."""
        while not stop.is_set():
            self.consent_wake.clear()
            try:
                await asyncio.to_thread(self.service.process_consent_withdrawals)
            except Exception as exc:  # noqa: BLE001 - the notice stays in the inbox for the next round
                log.warning("pairing.consent_retry", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.consent_wake), timeout=2.0)

    def health(self) -> dict[str, Any]:
        return {"stored": self.service.events.max_position(),
                "published": self.relay.published_total if self.relay else 0,
                "pools_applied": self.pools.applied_total if self.pools else 0,
                "consent_applied": self.consent.applied_total if self.consent else 0}

    def close(self) -> None:
        self.service.close()


async def supervise(runner: ConsumerRunner, stop: asyncio.Event) -> None:
    """ConsumerRunner retries the bus; anything else (a database refusal) would end it for good,
    so it starts again from the committed position."""
    while not stop.is_set():
        try:
            await runner.run(stop)
        except Exception as exc:  # noqa: BLE001 - a dead consumer would stall the pools silently
            log.error("pairing.consumer_retry", consumer=runner.projection.name, error=repr(exc))
            await asyncio.sleep(1.0)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
