"""The reporting calendar's rules: periods are school-year halves (or the year), a deadline lies
in its period or soon after it, each level reports after the level below for the same period,
and one organisation never gets two reports for one period. Every breach is refused with 422, a
code of its own and a Russian message."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.monitoring import calendar as cal
from services.monitoring.reporting import demo_calendar
from shared import periods
from shared.errors import DomainError

ORGS: dict[cal.Level, list[str]] = {
    "organisation": ["demo/m1/s1", "demo/m1/s2"],
    "municipality": ["demo/m1"],
    "region": ["demo"],
}


def reports(config: cal.CalendarConfig, today: date) -> list[cal.Report]:
    return list(cal.reports_around(config, ORGS, today))


def test_the_default_calendar_reports_each_half_of_the_school_year_in_order() -> None:
    config = cal.parse_calendar({"region": "demo", "start": "2026-09-01"})
    found = reports(config, date(2027, 9, 20))  # the whole school year 2026/27 is behind
    by_level = {(r.level, r.period, r.deadline) for r in found if r.path in ("demo/m1/s1", "demo/m1")}
    assert by_level == {
        ("organisation", "2026/27-1", date(2026, 12, 20)),
        ("organisation", "2026/27-2", date(2027, 5, 31)),
        ("municipality", "2026/27-1", date(2026, 12, 25)),
        ("municipality", "2026/27-2", date(2027, 6, 30)),
    }
    # each deadline inside its period, the municipality's after its schools'
    for report in found:
        assert periods.parse(report.period).contains(report.deadline)
    assert [o.to_json()["period_label"] for o in cal.overdue(
        config, {"organisation": ["demo/m1/s1"]}, set(),
        datetime(2027, 1, 10, 9, tzinfo=UTC))] == ["1-е полугодие 2026/27 учебного года"]


def test_no_organisation_gets_two_reports_for_one_period() -> None:
    for config in (cal.parse_calendar({"region": "demo"}),
                   demo_calendar("demo", date(2026, 12, 7)),
                   demo_calendar("demo", date(2027, 3, 1))):
        found = reports(config, date(2027, 12, 31))
        counted = Counter((r.level, r.path, r.period) for r in found)
        assert counted and max(counted.values()) == 1, config


def test_the_demo_region_follows_the_rules_and_has_something_overdue_and_something_due() -> None:
    today = date(2026, 12, 7)
    config = demo_calendar("demo", today)
    assert config.start == date(2026, 1, 1)  # the previous half of the school year
    now = datetime(2026, 12, 7, 9, tzinfo=UTC)
    late = cal.overdue(config, ORGS, set(), now)
    assert {(o.report.level, o.report.period) for o in late} == {
        ("organisation", "2025/26-2"), ("municipality", "2025/26-2")}
    due = cal.due_notices(config, ORGS, set(), set(), now)
    assert {(n.payload.level, n.payload.period, n.payload.deadline) for n in due
            if not n.payload.overdue} == {("organisation", "2026/27-1", "2026-12-20")}
    # the municipality's deadline for the same period is later than its schools'
    org_deadline = next(r.deadline for r in reports(config, today)
                        if r.level == "organisation" and r.period == "2026/27-1")
    mun_deadline = next(r.deadline for r in reports(config, date(2026, 12, 26))
                        if r.level == "municipality" and r.period == "2026/27-1")
    assert mun_deadline > org_deadline


def test_a_deadline_may_name_its_period_and_fall_after_it() -> None:
    config = cal.parse_calendar({"region": "demo", "start": "2026-09-01", "levels": {
        "organisation": {"deadlines": ["12-20", {"due": "09-15", "period": "year"}]},
        "municipality": {"deadlines": [{"due": "01-15", "period": "1"},
                                       {"due": "09-30", "period": "year"}]}}})
    found = {(r.level, r.period, r.deadline) for r in reports(config, date(2027, 10, 1))
             if r.path in ("demo/m1/s1", "demo/m1")}
    assert ("municipality", "2026/27-1", date(2027, 1, 15)) in found
    assert ("organisation", "2026/27", date(2027, 9, 15)) in found
    assert ("municipality", "2026/27", date(2027, 9, 30)) in found


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("two reports for one half",
     {"organisation": {"deadlines": ["12-20", "11-30"]}}, "CALENDAR_DUPLICATE_PERIOD"),
    ("two year reports",
     {"organisation": {"deadlines": [{"due": "06-15", "period": "year"},
                                     {"due": "08-01", "period": "year"}]}},
     "CALENDAR_DUPLICATE_PERIOD"),
    ("a deadline before its period",
     {"organisation": {"deadlines": [{"due": "08-20", "period": "1"}]}},
     "CALENDAR_DEADLINE_OUTSIDE_PERIOD"),
    ("a deadline long after its period",
     {"organisation": {"deadlines": [{"due": "07-01", "period": "1"}]}},
     "CALENDAR_DEADLINE_OUTSIDE_PERIOD"),
    ("the municipality before its schools",
     {"organisation": {"deadlines": ["12-12"]}, "municipality": {"deadlines": ["12-03"]}},
     "CALENDAR_LEVEL_ORDER"),
    ("the municipality on the schools' day",
     {"organisation": {"deadlines": ["05-31"]}, "municipality": {"deadlines": ["05-31"]}},
     "CALENDAR_LEVEL_ORDER"),
    ("the region before its municipalities",
     {"municipality": {"deadlines": ["06-30"]}, "region": {"deadlines": ["06-20"]}},
     "CALENDAR_LEVEL_ORDER"),
    ("the region before the schools when no municipality reports",
     {"organisation": {"deadlines": ["12-20"]}, "region": {"deadlines": ["12-10"]}},
     "CALENDAR_LEVEL_ORDER"),
]


@pytest.mark.parametrize("levels, code", [(levels, code) for _, levels, code in INVALID],
                         ids=[name for name, _, _ in INVALID])
def test_every_invalid_calendar_is_refused_with_its_code(levels: dict[str, Any], code: str) -> None:
    with pytest.raises(DomainError) as caught:
        cal.parse_calendar({"region": "demo", "levels": levels})
    assert (caught.value.code, caught.value.status) == (code, 422)
    assert any("а" <= ch <= "я" for ch in caught.value.message.lower())  # a Russian sentence


def test_old_period_names_read_as_school_year_halves() -> None:
    assert periods.label("2026-H2") == "1-е полугодие 2026/27 учебного года"
    assert periods.label("2026-H1") == "2-е полугодие 2025/26 учебного года"
    assert periods.label("2026/27") == "2026/27 учебный год"
    assert periods.label("2025-2026") == "2025/26 учебный год"
