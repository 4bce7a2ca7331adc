"""The region's reporting calendar as a running thing: which calendar the region runs (given,
configured by the region, or the demonstration's), and its ticker over the organisations the
dashboards know, which stores ``ReportDue`` notices as deadlines come near.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime

from services.monitoring.calendar import CalendarConfig, CalendarTicker, Level
from services.monitoring.dashboards import REPORTING_KINDS, DashboardProjector
from services.monitoring.views import CalendarConfigs
from shared import periods
from shared.errors import DomainError
from shared.localtime import local_today
from shared.logging import get_logger
from shared.store import ServiceApplication

log = get_logger(__name__)

Clock = Callable[[], datetime]


def demo_calendar(region: str, today: date) -> CalendarConfig:
    """The demonstration region's calendar: the default deadlines (they follow the calendar's
    rules), in use since the previous half of the school year began — so the reports of that
    half are already overdue and those of the current half come due."""
    current = periods.half_of(today)
    previous = (periods.Period(current.start_year, "1") if current.part == "2"
                else periods.Period(current.start_year - 1, "2"))
    return CalendarConfig(region=region, start=previous.start)


class ReportingCalendarService:
    """Which calendar the region runs (given, configured by the region, or the demo's), and its
    ticker over the organisations the dashboards know."""

    def __init__(self, store: ServiceApplication, projector: DashboardProjector,
                 configs: CalendarConfigs, region: str, clock: Clock,
                 config: CalendarConfig | None = None) -> None:
        self.store = store
        self.projector = projector
        self.configs = configs
        self.region = region
        self.clock = clock
        self.given = config
        self.on_stored: Callable[[], None] = lambda: None
        self.ticker: CalendarTicker | None = None
        self._lock = threading.Lock()

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

    def registered(self) -> dict[str, datetime]:
        """When each organisation was registered, as far as the dashboards know (state folded
        before they kept it has none: such an organisation owes every report in the window)."""
        return {scope: datetime.fromisoformat(info["registered"])
                for scope, info in self.projector.organisations().items()
                if info.get("registered") and scope.split("/")[0] == self.region}

    def stored_config(self) -> CalendarConfig | None:
        try:
            return self.configs.get(self.region)
        except DomainError as exc:
            # Stored before the calendar's rules: the demo's is made anew, a region's must be
            # configured again (the API refuses it with the rule it breaks).
            log.warning("calendar.stored_config_invalid", region=self.region, code=exc.code)
            return None

    def store_config(self, config: CalendarConfig) -> None:
        self.configs.put(config)

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
            config = demo_calendar(self.region, local_today(clock=self.clock))  # the region's day
            self.store_config(config)
            return config
        return None

    def _ticker(self, config: CalendarConfig) -> CalendarTicker:
        return CalendarTicker(self.store, config, self.organisations, clock=self.clock,
                              on_stored=lambda: self.on_stored(),
                              submitted=self.projector.submitted_reports(),
                              registered=self.registered)

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
