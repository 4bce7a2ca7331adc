"""The monitoring service as a running process: wiring only. The audit log and its heads, the
dashboards fed from the audit log, survey answers and the reporting calendar are built here and
started with the bus; what they do lives in ``application`` (commands and queries),
``consumers`` (what comes in), ``reporting`` (the calendar) and ``audit``/``dashboards``.

Extending it: a read model joins ``consumers.projections``, a background loop ``loops``, and
routes ``router.include_router``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.monitoring.api import router as dashboards_router
from services.monitoring.application import AuditService, MonitoringService, MonitoringStore
from services.monitoring.audit.api import router as audit_router
from services.monitoring.audit.embedded_witness import EmbeddedWitness
from services.monitoring.audit.feeder import (
    SERVICE,
    AuditLog,
    HeadSigningLoop,
    WalCheckpointer,
    write_engine,
)
from services.monitoring.audit.witness import CONFIG_FILE as WITNESS_CONFIG
from services.monitoring.audit.witness import embedded_witness_dir
from services.monitoring.calendar import CalendarConfig
from services.monitoring.consumers import DashboardTail, projections
from services.monitoring.dashboards import DashboardProjector, FoldSettings
from services.monitoring.notifications.api import router as notifications_router
from services.monitoring.notifications.application import Notifications
from services.monitoring.reporting import ReportingCalendarService
from services.monitoring.rpc import serve_dashboards
from services.monitoring.surveys import load_questionnaires
from services.monitoring.views import CalendarConfigs, DashboardViews
from shared.consumer import ConsumerRunner, Projection
from shared.loops import periodic, supervise
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.store import view_engine

__all__ = ["MonitoringRuntime", "audit_router", "dashboards_router"]

#: A background loop: given the bus and the stop signal, runs until stopped.
Loop = Callable[[Client, JetStreamContext, asyncio.Event], Awaitable[None]]
Clock = Callable[[], datetime]
CONSUMER_BATCH = 100


class MonitoringRuntime:
    name = SERVICE

    def __init__(self, settings: Settings, head_interval: float | None = None,
                 clock: Clock | None = None, calendar: CalendarConfig | None = None,
                 calendar_interval: float | None = None) -> None:
        self.settings = settings
        # Writers queue on one engine (BEGIN IMMEDIATE on SQLite); readers use another so a
        # long verify or replay never holds the write lock.
        self.engine = write_engine(settings)
        self.checkpoints = WalCheckpointer.of(self.engine)
        self.read_engine = view_engine(settings, SERVICE)
        self.audit = AuditLog.open(settings, self.read_engine)
        self.head_loop = HeadSigningLoop(self.audit, head_interval or settings.audit_head_interval)
        self.fold_settings = FoldSettings()
        self.questionnaires = load_questionnaires()
        self.store = MonitoringStore(settings)
        self.relay: OutboxRelay | None = None
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.dashboards = DashboardProjector(self.audit.store, self.engine, self.fold_settings)
        self.calendar = ReportingCalendarService(self.store, self.dashboards,
                                                 CalendarConfigs(self.engine), settings.region,
                                                 self.clock, calendar)
        self.dashboards.on_reports = self.calendar.record_submitted
        self.calendar_interval = calendar_interval or settings.calendar_interval
        self.service = MonitoringService(settings, self.store, DashboardViews(self.read_engine),
                                         self.audit, self.calendar, self.fold_settings,
                                         self.questionnaires, self.clock)
        self.audit_service = AuditService(settings, self.audit, self.head_loop, self.fold_settings)
        self.notifications = Notifications(self.engine, settings, self.clock)
        self.notifications.calendar = self.calendar
        self.mail_wake = asyncio.Event()
        self.projections: list[Projection] = [*projections(self.audit.store),
                                              self.notifications.inbox]
        self.tail = tail = DashboardTail(self.dashboards)
        self.loops: list[Loop] = [
            lambda nc, _js, stop: self.head_loop.run(nc, stop),
            lambda _nc, _js, stop: supervise("monitoring-dashboards", tail.run, stop),
            lambda _nc, _js, stop: periodic("monitoring-calendar", self.calendar.tick,
                                            self.calendar_interval, stop),
            lambda _nc, _js, stop: periodic("monitoring-notifications-sweep",
                                            self.notifications.sweep, self.calendar_interval, stop),
        ]
        if settings.mails:
            self.loops.append(lambda _nc, _js, stop: self.notifications.mail_loop(stop,
                                                                                 self.mail_wake))
        witness_dir = embedded_witness_dir(settings.data_dir)
        if (witness_dir / WITNESS_CONFIG).exists():  # embedded mode: a witness beside the log
            witness = EmbeddedWitness(self.audit, witness_dir)
            self.loops.append(lambda _nc, _js, stop: periodic(
                "monitoring-witness", witness.round, self.head_loop.interval, stop,
                first_wait=True))
        if self.checkpoints is not None:
            checkpoints = self.checkpoints
            self.loops.append(lambda _nc, _js, stop: checkpoints.run(stop, self.read_engine))
        self.runners: dict[str, ConsumerRunner] = {}
        self.router = APIRouter()
        self.router.include_router(audit_router)
        self.router.include_router(dashboards_router)
        self.router.include_router(notifications_router)

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.monitoring = self
        await serve_dashboards(nc, self.service)
        loop = asyncio.get_running_loop()
        self.notifications.nc = nc
        wake = self.mail_wake
        self.notifications.on_added = lambda: loop.call_soon_threadsafe(wake.set)
        self.relay = OutboxRelay(self.store, js, self.settings.relay_batch,
                                 self.settings.relay_idle_seconds)
        relay = self.relay

        def notify_relay() -> None:
            # Surveys and calendar notices are stored from worker threads; the relay is on the loop.
            loop.call_soon_threadsafe(relay.notify)

        self.service.notify_relay = notify_relay
        self.calendar.on_stored = notify_relay
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(relay.run(stop),
                                                              name="monitoring-relay")]
        # Called on the loop once a runner's batch is committed, never before: whatever the
        # feeder appended to the audit log, the dashboards fold at once; the notifications the
        # inbox stored, the mailer sends at once. Each wakes only its own follower.
        on_commit = {self.notifications.inbox.name: wake.set if self.settings.mails else None}
        for projection in self.projections:
            # A small batch keeps an event's way to the dashboards short at a steady rate.
            runner = ConsumerRunner(self.engine, js, projection, batch=CONSUMER_BATCH,
                                    service=SERVICE,
                                    on_commit=on_commit.get(projection.name, self._appended))
            self.runners[projection.name] = runner
            tasks.append(asyncio.create_task(supervise(f"monitoring-{projection.name}", runner.run,
                                                       stop),
                                             name=f"monitoring-{projection.name}"))
        tasks += [asyncio.create_task(loop_(nc, js, stop)) for loop_ in self.loops]
        return tasks

    def caught_up_with(self) -> dict[str, int]:
        applied = {name: runner.applied_total for name, runner in self.runners.items()}
        applied["dashboards"] = self.dashboards.applied_total
        return applied

    def _appended(self) -> None:
        self.tail.wake()
        if self.checkpoints is not None:
            self.checkpoints.written()

    def health(self) -> dict[str, Any]:
        return {"log_size": self.audit.size(), "signed_size": self.head_loop.signed_size,
                "applied": self.caught_up_with(), "stored": self.store.max_position(),
                "published": self.relay.published_total if self.relay else 0}

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()
