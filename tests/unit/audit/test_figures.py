"""The figures a replay gives: the dashboards' fold over a history, by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.monitoring.audit.replay import parse_moment
from services.monitoring.dashboards import DashboardFold, rolled_counts
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.events import schema_version

T0 = datetime(2025, 9, 1, tzinfo=UTC)
ACTOR = Actor(user="curator", role=Role.CURATOR, scope=OrgPath(region="r"))


def envelope(n: int, event_type: str, org: str | OrgPath, payload: dict[str, Any],
             aggregate: int | None = None) -> dict[str, Any]:
    return Envelope(event_id=uuid.UUID(int=n), type=event_type, schema_version=schema_version(event_type),
                    occurred_at=T0 + timedelta(minutes=n), actor=ACTOR,
                    org=org if isinstance(org, OrgPath) else OrgPath.parse(org),
                    correlation_id=uuid.uuid4(), source="pairing", source_position=n,
                    aggregate_id=uuid.UUID(int=aggregate or n), aggregate_version=1,
                    payload=payload).model_dump(mode="json")


def history() -> list[dict[str, Any]]:
    school = str(uuid.uuid4())
    mentee_ids = [str(uuid.uuid4()) for _ in range(3)]
    return [
        envelope(1, "OrganisationRegistered", "r/m1/s1", {"code": "s1", "name": "Школа", "kind": "school"}),
        envelope(2, "OrganisationRegistered", "r/m1/s2", {"code": "s2", "name": "Школа", "kind": "school"}),
        envelope(3, "MenteeRegistered", "r/m1/s1", {"organisation_id": school, "category": "student",
                                                    "grade": 7, "birth_year": 2013, "minor": True}),
        envelope(4, "MentorRegistered", "r/m1/s1", {"organisation_id": school, "category": "teacher",
                                                    "birth_year": 1985}),
        envelope(5, "ConsentRecorded", "r/m1/s1", {"given_by": "guardian"}),
        envelope(6, "ConsentWithdrawn", "r/m1/s1", {}),
        envelope(7, "PairFormed", "r/m1/s1", {"organisation_id": school, "form": "ученик – ученик",
                                              "mentor_id": str(uuid.uuid4()), "mentee_ids": mentee_ids}),
        envelope(8, "PairFormed", "r/m1/s2", {"organisation_id": school, "form": "ученик – ученик",
                                              "mentor_id": str(uuid.uuid4()), "mentee_ids": mentee_ids[:1]}),
        envelope(9, "MeetingHeld", "r/m1/s1", {"kind": "intro", "date": "2025-09-10",
                                               "duration_minutes": 40, "format": "online", "number": 1},
                 aggregate=7),
        envelope(10, "FeedbackSubmitted", "r/m1/s1", {"meeting_number": 1, "side": "mentee",
                                                      "satisfaction": 9}, aggregate=7),
        envelope(11, "FeedbackSubmitted", "r/m1/s1", {"meeting_number": 1, "side": "mentor",
                                                      "satisfaction": 6}, aggregate=7),
        envelope(12, "PairCompleted", "r/m1/s2", {"meetings": 5}, aggregate=8),
        envelope(13, "OrganisationRegistered", OrgPath(region="r", organisation="college"),
                 {"code": "college", "name": "Колледж", "kind": "college"}),
        envelope(14, "ReportDue", "r/m1", {"report_id": "x", "level": "organisation", "period": "p",
                                           "deadline": "2025-12-25", "days_left": 3}),
    ]


def test_each_event_counts_in_its_scope_and_every_scope_above() -> None:
    fold = DashboardFold()
    for event in history():
        fold.apply(event)
    counts, where = rolled_counts(fold)
    assert counts["r/m1/s1"]["mentees.category.student"] == 1
    assert counts["r/m1"]["mentees.category.student"] == 1
    assert counts["r"]["organisations.school"] == 2
    assert counts["r"]["pairs.mentees"] == 4
    assert counts["r/m1/s1"]["pairs.groups"] == 1 and "pairs.groups" not in counts["r/m1/s2"]
    assert counts["r"]["pairs.active"] == 1 and counts["r"]["pairs.completed"] == 1
    assert counts["r"]["consents.given"] == 1 and counts["r"]["consents.withdrawn"] == 1
    assert counts["r/m1/s1"]["meetings.held"] == 1 and counts["r/m1/s1"]["feedback.expected"] == 4
    # An organisation right under the region is its own scope, never a municipality's.
    assert where["r/_/college"] == ("organisation", "r") and "r/college" not in counts
    assert counts["r"]["organisations.college"] == 1
    # The calendar's notices are not figures.
    assert not any(m.startswith("report") for scope in counts.values() for m in scope)


def test_an_old_schema_version_folds_like_the_current_one() -> None:
    current = history()
    old = [dict(e, schema_version=1, payload={**e["payload"], "reason": "по заявлению"})
           if e["type"] == "ConsentWithdrawn" else e for e in current]
    folds = []
    for events in (current, old):
        fold = DashboardFold()
        for event in events:
            fold.apply(event)
        folds.append(rolled_counts(fold)[0])
    assert folds[0] == folds[1]


def test_moments() -> None:
    # A bare date is the end of that day in the region (Moscow, UTC+3 by default).
    assert parse_moment("2025-12-31") == datetime(2025, 12, 31, 20, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("2025-12-31T10:00:00+03:00") == datetime(2025, 12, 31, 7, tzinfo=UTC)
    assert parse_moment("2025-12-31T10:00:00") == datetime(2025, 12, 31, 10, tzinfo=UTC)
