"""Two histories "as of T", over a real NATS: a meeting recorded after a report was submitted,
dated before it, leaves "as shown on T" as it was and changes "as known today" — against
figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.auth import Role
from tests.conftest import wait_until
from tests.integration.monitoring.test_school_year import A, Year
from tests.integration.monitoring.test_school_year import year as year  # noqa: F401 - the fixture


def meetings(dashboard: dict) -> tuple[int, dict[str, int]]:  # type: ignore[type-arg]
    held = dashboard["meetings"]
    return held["held"], {m["month"]: m["meetings"] for m in held["by_month"]}


def test_a_back_dated_meeting_changes_what_is_known_not_what_was_shown(year: Year) -> None:  # noqa: F811
    y = year
    y.organisation("demo", "region", None)
    y.organisation("m1", "municipality", "demo")
    y.organisation("school-a", "school", "m1")
    mentor = y.person("mentor", A, "teacher", "1985")
    mentee = y.person("mentee", A, "student", "2013", grade=7)
    programme = y.programme(A, "учитель – ученик")
    y.settle()
    wait_until(lambda: y.pairing.pools is not None and y.pairing.pools.position("registry")
               >= y.registry.service.events.max_position(), message="pairing pools")
    y.clock.set_day(date(2025, 9, 8))
    pair = y.pair(A, programme, mentor, mentee)
    y.meeting(A, pair, "intro", date(2025, 9, 15))
    y.meeting(A, pair, "trial", date(2025, 10, 6))
    y.submit_report("org:demo/m1/school-a:2025-H1", A)
    y.settle()
    live_then = y.dashboard(A)
    t = datetime.now(UTC)  # the report is in; what the dashboards showed now is "shown on T"

    # Recorded after T, dated before it: a meeting the curator had forgotten.
    y.meeting(A, pair, "planning", date(2025, 10, 20))
    y.settle()

    def as_of(moment: str, basis: str) -> dict:  # type: ignore[type-arg]
        return y.dashboard(A, as_of=moment, basis=basis)

    # By hand: two meetings were shown on T (one in September, one in October) ...
    assert meetings(live_then) == (2, {"2025-09": 1, "2025-10": 1})
    assert meetings(as_of(t.isoformat(), "shown")) == (2, {"2025-09": 1, "2025-10": 1})
    assert meetings(as_of(t.isoformat(), "shown")) == meetings(y.dashboard(A, as_of=t.isoformat()))
    # ... three are known today to have been held by T, two of them in October.
    assert meetings(as_of(t.isoformat(), "known")) == (3, {"2025-09": 1, "2025-10": 2})
    assert meetings(y.dashboard(A)) == (3, {"2025-09": 1, "2025-10": 2})
    # As of 30.09.2025 (the end of that day in Moscow): nothing had been appended yet, but one
    # meeting is known today to have been held by then.
    assert meetings(as_of("2025-09-30", "shown")) == (0, {})
    assert meetings(as_of("2025-09-30", "known")) == (1, {"2025-09": 1})

    # The auditor's replay names its basis and gives the same figures.
    replay = y.get("/audit/replay", "demo", Role.AUDITOR, as_of=t.isoformat(), basis="known",
                   org=A)
    assert replay.status_code == 200, replay.text
    body = replay.json()
    assert body["basis"] == "known" and meetings(body["dashboards"][A])[0] == 3
    wrong = y.get("/monitoring/dashboard", "demo", org=A, as_of=t.isoformat(), basis="later")
    assert wrong.status_code == 422 and wrong.json()["code"] == "INVALID_BASIS"
