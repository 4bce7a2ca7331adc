"""The pairing's service layer on an in-memory event store and view, fed by a fake registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from eventsourcing.application import Application

from services.pairing.application import PairingService, PairingStore
from services.pairing.config import PairingConfig
from services.pairing.consumers import ConsentWatch, PoolsProjection
from shared.auth import Actor, OrgPath, Role, system_actor
from shared.contracts import Envelope
from shared.events import public_payload, schema_version
from shared.settings import Settings
from shared.store import CommandContext

TODAY = date(2025, 10, 1)
REGION = "r"
MUNICIPALITY = OrgPath(region=REGION, municipality="m")
SCHOOL_A = OrgPath(region=REGION, municipality="m", organisation="school-a")
SCHOOL_B = OrgPath(region=REGION, municipality="m", organisation="school-b")


class InMemoryStore(PairingStore):
    """The pairing's event store kept in memory (eventsourcing's POPO recorders)."""

    def __init__(self) -> None:
        Application.__init__(self, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def memory_engine() -> sa.Engine:
    """One in-memory SQLite database shared by every thread of the test."""
    return sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                            connect_args={"check_same_thread": False})


class FakeRegistry:
    """The registry as the pairing sees it: its events, handed to the pairing's projections the
    way the consumers apply them from the bus."""

    def __init__(self, service: PairingService) -> None:
        self.service = service
        self.position = 0
        self.ids: dict[OrgPath, UUID] = {}

    def emit(self, event_type: str, aggregate_id: UUID, org: OrgPath, **fields: Any) -> None:
        self.position += 1
        envelope = Envelope(
            event_id=uuid4(), type=event_type, schema_version=schema_version(event_type),
            occurred_at=datetime.now(UTC), org=org, actor=system_actor(org.region),
            correlation_id=uuid4(), source="registry", source_position=self.position,
            aggregate_id=aggregate_id, aggregate_version=1,
            payload=public_payload(event_type, fields))
        with self.service.engine.begin() as conn:
            PoolsProjection().apply(conn, [envelope])
            ConsentWatch().apply(conn, [envelope])

    def organisation(self, path: OrgPath, kind: str = "school") -> UUID:
        organisation_id = self.ids[path] = uuid4()
        code = path.organisation or path.municipality or path.region
        self.emit("OrganisationRegistered", organisation_id, path, code=code, name=code, kind=kind)
        return organisation_id

    def mentor(self, school: OrgPath, capacity: int = 1, category: str = "teacher",
               competencies: tuple[str, ...] = ("математика",)) -> UUID:
        person_id = uuid4()
        self.emit("MentorRegistered", person_id, school, organisation_id=self.ids[school],
                  category=category, competencies=list(competencies), capacity=capacity,
                  birth_year=1980)
        self.emit("ConsentRecorded", person_id, school, given_by="self")
        return person_id

    def mentee(self, school: OrgPath, grade: int = 7,
               requests: tuple[str, ...] = ("математика",)) -> UUID:
        person_id = uuid4()
        self.emit("MenteeRegistered", person_id, school, organisation_id=self.ids[school],
                  category="student", grade=grade, birth_year=2012, requests=list(requests),
                  minor=True)
        self.emit("ConsentRecorded", person_id, school, given_by="guardian")
        return person_id

    def withdraw(self, person_id: UUID, school: OrgPath) -> None:
        self.emit("ConsentWithdrawn", person_id, school)


@pytest.fixture
def pairing(tmp_path: Path) -> Iterator[PairingService]:
    service = PairingService(Settings(data_dir=tmp_path, region=REGION, token_secret="s" * 32),
                             lambda: TODAY, PairingConfig(), events=InMemoryStore(),
                             engine=memory_engine())
    yield service
    service.close()


@pytest.fixture
def registry(pairing: PairingService) -> FakeRegistry:
    fake = FakeRegistry(pairing)
    fake.organisation(MUNICIPALITY, kind="municipality")
    fake.organisation(SCHOOL_A)
    fake.organisation(SCHOOL_B)
    return fake


def curator(school: OrgPath) -> CommandContext:
    return CommandContext(Actor(user=f"curator-{school.organisation}", role=Role.CURATOR, scope=school))


def participant(person_id: UUID) -> Actor:
    return Actor(user=str(person_id), role=Role.PARTICIPANT, scope=SCHOOL_A)
