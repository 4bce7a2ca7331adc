"""Stand-ins for what the documents service layer talks to: the other services (``Peers``) and
its stores (eventsourcing's in-memory recorder, and SQLite in memory for the view)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import Application
from sqlalchemy.pool import StaticPool

from services.documents.application import DocumentsService, DocumentsStore
from shared.auth import Actor, OrgPath, Role
from shared.contracts import (
    DashboardReply,
    NamesReply,
    PairFound,
    PairsReply,
    PersonNames,
)
from shared.errors import DomainError
from shared.settings import Settings
from shared.store import CommandContext

SECRET = "test-secret-of-at-least-thirty-two-bytes"


@dataclass
class FakePeers:
    """The registry, pairing and monitoring as the documents service sees them: what each would
    answer the asking user. ``asked`` records every question, in order."""

    people: dict[UUID, PersonNames] = field(default_factory=dict)
    pairs_formed: dict[UUID, PairFound] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    asked: list[tuple[str, Actor, Any]] = field(default_factory=list)

    async def names(self, actor: Actor, person_ids: Sequence[UUID],
                    paired_mentor_ids: Sequence[UUID] = ()) -> NamesReply:
        self.asked.append(("names", actor, list(person_ids)))
        return NamesReply(people={str(i): self.people[i] for i in person_ids if i in self.people},
                          missing=[str(i) for i in person_ids if i not in self.people])

    async def pairs(self, actor: Actor, pair_ids: Sequence[UUID],
                    with_goals: bool = False) -> PairsReply:
        self.asked.append(("pairs", actor, list(pair_ids)))
        return PairsReply(
            pairs={str(i): self.pairs_formed[i] for i in pair_ids if i in self.pairs_formed},
            missing=[str(i) for i in pair_ids if i not in self.pairs_formed])

    async def dashboard(self, actor: Actor, org: str, period: str | None = None) -> DashboardReply:
        self.asked.append(("dashboard", actor, org))
        if org not in self.dashboards:
            raise DomainError("FORBIDDEN", "Эти данные вне вашей зоны доступа", 403)
        return DashboardReply(dashboard=self.dashboards[org])

    def questions(self, kind: str) -> list[Any]:
        return [subject for asked, _, subject in self.asked if asked == kind]


def person(full_name: str, organisation_id: UUID, role: str = "mentor",
           birth_date: date | None = None) -> PersonNames:
    last, first, middle = full_name.split()
    return PersonNames(full_name=full_name, last_name=last, first_name=first, middle_name=middle,
                       birth_date=birth_date, role=role, organisation_id=organisation_id)


def dashboard(scope: str, level: str = "municipality", mentors: int = 3, mentees: int = 5,
              pairs: int = 2, units: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """A dashboard as monitoring answers it, with what a report prints of it."""
    mean = {"suppressed": False, "count": 6, "mean": 8.5}
    return {"scope": scope, "level": level, "kpis": [], "units": list(units),
            "mentors": {"total": mentors}, "mentees": {"total": mentees},
            "pairs": {"formed": pairs},
            "satisfaction": {"feedback": {"mentor": mean, "mentee": mean}}}


class MemoryStore(DocumentsStore):
    """The documents event store, in memory."""

    def __init__(self) -> None:
        Application.__init__(self, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def memory_service(data_dir: Path, peers: FakePeers, today: date = date(2025, 9, 15)
                   ) -> DocumentsService:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
    return DocumentsService(Settings(data_dir=data_dir, token_secret=SECRET), lambda: today,
                            peers, events=MemoryStore(), engine=engine)


#: The one school's mentor and mentee of the ``documents`` fixture (conftest).
MENTOR, MENTEE = UUID("0d7c5c4e-8b7e-4f0e-9a51-3c1f6a2b9e01"), UUID("0d7c5c4e-8b7e-4f0e-9a51-3c1f6a2b9e02")


def as_(role: Role, scope: str, user: str = "tester") -> CommandContext:
    """A command by ``user`` acting as ``role`` over ``scope``."""
    return CommandContext(Actor(user=user, role=role, scope=OrgPath.parse(scope)))
