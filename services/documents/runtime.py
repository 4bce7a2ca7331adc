"""The documents service as a running service: HTTP routes, outbox relay, the ``ReportDue``
consumer (monitoring stream) with the loop that turns notices into drafts, and the roadmap
sweep (reminders of items coming due, then overdue marks)."""

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

from services.documents.api import router
from services.documents.application import DocumentsService
from shared.consumer import ConsumerRunner
from shared.contracts import Envelope
from shared.logging import get_logger
from shared.relay import OutboxRelay
from shared.settings import Settings

log = get_logger(__name__)


class ReportDueInbox:
    """Projection of the monitoring stream: keeps ``ReportDue`` notices, in the position's txn."""

    name = "documents-report-due"
    sources = ("monitoring",)

    def __init__(self, service: DocumentsService, on_applied: Callable[[], None]) -> None:
        self.service = service
        self.on_applied = on_applied

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        self.service.record_report_due(conn, envelopes)
        if any(e.type == "ReportDue" for e in envelopes):
            self.on_applied()


class DocumentsRuntime:
    name = "documents"
    router = router

    def __init__(self, settings: Settings, today: Callable[[], date] = date.today,
                 sweep_seconds: float = 600.0) -> None:
        self.settings = settings
        self.service = DocumentsService(settings, today)
        self.relay: OutboxRelay | None = None
        self.consumer: ConsumerRunner | None = None
        self.sweep_seconds = sweep_seconds
        self.drafts_wake = asyncio.Event()

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.documents = self.service
        app.state.documents_nats = nc
        loop = asyncio.get_running_loop()
        self.drafts_wake = asyncio.Event()
        self.relay = OutboxRelay(self.service.events, js, self.settings.relay_batch,
                                 self.settings.relay_idle_seconds)
        relay = self.relay
        self.service.on_stored = lambda: loop.call_soon_threadsafe(relay.notify)
        wake = self.drafts_wake
        inbox = ReportDueInbox(self.service, lambda: loop.call_soon_threadsafe(wake.set))
        self.consumer = ConsumerRunner(self.service.engine, js, inbox)
        return [asyncio.create_task(relay.run(stop), name="documents-relay"),
                asyncio.create_task(self.consumer.run(stop), name="documents-report-due"),
                asyncio.create_task(self._drafts(stop), name="documents-drafts"),
                asyncio.create_task(self._sweep(stop), name="documents-overdue")]

    async def _drafts(self, stop: asyncio.Event) -> None:
        """Drafts from the inbox; woken by the consumer, and every second in case a wake-up
        came before its transaction committed."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.service.prepare_drafts)
            except Exception as exc:  # a bad notice must not stop the loop; it stays in the inbox
                log.warning("documents.drafts_retry", error=repr(exc))
            self.drafts_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self.drafts_wake), timeout=1.0)

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.service.send_reminders)
                await asyncio.to_thread(self.service.mark_overdue)
            except Exception as exc:
                log.warning("documents.overdue_retry", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.sweep_seconds)

    def health(self) -> dict[str, Any]:
        return {"stored": self.service.events.max_position(),
                "published": self.relay.published_total if self.relay else 0,
                "report_due_applied": self.consumer.applied_total if self.consumer else 0}

    def close(self) -> None:
        self.service.close()


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
