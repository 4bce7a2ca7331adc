"""The documents service's entries in the event catalogue: a rejection has its own event, and a
roadmap update names its deadline from version 2 while version 1 still reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.events import (
    CATALOGUE,
    PracticeRejected,
    RoadmapItemUpdated,
    public_payload,
    read_payload,
)


def envelope(event_type: str, version: int, payload: dict[str, object]) -> Envelope:
    org = OrgPath.parse("demo/m1/school-a")
    return Envelope(event_id=uuid.uuid4(), type=event_type, schema_version=version,
                    occurred_at=datetime.now(UTC), org=org,
                    actor=Actor(user="m", role=Role.MUNICIPAL, scope=OrgPath.parse("demo/m1")),
                    correlation_id=uuid.uuid4(), source="documents", source_position=1,
                    aggregate_id=uuid.uuid4(), aggregate_version=2, payload=payload)


def test_a_rejection_is_its_own_event_and_its_comment_stays_home() -> None:
    assert CATALOGUE["PracticeRejected"].model is PracticeRejected
    practice = str(uuid.uuid4())
    published = public_payload("PracticeRejected", {
        "practice_id": practice, "form": "учитель – ученик", "tags": ["адаптация"],
        "comment": "Иванов Пётр против"})
    assert published == {"practice_id": practice, "form": "учитель – ученик", "tags": ["адаптация"]}


def test_roadmap_updates_of_version_one_read_without_a_deadline() -> None:
    assert CATALOGUE["RoadmapItemUpdated"].version == 2
    fields = {"roadmap_id": str(uuid.uuid4()), "item_id": "3", "status": "done",
              "evidence_document_id": str(uuid.uuid4())}
    old = read_payload(envelope("RoadmapItemUpdated", 1, fields))
    assert isinstance(old, RoadmapItemUpdated) and old.due_date is None
    current = read_payload(envelope("RoadmapItemUpdated", 2, {**fields, "due_date": "2023-06-30"}))
    assert isinstance(current, RoadmapItemUpdated) and current.due_date == "2023-06-30"
