"""The documents service as a running service (wiring only): HTTP routes, the peers over NATS,
outbox relay, the ``ReportDue`` consumer (monitoring stream) with the loop that turns notices
into drafts, the ``ConsentWithdrawn`` consumer (registry stream) with the loop that erases what
names the person (``erasure``), and the roadmap sweep (reminders of items coming due, then
overdue marks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.documents.api import router
from services.documents.application import DocumentsService
from services.documents.consumers import ReportDueInbox
from services.documents.erasure import CONSENT_WITHDRAWN_FILTER, ConsentWithdrawnInbox, Erasure
from services.documents.peers import BusPeers
from shared.consumer import ConsumerRunner
from shared.loops import periodic, supervise
from shared.relay import OutboxRelay
from shared.settings import Settings

#: Drafts and erasures are worked off when their consumer's commit wakes them; these clocks
#: are only a fallback (looking every second or two was a good part of an idle system's CPU).
DRAFTS_SECONDS = 30.0
ERASURE_SECONDS = 30.0


class DocumentsRuntime:
    name = "documents"
    router = router

    def __init__(self, settings: Settings, today: Callable[[], date] | None = None,
                 sweep_seconds: float = 600.0) -> None:
        self.settings = settings
        self.service = DocumentsService(settings, today)
        self.relay: OutboxRelay | None = None
        self.consumer: ConsumerRunner | None = None
        self.erasure = Erasure(self.service.engine)
        self.erasure_consumer: ConsumerRunner | None = None
        self.sweep_seconds = sweep_seconds

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.documents = self.service
        self.service.peers = BusPeers(nc)
        loop = asyncio.get_running_loop()
        relay = self.relay = OutboxRelay(self.service.events, js, self.settings.relay_batch,
                                         self.settings.relay_idle_seconds)
        self.service.on_stored = lambda: loop.call_soon_threadsafe(relay.notify)
        drafts_wake = asyncio.Event()
        # Woken after the consumer's commit, when the notices it wrote can be read.
        self.consumer = ConsumerRunner(self.service.engine, js, ReportDueInbox(), service=self.name,
                                       on_commit=drafts_wake.set)
        erasure_wake = asyncio.Event()
        self.erasure_consumer = ConsumerRunner(
            self.service.engine, js, ConsentWithdrawnInbox(), filter_subject=CONSENT_WITHDRAWN_FILTER,
            service=self.name, on_commit=erasure_wake.set)
        return [asyncio.create_task(relay.run(stop), name="documents-relay"),
                asyncio.create_task(self.consumer.run(stop), name="documents-report-due"),
                asyncio.create_task(periodic("documents-drafts", self.service.prepare_drafts,
                                             DRAFTS_SECONDS, stop, drafts_wake),
                                    name="documents-drafts"),
                asyncio.create_task(supervise("documents-consent-erasure", self.erasure_consumer.run,
                                              stop), name="documents-consent-erasure"),
                asyncio.create_task(periodic("documents-erasure", self.erasure.process,
                                             ERASURE_SECONDS, stop, erasure_wake),
                                    name="documents-erasure"),
                asyncio.create_task(periodic("documents-overdue", self.service.sweep_roadmaps,
                                             self.sweep_seconds, stop),
                                    name="documents-overdue")]

    def health(self) -> dict[str, Any]:
        return {"stored": self.service.events.max_position(),
                "published": self.relay.published_total if self.relay else 0,
                "report_due_applied": self.consumer.applied_total if self.consumer else 0,
                "erasure_applied": (self.erasure_consumer.applied_total
                                    if self.erasure_consumer else 0)}

    def close(self) -> None:
        self.service.close()
