"""The event catalogue: what may leave a service, and old versions read as the current one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.events import CATALOGUE, public_payload, read_payload


def envelope(event_type: str, version: int, payload: dict[str, object]) -> Envelope:
    org = OrgPath.parse("demo/m1/school-a")
    return Envelope(event_id=uuid.uuid4(), type=event_type, schema_version=version,
                    occurred_at=datetime.now(UTC), org=org,
                    actor=Actor(user="curator", role=Role.CURATOR, scope=org),
                    correlation_id=uuid.uuid4(), source="pairing", source_position=1,
                    aggregate_id=uuid.uuid4(), aggregate_version=1, payload=payload)


def test_every_older_version_has_a_way_up() -> None:
    for name, spec in CATALOGUE.items():
        assert set(spec.upcasters) == set(range(1, spec.version)), name


FREE_TEXT = "Иванов Пётр попросил сменить наставника"


@pytest.mark.parametrize(("event_type", "fields", "text_field"), [
    ("PairDissolved", {"returned_mentee_ids": []}, "reason"),
    ("ConsentWithdrawn", {}, "reason"),
    ("PlanGoalSet", {"goal_id": str(uuid.uuid4()), "due": None, "status": "planned"}, "title"),
    ("ProgrammeLaunched", {"organisation_id": str(uuid.uuid4()), "form": "учитель – ученик",
                           "school_year": "2025-2026"}, "curator"),
])
def test_free_text_never_leaves_and_version_one_still_reads(
        event_type: str, fields: dict[str, object], text_field: str) -> None:
    published = public_payload(event_type, {**fields, text_field: FREE_TEXT})
    assert FREE_TEXT not in str(published)
    # An event published before version 2 carried the text; it reads as today's model without it.
    old = envelope(event_type, 1, {**fields, text_field: FREE_TEXT})
    current = read_payload(old)
    assert FREE_TEXT not in current.model_dump_json()
    assert current == read_payload(envelope(event_type, CATALOGUE[event_type].version, published))
