"""The reporting calendar: who reports to the level above by when, and the ``ReportDue`` notices.

Defaults (each configurable per region and level): organisations report to their municipality
by 20.12 and 31.05, municipalities to the region by 30.06 and 25.12. A reminder goes out a
configured number of days before a deadline and on the day; an unsubmitted report past its
deadline is overdue and shows at the level above until ``ReportSubmitted`` clears it.

The core (``due_notices``, ``overdue``) is pure: time is an argument. ``CalendarTicker`` drives
it from an injectable clock and stores each notice as a ``ReportDue`` event of the
``ReportingCalendar`` aggregate, so the service's outbox relay publishes it exactly once and the
aggregate remembers which notices went out across restarts.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import event
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.monitoring.schedule import (
    LevelSchedule,
    check_rules,
    default_levels,
)
from shared import periods
from shared.auth import OrgPath, system_actor
from shared.errors import DomainError
from shared.events import ReportDue
from shared.logging import get_logger
from shared.loops import periodic
from shared.store import CommandContext, EventSourcedAggregate, ServiceApplication

log = get_logger(__name__)

Level = Literal["organisation", "municipality", "region"]
LEVEL_PREFIX: Mapping[Level, str] = {"organisation": "org", "municipality": "mun", "region": "reg"}
PREFIX_LEVEL: Mapping[str, Level] = {v: k for k, v in LEVEL_PREFIX.items()}
CALENDAR_NAMESPACE = UUID("6f1c3a52-4d1e-5b7a-9c36-0e8f2b7d4a11")
#: Organisation path → when it was registered (timezone-aware).
Registered = Mapping[str, datetime]


# --- configuration --------------------------------------------------------------------------

class CalendarConfig(BaseModel):
    """A region's reporting calendar. A level without a schedule reports nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    timezone: str = "Europe/Moscow"
    levels: dict[Level, LevelSchedule] = Field(default_factory=default_levels)  # type: ignore[arg-type]
    #: Deadlines before this date are never due nor overdue (the calendar's first day in use).
    start: date | None = None
    #: How long an unsubmitted report stays on the overdue list.
    overdue_horizon_days: int = Field(default=366, ge=1)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"неизвестный часовой пояс «{value}»") from None
        return value

    @model_validator(mode="after")
    def _rules(self) -> CalendarConfig:
        check_rules(self.levels)  # a DomainError with the rule's own code, not a ValueError
        return self

    def today(self, now: datetime) -> date:
        """The region's local date: a deadline ends at local midnight, not at UTC's."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.astimezone(ZoneInfo(self.timezone)).date()


def parse_calendar(data: Mapping[str, Any]) -> CalendarConfig:
    try:
        return CalendarConfig.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                   for e in exc.errors()]
        raise DomainError("INVALID_CALENDAR", "Календарь отчётности заполнен с ошибками",
                          422, details) from exc


# --- reports --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    report_id: str
    level: Level
    path: str
    deadline: date
    period: str

    @property
    def reported_to(self) -> str | None:
        """The unit that receives the report (and sees it overdue); None above the region."""
        org = OrgPath.parse(self.path)
        if self.level == "organisation":
            return f"{org.region}/{org.municipality}" if org.municipality else org.region
        if self.level == "municipality":
            return org.region
        return None


def report_id_of(level: Level, path: str, deadline: date) -> str:
    """Stable across processes and years: ``org:demo/m1/s1:2025-12-20``."""
    return f"{LEVEL_PREFIX[level]}:{path}:{deadline.isoformat()}"


def parse_report_id(report_id: str) -> tuple[Level, str, date]:
    try:
        prefix, path, deadline = report_id.split(":")
        return PREFIX_LEVEL[prefix], str(OrgPath.parse(path)), date.fromisoformat(deadline)
    except (ValueError, KeyError):
        raise DomainError("INVALID_REPORT_ID", f"Неверный идентификатор отчёта «{report_id}»",
                          422) from None


def period_of(deadline: date) -> str:
    """The half of the school year a plain deadline covers: 20.12.2025 → ``2025/26-1``."""
    return periods.half_of(deadline).code


def reports_around(config: CalendarConfig, organisations_by_level: Mapping[Level, Iterable[str]],
                   today: date, registered: Registered | None = None) -> Iterator[Report]:
    """Every report whose deadline is within reminder reach ahead or the overdue horizon behind,
    except those of a period that ended before its organisation was registered (``registered``:
    path → moment of registration; an organisation missing from it owes every report)."""
    registered_on = {path: config.today(at) for path, at in (registered or {}).items()}
    oldest = today - timedelta(days=config.overdue_horizon_days)
    if config.start is not None:
        oldest = max(oldest, config.start)
    for level, schedule in config.levels.items():
        paths = sorted(set(organisations_by_level.get(level, ())))
        if not paths:
            continue
        newest = today + timedelta(days=max(schedule.notice_days))
        # Reports belong to school years; one starting two years before the oldest day may still
        # fall due inside the window (a school year's report in the autumn after it).
        for start_year in range(oldest.year - 2, newest.year + 1):
            for entry in schedule.deadlines:
                deadline = entry.date_in(start_year)
                if not oldest <= deadline <= newest:
                    continue
                period = entry.period_in(start_year)
                for path in paths:
                    since = registered_on.get(path)
                    if since is not None and period.end < since:
                        continue  # it did not exist during that period: nothing to report
                    yield Report(report_id_of(level, path, deadline), level, path, deadline,
                                 period.code)


@dataclass(frozen=True)
class Notice:
    """A ``ReportDue`` to emit, with the key that makes emitting it idempotent and the
    organisation it belongs to (its envelope's path, so the subject carries the municipality)."""

    key: str
    org: OrgPath
    payload: ReportDue


def notice_key(report_id: str, days: int | None) -> str:
    return f"{report_id}:{'overdue' if days is None else days}"


def parse_notice_key(key: str) -> tuple[str, int | None]:
    """``notice_key`` read back: the report id and the reminder's days (None: overdue)."""
    report_id, _, when = key.rpartition(":")
    return report_id, None if when == "overdue" else int(when)


def due_notices(config: CalendarConfig, organisations_by_level: Mapping[Level, Iterable[str]],
                submitted: set[str] | frozenset[str], already_emitted: set[str] | frozenset[str],
                now: datetime, registered: Registered | None = None) -> list[Notice]:
    """The notices due at ``now`` and not yet emitted: for each unsubmitted report, the latest
    reminder whose day has come (so a ticker that was down sends one, not a burst of stale
    ones), or the overdue notice once past the deadline."""
    today = config.today(now)
    notices: list[Notice] = []
    for report in reports_around(config, organisations_by_level, today, registered):
        if report.report_id in submitted:
            continue
        days_left = (report.deadline - today).days
        if days_left < 0:
            key = notice_key(report.report_id, None)
        else:
            reached = [d for d in config.levels[report.level].notice_days if d >= days_left]
            if not reached:
                continue
            key = notice_key(report.report_id, min(reached))
        if key in already_emitted:
            continue
        notices.append(Notice(key, OrgPath.parse(report.path), ReportDue(
            report_id=report.report_id, level=report.level, period=report.period,
            deadline=report.deadline.isoformat(), days_left=days_left, overdue=days_left < 0)))
    notices.sort(key=lambda n: (n.payload.deadline, n.payload.level, n.payload.report_id))
    return notices


@dataclass(frozen=True)
class OverdueReport:
    report: Report
    days_overdue: int

    def to_json(self) -> dict[str, Any]:
        return {"report_id": self.report.report_id, "level": self.report.level,
                "path": self.report.path, "reported_to": self.report.reported_to,
                "period": self.report.period, "period_label": periods.label(self.report.period),
                "deadline": self.report.deadline.isoformat(),
                "days_overdue": self.days_overdue}


def overdue(config: CalendarConfig, organisations_by_level: Mapping[Level, Iterable[str]],
            submitted: set[str] | frozenset[str], now: datetime,
            under: str | None = None, registered: Registered | None = None) -> list[OverdueReport]:
    """Unsubmitted reports past their deadline, as the level above sees them: ``under`` keeps
    those reported to a unit inside that path (a municipality sees its schools' reports)."""
    today = config.today(now)
    scope = OrgPath.parse(under) if under else None
    found = []
    for report in reports_around(config, organisations_by_level, today, registered):
        if report.report_id in submitted or report.deadline >= today:
            continue
        receiver = report.reported_to
        if scope is not None and (receiver is None or not scope.contains(OrgPath.parse(receiver))):
            continue
        found.append(OverdueReport(report, (today - report.deadline).days))
    found.sort(key=lambda o: (o.report.deadline, o.report.level, o.report.path))
    return found


# --- the aggregate and its ticker -----------------------------------------------------------

class ReportingCalendar(EventSourcedAggregate):
    """One per region and year of deadlines: bounded in size, and it remembers every notice."""

    @staticmethod
    def create_id(region: str, year: int) -> UUID:
        return uuid5(CALENDAR_NAMESPACE, f"reporting-calendar:{region}:{year}")

    @event("ReportingCalendarOpened")
    def __init__(self, region: str, year: int, schedule: dict[str, Any],
                 meta: dict[str, Any]) -> None:
        self.region = region
        self.year = year
        self.schedule = schedule
        self.emitted: set[str] = set()

    def notify(self, notice: Notice, meta: dict[str, Any]) -> None:
        if notice.key in self.emitted:
            return
        self._report_due(key=notice.key, meta=meta, **notice.payload.model_dump())

    @event("ReportDue")
    def _report_due(self, key: str, report_id: str, level: str, period: str, deadline: str,
                    days_left: int, overdue: bool, meta: dict[str, Any]) -> None:
        # ``key`` stays inside the store (the public payload drops it): it is what makes a
        # restarted ticker skip a notice already sent.
        self.emitted.add(key)


class MonitoringCalendarStore(ServiceApplication):
    """The calendar's event store for running it alone; the monitoring runtime may pass its own
    ``ServiceApplication`` (source ``monitoring``) to the ticker instead — use one, not both."""

    name = "MonitoringCalendar"
    source = "monitoring"


OrganisationsByLevel = Mapping[Level, Iterable[str]]


class CalendarTicker:
    """Emits due notices as the clock moves. ``record_submitted`` is fed from ``ReportSubmitted``."""

    def __init__(self, store: ServiceApplication, config: CalendarConfig,
                 organisations: Callable[[], OrganisationsByLevel],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_stored: Callable[[], None] = lambda: None,
                 submitted: Iterable[str] = (),
                 registered: Callable[[], Registered] = dict) -> None:
        self.store = store
        self.registered = registered
        self.config = config
        self.organisations = organisations
        self.clock = clock
        self.on_stored = on_stored
        self.submitted: set[str] = set(submitted)
        self._calendars: dict[int, ReportingCalendar | None] = {}
        self._lock = threading.RLock()

    def record_submitted(self, report_id: str) -> None:
        with self._lock:
            self.submitted.add(report_id)

    def _calendar(self, year: int) -> ReportingCalendar | None:
        if year not in self._calendars:
            try:
                self._calendars[year] = self.store.repository.get(
                    ReportingCalendar.create_id(self.config.region, year))
            except AggregateNotFoundError:
                self._calendars[year] = None
        return self._calendars[year]

    def emitted(self, today: date) -> set[str]:
        years = range(today.year - self.config.overdue_horizon_days // 365 - 1, today.year + 2)
        return {key for year in years if (c := self._calendar(year)) is not None
                for key in c.emitted}

    def notices_sent(self, today: date) -> dict[str, list[dict[str, Any]]]:
        """Report id → the notices already sent for it, in the order they went out."""
        with self._lock:
            keys = self.emitted(today)
        sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for key in keys:
            report_id, days = parse_notice_key(key)
            sent[report_id].append({"kind": "overdue"} if days is None
                                   else {"kind": "reminder", "days_before": days})
        for notices in sent.values():
            notices.sort(key=lambda n: -n.get("days_before", -1))
        return dict(sent)

    def tick(self) -> list[Notice]:
        """Store every notice now due in one transaction; returns them. Safe to call any time."""
        with self._lock:
            try:
                return self._tick()
            except IntegrityError:
                # Another ticker stored first: re-read what it emitted and try once more.
                self._calendars.clear()
                return self._tick()

    def _tick(self) -> list[Notice]:
        now = self.clock()
        organisations = self.organisations()
        notices = due_notices(self.config, organisations, self.submitted,
                              self.emitted(self.config.today(now)), now, self.registered())
        if not notices:
            return []
        ctx = CommandContext(system_actor(self.config.region))
        changed: dict[int, ReportingCalendar] = {}
        by_year: dict[int, list[Notice]] = defaultdict(list)
        for notice in notices:
            by_year[int(notice.payload.deadline[:4])].append(notice)
        for year, batch in by_year.items():
            calendar = self._calendar(year)
            if calendar is None:
                calendar = ReportingCalendar(
                    region=self.config.region, year=year,
                    schedule=self.config.model_dump(mode="json"),
                    meta=ctx.meta(OrgPath(region=self.config.region)))
            for notice in batch:
                calendar.notify(notice, ctx.meta(notice.org))
            changed[year] = calendar
        try:
            self.store.save(*changed.values())
        except Exception:
            self._calendars.clear()  # the unsaved events must not count as emitted
            raise
        self._calendars.update(changed)
        log.info("calendar.notices", region=self.config.region, count=len(notices),
                 correlation_id=str(ctx.correlation_id))
        self.on_stored()
        return notices

    def overdue(self, under: str | None = None) -> list[OverdueReport]:
        with self._lock:
            return overdue(self.config, self.organisations(), self.submitted, self.clock(), under,
                           self.registered())

    async def run(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        """Tick every ``interval`` until ``stop``; a store outage must not end the calendar, the
        next tick retries."""
        await periodic("calendar", self.tick, interval, stop)
