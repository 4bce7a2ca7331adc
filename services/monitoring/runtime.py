"""The monitoring service as a running process: the audit log, its heads, the live figures,
the dashboards fed from the audit log, survey answers and the reporting calendar.

Extending it: a module adds its read model to ``projections`` (anything with ``name``,
``sources`` and ``apply(conn, envelopes)``; each gets its own ConsumerRunner and position) or a
background loop to ``loops``, and its routes with ``router.include_router``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.monitoring.api import router as dashboards_router
from services.monitoring.application import MonitoringStore
from services.monitoring.audit.api import router as audit_router
from services.monitoring.audit.feeder import SERVICE, AuditFeeder, AuditLog, HeadSigningLoop, write_engine
from services.monitoring.calendar import CalendarConfig, CalendarTicker, Level, LevelSchedule
from services.monitoring.dashboards import REPORTING_KINDS, DashboardProjector, FoldSettings
from services.monitoring.rpc import serve_dashboards
from services.monitoring.surveys import load_questionnaires
from shared.consumer import ConsumerRunner, Projection
from shared.logging import get_logger
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.store import view_engine

log = get_logger(__name__)

#: A background loop: given the bus and the stop signal, runs until stopped.
Loop = Callable[[Client, JetStreamContext, asyncio.Event], Awaitable[None]]
Clock = Callable[[], datetime]
CONSUMER_BATCH = 100

calendar_metadata = sa.MetaData()
calendar_configs = sa.Table(
    "monitoring_calendar_config", calendar_metadata,
    sa.Column("region", sa.String(100), primary_key=True),
    sa.Column("config", sa.LargeBinary, nullable=False),
)


def head_interval_from_env() -> float:
    return float(os.environ.get("NASTAVNIK_AUDIT_HEAD_INTERVAL", "10"))


def calendar_interval_from_env() -> float:
    return float(os.environ.get("NASTAVNIK_CALENDAR_INTERVAL", "30"))


def _month_day(day: date) -> str:
    if day.month == 2 and day.day == 29:  # a yearly deadline cannot fall on 29 February
        day = day - timedelta(days=1)
    return f"{day.month:02d}-{day.day:02d}"


def demo_calendar(region: str, today: date) -> CalendarConfig:
    """The demonstration region's calendar: deadlines around the day it was loaded, so one
    report of each level is already overdue and one is due soon."""
    return CalendarConfig(
        region=region, start=today - timedelta(days=30),
        levels={
            "organisation": LevelSchedule(deadlines=(_month_day(today - timedelta(days=12)),
                                                     _month_day(today + timedelta(days=6)))),
            "municipality": LevelSchedule(deadlines=(_month_day(today - timedelta(days=3)),
                                                     _month_day(today + timedelta(days=25)))),
        })


class ReportingCalendarService:
    """Which calendar the region runs (given, configured by the region, or the demo's), and its
    ticker over the organisations the dashboards know."""

    def __init__(self, store: MonitoringStore, projector: DashboardProjector, engine: sa.Engine,
                 region: str, clock: Clock, config: CalendarConfig | None = None) -> None:
        self.store = store
        self.projector = projector
        self.engine = engine
        self.region = region
        self.clock = clock
        self.given = config
        self.on_stored: Callable[[], None] = lambda: None
        self.ticker: CalendarTicker | None = None
        self._lock = threading.Lock()
        calendar_metadata.create_all(engine)

    def organisations(self) -> dict[Level, list[str]]:
        found: dict[Level, list[str]] = {"organisation": [], "municipality": []}
        for scope, info in self.projector.organisations().items():
            parts = scope.split("/")
            if parts[0] != self.region:
                continue
            if len(parts) == 3 and parts[1] != "_" and info["kind"] in REPORTING_KINDS:
                found["organisation"].append(scope)
            elif len(parts) == 2 and info["kind"] == "municipality":
                found["municipality"].append(scope)
        return found

    def stored_config(self) -> CalendarConfig | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(calendar_configs.c.config).where(
                calendar_configs.c.region == self.region)).scalar()
        return CalendarConfig.model_validate(orjson.loads(value)) if value else None

    def store_config(self, config: CalendarConfig) -> None:
        data = orjson.dumps(config.model_dump(mode="json"))
        with self.engine.begin() as conn:
            updated = conn.execute(calendar_configs.update().where(
                calendar_configs.c.region == config.region).values(config=data))
            if updated.rowcount == 0:
                conn.execute(calendar_configs.insert().values(region=config.region, config=data))

    def configure(self, config: CalendarConfig) -> None:
        self.store_config(config)
        with self._lock:
            self.ticker = self._ticker(config)

    def _resolve(self) -> CalendarConfig | None:
        if self.given is not None:
            return self.given
        stored = self.stored_config()
        if stored is not None:
            return stored
        region = self.projector.organisations().get(self.region)
        if region is not None and region.get("demo"):
            config = demo_calendar(self.region, self.clock().astimezone(UTC).date())
            self.store_config(config)
            return config
        return None

    def _ticker(self, config: CalendarConfig) -> CalendarTicker:
        return CalendarTicker(self.store, config, self.organisations, clock=self.clock,
                              on_stored=lambda: self.on_stored(),
                              submitted=self.projector.submitted_reports())

    def current(self) -> CalendarTicker | None:
        with self._lock:
            if self.ticker is None:
                config = self._resolve()
                if config is not None:
                    self.ticker = self._ticker(config)
            return self.ticker

    def record_submitted(self, report_ids: list[str]) -> None:
        ticker = self.ticker
        if ticker is not None:
            for report_id in report_ids:
                ticker.record_submitted(report_id)

    def tick(self) -> int:
        ticker = self.current()
        return len(ticker.tick()) if ticker is not None else 0

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
            except Exception as exc:  # noqa: BLE001 - a store outage must not end the calendar
                log.warning("monitoring.calendar_retry", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


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
        self.head_loop = HeadSigningLoop(self.audit, head_interval or head_interval_from_env())
        self.fold_settings = FoldSettings()
        self.questionnaires = load_questionnaires()
        self.store = MonitoringStore(settings)
        self.relay: OutboxRelay | None = None
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.dashboards = DashboardProjector(self.audit.store, self.engine, self.fold_settings)
        self.calendar = ReportingCalendarService(self.store, self.dashboards, self.engine,
                                                 settings.region, self.clock, calendar)
        self.dashboards.on_reports = self.calendar.record_submitted
        self.calendar_interval = calendar_interval or calendar_interval_from_env()
        self.projections: list[Projection] = [AuditFeeder(self.audit.store)]
        self.loops: list[Loop] = [
            lambda nc, _js, stop: self.head_loop.run(nc, stop),
            lambda _nc, _js, stop: self.tail_audit_log(stop),
            lambda _nc, _js, stop: self.calendar.run(stop, self.calendar_interval),
        ]
        if self.checkpoints is not None:
            checkpoints = self.checkpoints
            self.loops.append(lambda _nc, _js, stop: checkpoints.run(stop, self.read_engine))
        self.runners: dict[str, ConsumerRunner] = {}
        self.notify_relay: Callable[[], None] = lambda: None
        self.router = APIRouter()
        self.router.include_router(audit_router)
        self.router.include_router(dashboards_router)

    async def start(self, app: FastAPI, nc: Client, js: JetStreamContext,
                    stop: asyncio.Event) -> list[asyncio.Task[Any]]:
        app.state.monitoring = self
        await serve_dashboards(nc, self)
        loop = asyncio.get_running_loop()
        self.relay = OutboxRelay(self.store, js, self.settings.relay_batch,
                                 self.settings.relay_idle_seconds)
        relay = self.relay
        # Surveys and calendar notices are stored from worker threads; the relay is on the loop.
        self.notify_relay = lambda: loop.call_soon_threadsafe(relay.notify)
        self.calendar.on_stored = self.notify_relay
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(relay.run(stop),
                                                              name="monitoring-relay")]
        for projection in self.projections:
            # A pull waiting for messages returns when its batch is full or it expires (0.5 s):
            # a small batch keeps an event's way to the dashboards short at a steady rate.
            runner = ConsumerRunner(self.engine, js, projection, batch=CONSUMER_BATCH)
            self.runners[projection.name] = runner
            tasks.append(asyncio.create_task(supervise(runner, stop),
                                             name=f"monitoring-{projection.name}"))
        tasks += [asyncio.create_task(loop_(nc, js, stop)) for loop_ in self.loops]
        return tasks

    async def tail_audit_log(self, stop: asyncio.Event, idle: float = 0.02) -> None:
        """The dashboards follow the audit log: whatever it appended is folded at once."""
        frozen = False
        while not stop.is_set():
            try:
                folded = await asyncio.to_thread(self.dashboards.catch_up)
            except Exception as exc:  # noqa: BLE001 - e.g. a locked database: retry from the position
                log.warning("monitoring.dashboards_retry", error=repr(exc))
                folded = 0
                await asyncio.sleep(0.5)
            if not frozen and self.dashboards.position is not None:
                # The fold's state is loaded (an object per pair: a million for a large region)
                # and lives as long as the process, as do the libraries' objects: out of the
                # cyclic collector's sight, no full collection stops the process to walk them
                # again (100 ms at a 1M-event log, more under load, more with the log). What is
                # garbage already is collected first, so that none is kept for good.
                gc.collect()
                gc.freeze()
                frozen = True
            if not folded:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle)

    def caught_up_with(self) -> dict[str, int]:
        applied = {name: runner.applied_total for name, runner in self.runners.items()}
        applied["dashboards"] = self.dashboards.applied_total
        return applied

    def health(self) -> dict[str, Any]:
        return {"log_size": self.audit.size(), "signed_size": self.head_loop.signed_size,
                "applied": self.caught_up_with(), "stored": self.store.max_position(),
                "published": self.relay.published_total if self.relay else 0}

    def close(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file from a loop of its own.

    By default the commit that grows that log past 1,000 pages copies them into the database
    file and syncs it, holding up whichever writer it happens to be. Each audit entry dirties
    pages of its own in the random-id indexes (about 2.7 pages an entry), so at 1,000 events/s
    that came every half second and stalled the feeder, and the events behind it, for up to
    0.6 s on a 1M-entry log. Here the writers only append to the write-ahead log, and a passive
    checkpoint every ``interval`` seconds, off their path, copies what they wrote; it waits for
    no reader or writer.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.checkpoints = 0

    @classmethod
    def of(cls, engine: sa.Engine, interval: float = 0.5) -> WalCheckpointer | None:
        """Set up for the writers of ``engine``; None when it is not SQLite."""
        if engine.dialect.name != "sqlite":
            return None

        @sa.event.listens_for(engine, "connect")
        def _no_checkpoint_on_commit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        return cls(interval)

    def checkpoint(self, engine: sa.Engine) -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        self.checkpoints += 1

    async def run(self, stop: asyncio.Event, engine: sa.Engine) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            try:
                await asyncio.to_thread(self.checkpoint, engine)
            except sa.exc.DBAPIError as exc:  # e.g. busy: the next round copies it
                log.warning("monitoring.checkpoint_retry", error=repr(exc))


async def supervise(runner: ConsumerRunner, stop: asyncio.Event) -> None:
    """ConsumerRunner retries the bus; a database refusal (locked, connection lost) would
    otherwise end the loop for good, so it is retried here from the committed position."""
    while not stop.is_set():
        try:
            await runner.run(stop)
        except sa.exc.DBAPIError as exc:
            log.warning("monitoring.consumer_retry", consumer=runner.projection.name,
                        error=repr(exc))
            await asyncio.sleep(1.0)
