"""School-year periods, the unit of every KPI and report: the school year (01.09–31.08) and its
halves (01.09–31.12 and 01.01–31.08), named as people name them. No I/O here.

A period's code is stable text for ids and events: ``2026/27`` (the school year), ``2026/27-1``
and ``2026/27-2`` (its halves); ``label`` is what a user reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

Part = Literal["year", "1", "2"]
CODE = re.compile(r"^(\d{4})/(\d{2})(?:-([12]))?$")
ORDINALS = {"1": "1-е полугодие", "2": "2-е полугодие"}


@dataclass(frozen=True, order=True)
class Period:
    """The school year starting on 1 September of ``start_year``, or one of its halves."""

    start_year: int
    part: Part = "year"

    @property
    def school_year(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    @property
    def code(self) -> str:
        return self.school_year if self.part == "year" else f"{self.school_year}-{self.part}"

    @property
    def start(self) -> date:
        return date(self.start_year + (self.part == "2"), 1 if self.part == "2" else 9, 1)

    @property
    def end(self) -> date:
        return date(self.start_year, 12, 31) if self.part == "1" else date(self.start_year + 1, 8, 31)

    @property
    def label(self) -> str:
        """«1-е полугодие 2026/27 учебного года», «2026/27 учебный год»."""
        if self.part == "year":
            return f"{self.school_year} учебный год"
        return f"{ORDINALS[self.part]} {self.school_year} учебного года"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def halves(self) -> tuple[Period, Period]:
        return Period(self.start_year, "1"), Period(self.start_year, "2")


def school_year_of(day: date) -> Period:
    return Period(day.year if day.month >= 9 else day.year - 1)


def half_of(day: date) -> Period:
    return Period(school_year_of(day).start_year, "1" if day.month >= 9 else "2")


def parse(code: str) -> Period:
    """A period from its code; the old «2025-2026» spelling of a school year is accepted."""
    legacy = re.match(r"^(\d{4})[-/](\d{4})$", code)
    if legacy and int(legacy[2]) == int(legacy[1]) + 1:
        return Period(int(legacy[1]))
    calendar_half = re.match(r"^(\d{4})-H([12])$", code)
    if calendar_half:  # the calendar's old names: «2026-H2» closed in December, H1 in May/June
        year = int(calendar_half[1])
        return Period(year, "1") if calendar_half[2] == "2" else Period(year - 1, "2")
    found = CODE.match(code)
    if found is None or (int(found[1]) + 1) % 100 != int(found[2]):
        raise ValueError(f"период «{code}»: ожидается вида 2026/27, 2026/27-1 или 2026/27-2")
    return Period(int(found[1]), found[3] or "year")  # type: ignore[arg-type]


def label(code: str) -> str:
    """A period code's Russian name; a text that is no code (an old report's) stays as it is."""
    try:
        return parse(code).label
    except ValueError:
        return code
