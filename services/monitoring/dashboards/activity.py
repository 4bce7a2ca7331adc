"""KPI numerators per school-year period: distinct people active in the period.

A person is active in a period when something of their pair is dated in it: the pair formed,
a meeting held, the pair completed or dissolved. Each (person, period, scope) is counted once —
at the organisation of the pair and at every level above it — so a mentor with pairs in two
schools counts at each school and once at their municipality and region, not twice. A consent
withdrawn on day W takes the person out of every period that has not ended before W (history
keeps the periods that had), and they are never counted again.

The metric of a period is the catalogue's numerator with the period's code: for instance
``mentees.students_10_19@2025/26`` (the school year) and ``…@2025/26-1`` (its first half).
No I/O here; the fold keeps the state rows (who, act, wd) and adds the counts per scope.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

from services.monitoring import kpi
from shared import periods

from .tables import OrgKey, key_scopes

PERIOD_MARK = "@"
Scoped = Callable[[str, str, "str | None", str, float], None]


def period_metric(metric: str, period: str) -> str:
    return f"{metric}{PERIOD_MARK}{period}"


def periods_of(day: date) -> tuple[periods.Period, periods.Period]:
    """The school year and the half a day falls in."""
    return periods.school_year_of(day), periods.half_of(day)


def person_figures(who: list[Any], school_year: periods.Period) -> tuple[str, ...]:
    """The KPI numerators a person adds to in a school year (age as the contingent counts it)."""
    role, category, birth_year = who
    person = SimpleNamespace(category=category, birth_year=birth_year)
    year = f"{school_year.start_year}/{school_year.start_year + 1}"
    figures = kpi.mentor_figures if role == "mentor" else kpi.mentee_figures
    return figures(person, year)  # type: ignore[arg-type]


def mark_active(state: dict[str, dict[str, Any]], put: Callable[[str, str, Any], None],
                add: Scoped, person: str, org: OrgKey, day: date) -> None:
    """Count ``person`` as active on ``day`` at ``org`` and above, once per period and scope."""
    who = state["who"].get(person)
    withdrawn = state["wd"].get(person)
    if who is None or (withdrawn is not None and date.fromisoformat(withdrawn) <= day):
        return
    school_year, half = periods_of(day)
    figures = person_figures(who, school_year)
    if not figures:
        return
    counted: list[list[Any]] = state["act"].get(person) or []
    seen = {(c[0], c[2]) for c in counted}
    added = []
    for period in (school_year, half):
        for level, scope, parent in key_scopes(org):
            if (period.code, scope) in seen:
                continue
            for metric in figures:
                add(level, scope, parent, period_metric(metric, period.code), 1)
            added.append([period.code, level, scope, parent, list(figures)])
    if added:
        put("act", person, counted + added)


def withdraw(state: dict[str, dict[str, Any]], put: Callable[[str, str, Any], None],
             add: Scoped, person: str, day: date) -> None:
    """Take the person out of every period not ended before ``day``; past periods keep them."""
    if person in state["wd"]:
        return
    put("wd", person, day.isoformat())
    for code, level, scope, parent, figures in state["act"].get(person) or []:
        if periods.parse(code).end >= day:
            for metric in figures:
                add(level, scope, parent, period_metric(metric, code), -1)


def latest_school_year(counts: dict[str, float] | Any) -> str | None:
    """The latest school year a scope has activity in (the period a dashboard shows unless
    asked for another): the same on the live tables and in a replay of the log."""
    years = [m.rpartition(PERIOD_MARK)[2] for m, v in counts.items()
             if v and PERIOD_MARK in m and "-" not in m.rpartition(PERIOD_MARK)[2]]
    return max(years) if years else None
