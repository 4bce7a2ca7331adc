"""Who gets what: the notifications an event gives, addressed to audiences (a role at a path,
or a participant), with their Russian text; the same event always gives the same ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.monitoring.notifications import rules
from services.monitoring.notifications.store import (
    NotificationInbox,
    create_tables,
    for_reader,
    mark_read,
    sweep,
    unread_count,
)
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope

SCHOOL = "demo/m1/s1"
MENTOR, MENTEE = uuid4(), uuid4()


def envelope(kind: str, payload: dict[str, Any], path: str = SCHOOL,
             aggregate: UUID | None = None) -> Envelope:
    org = OrgPath.parse(path)
    return Envelope(event_id=uuid4(), type=kind, schema_version=99, occurred_at=datetime(
        2025, 12, 6, 9, tzinfo=UTC), org=org, actor=Actor(user="x", role=Role.SYSTEM, scope=org),
        correlation_id=uuid4(), source="monitoring", source_position=1,
        aggregate_id=aggregate or uuid4(), aggregate_version=1, payload=payload)


def due(days_left: int, level: str = "organisation", path: str = SCHOOL) -> Envelope:
    return envelope("ReportDue", {"report_id": f"org:{path}:2025-12-20", "level": level,
                                  "period": "2025/26-1", "deadline": "2025-12-20",
                                  "days_left": days_left, "overdue": days_left < 0}, path)


def test_a_report_coming_due_goes_to_the_curators_of_the_school_only() -> None:
    found = rules.from_event(due(14), [])
    assert [(n.audience, n.title) for n in found] == [
        ("role:curator:demo/m1/s1", "Срок сдачи отчёта — 20.12.2025")]
    assert "нужно сдать до 20.12.2025: до срока осталось 14 дней" in found[0].body
    assert "в разделе «Отчётность»" in found[0].body  # the menu's name for it
    assert "сегодня последний день срока" in rules.from_event(due(0), [])[0].body


def test_an_overdue_report_goes_also_to_the_level_above() -> None:
    school = rules.from_event(due(-1), [])
    assert [n.audience for n in school] == ["role:curator:demo/m1/s1", "role:municipal:demo/m1"]
    assert "просрочка 1 день" in school[0].body
    assert school[1].title == "Просрочен отчёт: s1"  # by its code when its name is unknown
    named = rules.from_event(due(-1), [], {SCHOOL: "МБОУ СОШ № 1"}.get)
    assert named[1].title == "Просрочен отчёт: МБОУ СОШ № 1"
    assert "Отчёт за 1-е полугодие 2025/26 учебного года от «МБОУ СОШ № 1» не сдан" in named[1].body
    municipality = rules.from_event(due(-3, "municipality", "demo/m1"), [])
    assert [n.audience for n in municipality] == ["role:municipal:demo/m1", "role:regional:demo"]
    regional_school = rules.from_event(due(-2, path="demo/_/college-1"), [])
    assert [n.audience for n in regional_school] == ["role:curator:demo/_/college-1",
                                                     "role:regional:demo"]


def test_the_same_event_gives_the_same_ids() -> None:
    event = due(-1)
    assert [n.id for n in rules.from_event(event, [])] == [n.id for n in rules.from_event(event, [])]


def test_pairs_and_meetings_go_to_their_members_and_nobody_else_gets_them() -> None:
    formed = envelope("PairFormed", {"organisation_id": str(uuid4()), "form": "student-student",
                                     "mentor_id": str(MENTOR), "mentee_ids": [str(MENTEE)]})
    invited = rules.from_event(formed, [])
    assert [n.audience for n in invited] == [f"person:{MENTOR}", f"person:{MENTEE}"]
    # The form in words, as on every page, not the code the event carries.
    assert "пару (форма «Ученик – ученик»)" in invited[0].body and "student" not in invited[0].body
    held = envelope("MeetingHeld", {"kind": "intro", "date": "2025-12-05", "duration_minutes": 45,
                                    "format": "online", "number": 1})
    meeting = rules.from_event(held, [n.audience for n in invited])
    assert meeting[0].title == "Встреча № 1 (знакомство) 05.12.2025"
    # The portal shows this text too, with no attachment: only the letter mentions one.
    assert "вложени" not in meeting[0].body
    assert meeting[0].meeting is not None and meeting[0].meeting["duration_minutes"] == 45
    # The participant's page at this pair, where feedback is given (a page one can open).
    assert meeting[0].link == f"/my#pair-{held.aggregate_id}"
    assert rules.from_event(held, []) == []  # a pair never seen: nobody to tell


def test_inactive_pairs_and_missing_feedback_go_to_the_curator(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    create_tables(engine)
    inbox = NotificationInbox(mail=False)
    pair = uuid4()
    formed = envelope("PairFormed", {"organisation_id": str(uuid4()), "form": "учитель – ученик",
                                     "mentor_id": str(MENTOR), "mentee_ids": [str(MENTEE)]},
                      aggregate=pair)
    held = envelope("MeetingHeld", {"kind": "intro", "date": "2025-12-06", "duration_minutes": 45,
                                    "format": "online", "number": 1}, aggregate=pair)
    answered = envelope("FeedbackSubmitted", {"meeting_number": 1, "side": "mentor",
                                              "satisfaction": 9}, aggregate=pair)
    with engine.begin() as conn:
        inbox.apply(conn, [formed, held, answered])
        inbox.apply(conn, [formed, held, answered])  # replayed in order: nothing twice
    mentor = Actor(user=str(MENTOR), role=Role.PARTICIPANT, scope=OrgPath.parse(SCHOOL))
    mine = rules.audiences_of(mentor.role, mentor.scope, mentor.user)
    assert unread_count(engine, mine, mentor.user) == 2  # the invitation and the meeting

    assert sweep(engine, date(2025, 12, 8), 30, 3, mail=False) == 0  # too early for anything
    assert sweep(engine, date(2025, 12, 9), 30, 3, mail=False) == 1
    assert sweep(engine, date(2026, 1, 10), 30, 3, mail=False) == 1  # a month without meetings
    assert sweep(engine, date(2026, 1, 11), 30, 3, mail=False) == 0  # once per quiet spell
    curator = rules.audiences_of(Role.CURATOR, OrgPath.parse(SCHOOL), "kurator")
    items = for_reader(engine, curator, "kurator")
    assert sorted(i["title"] for i in items) == ["Нет отзыва о встрече", "Пара без встреч"]
    assert any(i["body"].endswith("нет отзыва наставляемого.") for i in items)
    assert {i["link"] for i in items} == {f"/pairs/{pair}"}
    assert mark_read(engine, curator, "kurator", None) == 2
    assert unread_count(engine, curator, "kurator") == 0
    assert unread_count(engine, mine, mentor.user) == 2  # another reader's marks are their own
