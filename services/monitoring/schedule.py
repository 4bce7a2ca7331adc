"""What a level's reporting schedule may say, and the rules a region's calendar must follow.

Every report covers a school-year period (``shared.periods``): the school year or one of its
halves. A deadline names its period, or — written as a plain ``MM-DD`` — covers the half that
contains it. The rules, each refused with its own code and a Russian message (422):

- a report's deadline lies inside its period or soon after it (``GRACE_DAYS``), never before;
- one level reports once per period (no two «1-е полугодие» reports of one organisation);
- for the same period each level's deadline is later than the level below's (schools, then the
  municipality that sums them up, then the region).
No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared import periods
from shared.errors import DomainError

Part = Literal["year", "1", "2"]
#: How long after its period a report may fall due (a school year's report in the autumn after).
GRACE_DAYS = 120
LEVEL_ORDER = ("organisation", "municipality", "region")
LEVEL_NAMES = {"organisation": "организаций", "municipality": "муниципалитетов",
               "region": "региона"}
PART_NAMES = {"year": "учебный год", "1": "1-е полугодие", "2": "2-е полугодие"}
ON_THE_DAY = 0


#: A day of a year without 29 February, as ``MM-DD`` (the OpenAPI document's statement of it).
MONTH_DAY_PATTERN = ("^(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
                     "|(?:0[13578]|1[02])-31)$")


def parse_month_day(text: str) -> tuple[int, int]:
    """``"12-20"`` → (12, 20). 29 February is refused: most years have no such deadline."""
    if not re.fullmatch(MONTH_DAY_PATTERN, text):
        raise ValueError(f"срок «{text}» должен быть датой вида ММ-ДД (например, 12-20)")
    month, day = (int(part) for part in text.split("-"))
    return month, day


def _day_month(text: str) -> str:
    month, day = parse_month_day(text)
    return f"{day:02d}.{month:02d}"


def padded_month_day(text: str) -> str:
    """``"5-31"`` → ``"05-31"``: a deadline as the calendar took it before it had to be ``MM-DD``
    (a calendar saved then keeps that form); anything else is returned as it is."""
    try:
        month, day = (int(part) for part in text.split("-"))
    except ValueError:
        return text
    return f"{month:02d}-{day:02d}"


class Deadline(BaseModel):
    """One yearly report of a level: when it is due and which period it covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    due: str = Field(json_schema_extra={"pattern": MONTH_DAY_PATTERN})
    period: Part

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Either form a client may send (``_plain``): ``MM-DD``, or ``{due, period}``."""
        return {"anyOf": [{"type": "string", "pattern": MONTH_DAY_PATTERN}, handler(core_schema)]}

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        """A plain ``"MM-DD"`` covers the half of the school year that contains it."""
        if isinstance(value, str):
            month, _ = parse_month_day(value)
            return {"due": value, "period": "1" if month >= 9 else "2"}
        return value

    @field_validator("due")
    @classmethod
    def _due(cls, value: str) -> str:
        parse_month_day(value)
        return value

    def period_in(self, start_year: int) -> periods.Period:
        return periods.Period(start_year, self.period)

    def _candidates(self, start_year: int) -> list[date]:
        period = self.period_in(start_year)
        month, day = parse_month_day(self.due)
        last = period.end + timedelta(days=GRACE_DAYS)
        return [d for year in (period.start.year, period.start.year + 1)
                if period.start <= (d := date(year, month, day)) <= last]

    def date_in(self, start_year: int) -> date:
        """The latest ``due`` day from the period's start to ``GRACE_DAYS`` after its end: a
        year's report «09-15» is due in the September after that year, not in its first weeks."""
        found = self._candidates(start_year)
        if not found:
            raise ValueError(f"срок {self.due} не подходит к периоду {self.period}")
        return found[-1]

    def fits(self) -> bool:
        """Due inside the period or at most ``GRACE_DAYS`` after it (the same for every year)."""
        return bool(self._candidates(2001))


class LevelSchedule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Each yearly report: ``MM-DD`` (the half containing it) or {due, period}.
    deadlines: tuple[Deadline, ...] = Field(min_length=1)
    #: Days before a deadline a reminder goes out; one also goes out on the day.
    reminders: tuple[int, ...] = Field(default=(14, 7, 1), json_schema_extra={
        "items": {"type": "integer", "minimum": 0, "maximum": 180}})

    @field_validator("deadlines")
    @classmethod
    def _deadlines(cls, value: tuple[Deadline, ...]) -> tuple[Deadline, ...]:
        if len({d.due for d in value}) != len(value):
            raise ValueError("один и тот же срок указан дважды")
        return value

    @field_validator("reminders")
    @classmethod
    def _reminders(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 <= days <= 180 for days in value):
            raise ValueError("напоминание — от 0 до 180 дней до срока")
        return tuple(sorted(set(value), reverse=True))

    @property
    def notice_days(self) -> tuple[int, ...]:
        return tuple(sorted({*self.reminders, ON_THE_DAY}))


def default_levels() -> dict[str, LevelSchedule]:
    """Twice a year, as ЦМН monitoring runs: schools by 20.12 and 31.05, municipalities by 25.12
    and 30.06 (after their schools, for the same half of the school year)."""
    return {
        "organisation": LevelSchedule(deadlines=("12-20", "05-31")),  # type: ignore[arg-type]
        "municipality": LevelSchedule(deadlines=("12-25", "06-30")),  # type: ignore[arg-type]
    }


def check_rules(levels: Mapping[str, LevelSchedule]) -> None:
    """Refuse a calendar that breaks a rule (see the module's docstring)."""
    for level, schedule in levels.items():
        for deadline in schedule.deadlines:
            if not deadline.fits():
                raise DomainError(
                    "CALENDAR_DEADLINE_OUTSIDE_PERIOD",
                    f"Срок {_day_month(deadline.due)} ({LEVEL_NAMES[level]}) не подходит к "
                    f"периоду «{PART_NAMES[deadline.period]}»: отчёт сдаётся в своём периоде или "
                    f"не позднее чем через {GRACE_DAYS} дней после его окончания", 422)
        parts = [d.period for d in schedule.deadlines]
        for part in set(parts):
            if parts.count(part) > 1:
                raise DomainError(
                    "CALENDAR_DUPLICATE_PERIOD",
                    f"У {LEVEL_NAMES[level]} два отчёта за один период «{PART_NAMES[part]}»: "
                    "за каждый период сдаётся один отчёт", 422)
    configured = [level for level in LEVEL_ORDER if level in levels]
    for below, above in zip(configured, configured[1:], strict=False):
        for upper in levels[above].deadlines:
            for lower in levels[below].deadlines:
                if upper.period == lower.period and upper.date_in(2001) <= lower.date_in(2001):
                    raise DomainError(
                        "CALENDAR_LEVEL_ORDER",
                        f"Срок {LEVEL_NAMES[above]} ({_day_month(upper.due)}) за период "
                        f"«{PART_NAMES[upper.period]}» должен быть позже срока "
                        f"{LEVEL_NAMES[below]} ({_day_month(lower.due)})", 422)
