"""The reporting calendar walked day by day, with every expected notice written out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from services.monitoring import calendar as cal
from services.monitoring.calendar import CalendarConfig, CalendarTicker, MonitoringCalendarStore
from services.monitoring.views import CalendarConfigs, calendar_configs
from shared.errors import DomainError
from shared.settings import Settings

ORGS: dict[cal.Level, list[str]] = {
    "organisation": ["demo/m1/s1", "demo/m1/s2"],
    "municipality": ["demo/m1"],
}
S1 = "org:demo/m1/s1:2025-12-20"
S2 = "org:demo/m1/s2:2025-12-20"
M1 = "mun:demo/m1:2025-12-25"


def moscow_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


def walk(config: CalendarConfig, first: date, last: date,
         submissions: dict[date, str]) -> list[tuple[str, str, int, bool]]:
    """Tick once a day; returns (day, notice key, days left, overdue) in emission order."""
    emitted: set[str] = set()
    submitted: set[str] = set()
    seen = []
    day = first
    while day <= last:
        if day in submissions:
            submitted.add(submissions[day])
        for notice in cal.due_notices(config, ORGS, submitted, emitted, moscow_noon(day)):
            emitted.add(notice.key)
            seen.append((day.isoformat(), notice.key, notice.payload.days_left,
                         notice.payload.overdue))
        day += timedelta(days=1)
    return seen


def test_default_calendar_over_a_december() -> None:
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    seen = walk(config, date(2025, 11, 1), date(2026, 1, 10),
                submissions={date(2025, 12, 15): S1})
    assert seen == [
        ("2025-12-06", f"{S1}:14", 14, False),
        ("2025-12-06", f"{S2}:14", 14, False),
        ("2025-12-11", f"{M1}:14", 14, False),
        ("2025-12-13", f"{S1}:7", 7, False),
        ("2025-12-13", f"{S2}:7", 7, False),
        ("2025-12-18", f"{M1}:7", 7, False),
        # s1 submitted on the 15th: nothing more for it
        ("2025-12-19", f"{S2}:1", 1, False),
        ("2025-12-20", f"{S2}:0", 0, False),
        ("2025-12-21", f"{S2}:overdue", -1, True),
        ("2025-12-24", f"{M1}:1", 1, False),
        ("2025-12-25", f"{M1}:0", 0, False),
        ("2025-12-26", f"{M1}:overdue", -1, True),
    ]


def test_notice_payload_and_report_identity() -> None:
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    [first, _] = cal.due_notices(config, ORGS, set(), set(), moscow_noon(date(2025, 12, 6)))
    assert first.org.model_dump() == {"region": "demo", "municipality": "m1", "organisation": "s1"}
    assert first.payload.model_dump() == {
        "report_id": S1, "level": "organisation", "period": "2025/26-1", "deadline": "2025-12-20",
        "days_left": 14, "overdue": False}
    assert cal.parse_report_id(S1) == ("organisation", "demo/m1/s1", date(2025, 12, 20))
    assert cal.report_id_of("municipality", "demo/m1", date(2026, 6, 30)) == \
        "mun:demo/m1:2026-06-30"
    assert cal.period_of(date(2026, 5, 31)) == "2025/26-2"
    with pytest.raises(DomainError) as caught:
        cal.parse_report_id("school 1 december")
    assert caught.value.code == "INVALID_REPORT_ID"


def test_emitting_is_idempotent() -> None:
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    now = moscow_noon(date(2025, 12, 13))
    notices = cal.due_notices(config, ORGS, set(), set(), now)
    assert [n.key for n in notices] == [f"{S1}:7", f"{S2}:7", f"{M1}:14"]
    emitted = {n.key for n in notices}
    assert cal.due_notices(config, ORGS, set(), emitted, now) == []
    assert cal.due_notices(config, ORGS, set(), emitted, now + timedelta(hours=5)) == []


def test_a_ticker_back_after_days_sends_the_latest_reminder_only() -> None:
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    back = cal.due_notices(config, ORGS, set(), set(), moscow_noon(date(2025, 12, 19)))
    # 14- and 7-day reminders of the organisations are stale; the municipality is 6 days out
    assert [(n.key, n.payload.days_left) for n in back] == [
        (f"{S1}:1", 1), (f"{S2}:1", 1), (f"{M1}:7", 6)]
    # the municipality, 2 days out, gets its 7-day reminder now and the 1-day one tomorrow
    late = cal.due_notices(config, ORGS, set(), set(), moscow_noon(date(2025, 12, 23)))
    assert [(n.key, n.payload.days_left, n.payload.overdue) for n in late] == [
        (f"{S1}:overdue", -3, True), (f"{S2}:overdue", -3, True), (f"{M1}:7", 2, False)]


def test_deadline_ends_at_local_midnight() -> None:
    # 21:30 UTC on 20 December is already the 21st in Moscow, still the 20th in Kaliningrad
    now = datetime(2025, 12, 20, 21, 30, tzinfo=UTC)
    only_s1 = {"organisation": ["demo/m1/s1"]}
    moscow = CalendarConfig(region="demo", start=date(2025, 9, 1))
    kaliningrad = CalendarConfig(region="demo", timezone="Europe/Kaliningrad",
                                 start=date(2025, 9, 1))
    assert [n.key for n in cal.due_notices(moscow, only_s1, set(), set(), now)] == [
        f"{S1}:overdue"]
    assert [n.key for n in cal.due_notices(kaliningrad, only_s1, set(), set(), now)] == [
        f"{S1}:0"]
    with pytest.raises(ValueError):
        cal.due_notices(moscow, only_s1, set(), set(), datetime(2025, 12, 20))


def test_overdue_shows_at_the_level_above() -> None:
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    now = moscow_noon(date(2025, 12, 27))
    late = cal.overdue(config, ORGS, {S1}, now)
    assert [o.to_json() for o in late] == [
        {"report_id": S2, "level": "organisation", "path": "demo/m1/s2", "reported_to": "demo/m1",
         "period": "2025/26-1", "period_label": "1-е полугодие 2025/26 учебного года",
         "deadline": "2025-12-20", "days_overdue": 7},
        {"report_id": M1, "level": "municipality", "path": "demo/m1", "reported_to": "demo",
         "period": "2025/26-1", "period_label": "1-е полугодие 2025/26 учебного года",
         "deadline": "2025-12-25", "days_overdue": 2},
    ]
    # the municipality sees its school's report; the region sees both; another municipality none
    assert [o.report.report_id for o in cal.overdue(config, ORGS, {S1}, now, under="demo/m1")] == [S2]
    assert len(cal.overdue(config, ORGS, {S1}, now, under="demo")) == 2
    assert cal.overdue(config, ORGS, {S1}, now, under="demo/m2") == []
    assert cal.overdue(config, ORGS, {S1, S2, M1}, now) == []
    # on the deadline day itself nothing is overdue yet
    assert cal.overdue(config, ORGS, set(), moscow_noon(date(2025, 12, 20))) == []


def test_without_a_start_date_the_past_year_is_overdue_for_a_new_region() -> None:
    config = CalendarConfig(region="demo")
    late = cal.overdue(config, ORGS, set(), moscow_noon(date(2025, 9, 15)))
    assert [o.report.report_id for o in late] == [
        "org:demo/m1/s1:2024-12-20", "org:demo/m1/s2:2024-12-20", "mun:demo/m1:2024-12-25",
        "org:demo/m1/s1:2025-05-31", "org:demo/m1/s2:2025-05-31", "mun:demo/m1:2025-06-30"]
    started = CalendarConfig(region="demo", start=date(2025, 9, 1))
    assert cal.overdue(started, ORGS, set(), moscow_noon(date(2025, 9, 15))) == []


def test_a_period_that_ended_before_an_organisation_was_registered_is_not_owed() -> None:
    config = CalendarConfig(region="demo")
    # s2 registered on 31.12.2024 at 22:00 Moscow time (19:00 UTC): that half is still its own;
    # the municipality was registered after the first half ended, in the region's time.
    registered = {"demo/m1/s2": datetime(2024, 12, 31, 19, tzinfo=UTC),
                  "demo/m1": datetime(2024, 12, 31, 21, 30, tzinfo=UTC)}
    late = cal.overdue(config, ORGS, set(), moscow_noon(date(2025, 9, 15)), registered=registered)
    assert [o.report.report_id for o in late] == [
        "org:demo/m1/s1:2024-12-20", "org:demo/m1/s2:2024-12-20",
        "org:demo/m1/s1:2025-05-31", "org:demo/m1/s2:2025-05-31", "mun:demo/m1:2025-06-30"]
    notices = cal.due_notices(config, ORGS, set(), set(), moscow_noon(date(2025, 9, 15)),
                              registered)
    assert "mun:demo/m1:2024-12-25:overdue" not in {n.key for n in notices}


def test_each_level_is_configurable() -> None:
    config = cal.parse_calendar({
        "region": "demo", "start": "2025-09-01",
        "levels": {
            "organisation": {"deadlines": ["12-10"], "reminders": [3]},
            "region": {"deadlines": ["01-15"], "reminders": [10, 2]},
        }})
    orgs: dict[cal.Level, list[str]] = {**ORGS, "region": ["demo"]}
    emitted: set[str] = set()
    keys = []
    day = date(2025, 12, 1)
    while day <= date(2026, 1, 20):
        for notice in cal.due_notices(config, orgs, set(), emitted, moscow_noon(day)):
            emitted.add(notice.key)
            keys.append((day.isoformat(), notice.key))
        day += timedelta(days=1)
    assert keys == [
        ("2025-12-07", "org:demo/m1/s1:2025-12-10:3"), ("2025-12-07", "org:demo/m1/s2:2025-12-10:3"),
        ("2025-12-10", "org:demo/m1/s1:2025-12-10:0"), ("2025-12-10", "org:demo/m1/s2:2025-12-10:0"),
        ("2025-12-11", "org:demo/m1/s1:2025-12-10:overdue"),
        ("2025-12-11", "org:demo/m1/s2:2025-12-10:overdue"),
        ("2026-01-05", "reg:demo:2026-01-15:10"), ("2026-01-13", "reg:demo:2026-01-15:2"),
        ("2026-01-15", "reg:demo:2026-01-15:0"), ("2026-01-16", "reg:demo:2026-01-15:overdue"),
    ]
    # the municipality has no schedule in this region: it reports nothing
    assert not any(key.startswith("mun:") for _, key in keys)


@pytest.mark.parametrize("data, field", [
    ({"region": "demo", "levels": {"organisation": {"deadlines": ["02-30"]}}}, "deadlines"),
    ({"region": "demo", "levels": {"organisation": {"deadlines": ["02-29"]}}}, "deadlines"),
    ({"region": "demo", "levels": {"organisation": {"deadlines": ["12-20"],
                                                    "reminders": [-1]}}}, "reminders"),
    ({"region": "demo", "timezone": "Mars/Olympus"}, "timezone"),
    ({"region": "demo", "levels": {"school": {"deadlines": ["12-20"]}}}, "levels"),
])
def test_bad_calendar_is_refused_in_russian(data: dict[str, object], field: str) -> None:
    with pytest.raises(DomainError) as caught:
        cal.parse_calendar(data)
    assert (caught.value.code, caught.value.status) == ("INVALID_CALENDAR", 422)
    assert caught.value.message == "Календарь отчётности заполнен с ошибками"
    assert any(field in d["field"] for d in caught.value.details)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_ticker_stores_notices_once_even_across_restarts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", token_secret="x" * 32)
    store = MonitoringCalendarStore(settings)
    clock = Clock(moscow_noon(date(2025, 12, 13)))
    config = CalendarConfig(region="demo", start=date(2025, 9, 1))
    woken = []
    ticker = CalendarTicker(store, config, lambda: ORGS, clock, on_stored=lambda: woken.append(1))
    assert [n.key for n in ticker.tick()] == [f"{S1}:7", f"{S2}:7", f"{M1}:14"]
    assert ticker.tick() == [] and len(woken) == 1

    restarted = CalendarTicker(MonitoringCalendarStore(settings), config, lambda: ORGS, clock)
    assert restarted.tick() == []
    restarted.record_submitted(S2)
    clock.now = moscow_noon(date(2025, 12, 21))
    assert [n.key for n in restarted.tick()] == [f"{S1}:overdue", f"{M1}:7"]
    assert [o.report.report_id for o in restarted.overdue()] == [S1]

    types = [e.type for e in store.envelopes_after(0, 100)]
    assert types == ["ReportingCalendarOpened", "ReportDue", "ReportDue", "ReportDue",
                     "ReportDue", "ReportDue"]
    store.close()


def test_a_calendar_stored_with_unpadded_deadlines_still_reads(tmp_path: Path) -> None:
    """Before deadlines had to be ``MM-DD`` the region could save ``5-31``: the saved calendar
    keeps working (its reminders, its page) rather than failing on every read."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'calendar.db'}")
    configs = CalendarConfigs(engine)
    saved = CalendarConfig(region="demo").model_dump(mode="json")
    saved["levels"]["organisation"]["deadlines"] = [{"due": "12-9", "period": "1"},
                                                    {"due": "5-31", "period": "2"}]
    with engine.begin() as conn:
        conn.execute(calendar_configs.insert().values(region="demo", config=orjson.dumps(saved)))
    config = configs.get("demo")
    assert config is not None
    assert [d.due for d in config.levels["organisation"].deadlines] == ["12-09", "05-31"]
    engine.dispose()
