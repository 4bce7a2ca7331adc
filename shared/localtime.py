"""The region's local time: "today", and every date and time a user reads.

Storage stays in UTC; only what a person sees (pages, documents' and orders' dates, «Сегодня …»,
«Сформирована …») is turned into the region's zone (``NASTAVNIK_TIME_ZONE``, default
Europe/Moscow) here, so 23:30 UTC on 06.12 is 07.12 for a school in Moscow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from shared.settings import Settings

DEFAULT_ZONE = "Europe/Moscow"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=8)
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def region_zone() -> ZoneInfo:
    """The configured zone, for code that has no settings at hand (a page's template filter)."""
    return zone_named(Settings().time_zone)


def local_today(zone: ZoneInfo | None = None, clock: Clock = utc_now) -> date:
    """Today in the region: the local date of ``clock()``."""
    return to_local(clock(), zone).date()


def today_in(zone: ZoneInfo, clock: Clock = utc_now) -> Callable[[], date]:
    """A "today" for a service: the region's date of its clock's moment."""
    return lambda: local_today(zone, clock)


def to_local(moment: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored moment (naive means UTC) in the region's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or region_zone())


def parse_shown(value: date | datetime | str) -> date | datetime:
    """A date stays a date; a timestamp (ISO text, ``Z`` allowed) becomes a moment."""
    if isinstance(value, datetime | date):
        return value
    text = value.strip()
    if len(text) <= 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_date(value: date | datetime | str | None, zone: ZoneInfo | None = None) -> str:
    """``07.12.2026``: a date as is, a moment by its local date; «—» for nothing."""
    if value is None or value == "":
        return "—"
    shown = parse_shown(value)
    if isinstance(shown, datetime):
        shown = to_local(shown, zone).date()
    return f"{shown:%d.%m.%Y}"


def format_datetime(value: datetime | str | None, zone: ZoneInfo | None = None) -> str:
    """``07.12.2026 02:30`` in the region's zone; «—» for nothing."""
    if value is None or value == "":
        return "—"
    shown = parse_shown(value)
    if not isinstance(shown, datetime):
        return f"{shown:%d.%m.%Y}"
    return f"{to_local(shown, zone):%d.%m.%Y %H:%M}"
