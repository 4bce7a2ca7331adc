"""Roadmap tracking deadline by deadline: a yearly item is done year by year, each year comes due
and can be overdue on its own, and events stored before deadlines were named still read."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.documents.domain import Mark, TrackedRoadmap
from shared.errors import DomainError

META: dict[str, Any] = {"actor": {}, "org": {}, "correlation_id": str(uuid4()), "causation_id": None}
YEARLY = ["2022-06-30", "2023-06-30", "2024-06-30"]
EVIDENCE_2022, EVIDENCE_2023 = uuid4(), uuid4()


def roadmap() -> TrackedRoadmap:
    entries = [
        {"activity": "Отчёт о реализации программы", "deadline_text": "Июнь ежегодно",
         "due_dates": YEARLY, "continuous": False},
        {"activity": "Сопровождение пар", "deadline_text": "постоянно", "due_dates": [],
         "continuous": True},
    ]
    return TrackedRoadmap(roadmap_id=uuid4(), title="Дорожная карта на 2022-2024 гг.",
                          period_start="2022-01-01", period_end="2024-12-31", items=2,
                          entries=entries, source_name="карта.txt", meta=META)


def marks(aggregate: TrackedRoadmap, item: str = "1") -> list[tuple[str, str, UUID | None]]:
    return [(d, m.status, m.evidence_document_id) for d, m in aggregate.marks[item].items()]


def test_evidence_for_one_year_closes_that_year_only() -> None:
    aggregate = roadmap()
    assert aggregate.update_item("1", "done", EVIDENCE_2022, META)
    assert marks(aggregate) == [("2022-06-30", "done", EVIDENCE_2022),
                                ("2023-06-30", "planned", None), ("2024-06-30", "planned", None)]
    assert aggregate.summary("1") == Mark("planned")
    # A retried request (same evidence) does not close 2023 as well.
    assert not aggregate.update_item("1", "done", EVIDENCE_2022, META)

    # 2023 comes due: reminders for it, then overdue once it passed; 2024 is not touched.
    assert aggregate.due_reminders(date(2023, 6, 16)) == [("1", "2023-06-30", 14, 14)]
    assert aggregate.mark_overdue(date(2023, 7, 1), META) == [("1", "2023-06-30")]
    assert aggregate.summary("1") == Mark("overdue")
    assert aggregate.mark_overdue(date(2023, 7, 1), META) == []

    assert aggregate.update_item("1", "done", EVIDENCE_2023, META)  # the earliest not done: 2023
    assert [m[1] for m in marks(aggregate)] == ["done", "done", "planned"]
    assert aggregate.due_reminders(date(2024, 6, 29)) == [("1", "2024-06-30", 1, 1)]
    assert aggregate.update_item("1", "done", uuid4(), META, due_date="2024-06-30")
    assert aggregate.summary("1").status == "done"
    with pytest.raises(DomainError) as all_done:
        aggregate.update_item("1", "done", uuid4(), META)
    assert (all_done.value.code, all_done.value.status) == ("ROADMAP_ITEM_ALREADY_DONE", 409)
    assert aggregate.due_reminders(date(2024, 6, 29)) == []


def test_a_named_deadline_is_marked_and_must_be_the_items() -> None:
    aggregate = roadmap()
    assert aggregate.update_item("1", "in_progress", None, META, due_date="2023-06-30")
    assert [m[1] for m in marks(aggregate)] == ["planned", "in_progress", "planned"]
    assert aggregate.summary("1") == Mark("planned")  # 2022 is still the next deadline
    with pytest.raises(DomainError) as unknown:
        aggregate.update_item("1", "in_progress", None, META, due_date="2023-07-01")
    assert (unknown.value.code, unknown.value.status) == ("ROADMAP_DUE_DATE_NOT_FOUND", 422)
    with pytest.raises(DomainError) as undated:
        aggregate.update_item("2", "in_progress", None, META, due_date="2023-06-30")
    assert undated.value.code == "ROADMAP_DUE_DATE_NOT_FOUND"
    # An item without deadlines is tracked as a whole, never overdue nor reminded.
    assert aggregate.update_item("2", "in_progress", None, META)
    assert aggregate.summary("2") == Mark("in_progress")
    assert ("2", "") not in aggregate.mark_overdue(date(2030, 1, 1), META)


def test_events_stored_before_deadlines_were_named_read_as_the_earliest_open_one() -> None:
    aggregate = roadmap()
    aggregate.update_item("1", "done", EVIDENCE_2022, META)
    aggregate.mark_overdue(date(2023, 7, 1), META)
    events = aggregate.collect_events()
    for stored in events[1:]:
        del stored.__dict__["due_date"]  # as version 1 stored them: no such attribute
    replayed: Any = None
    for stored in events:
        replayed = stored.mutate(replayed)
    assert marks(replayed) == [("2022-06-30", "done", EVIDENCE_2022),
                               ("2023-06-30", "overdue", None), ("2024-06-30", "planned", None)]
