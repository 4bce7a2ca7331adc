"""The registry's service layer on an in-memory event store and view (no NATS; the keys of the
vault in a temporary secrets folder)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from eventsourcing.application import Application

from services.registry.application import RegistryService, RegistryStore
from services.registry.commands import RegisterOrganisation
from shared.auth import Actor, OrgPath, Role, system_actor
from shared.settings import Settings
from shared.store import CommandContext

TODAY = date(2025, 10, 1)
REGION = "r"
MUNICIPALITY = OrgPath(region=REGION, municipality="m")
SCHOOL_A = OrgPath(region=REGION, municipality="m", organisation="school-a")
SCHOOL_B = OrgPath(region=REGION, municipality="m", organisation="school-b")


class InMemoryStore(RegistryStore):
    """The registry's event store kept in memory (eventsourcing's POPO recorders)."""

    def __init__(self) -> None:
        Application.__init__(self, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def memory_engine() -> sa.Engine:
    """One in-memory SQLite database shared by every thread of the test."""
    return sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                            connect_args={"check_same_thread": False})


def acting(role: Role, scope: OrgPath, user: str | None = None) -> CommandContext:
    return CommandContext(Actor(user=user or f"{role.value}-{scope}", role=role, scope=scope))


class Region:
    """A region with one municipality and two schools, registered by the regional operator."""

    def __init__(self, registry: RegistryService) -> None:
        operator = acting(Role.REGIONAL, OrgPath(region=REGION))
        self.region = registry.register_organisation(
            CommandContext(system_actor(REGION)),
            RegisterOrganisation(code=REGION, name="Регион", kind="region"))
        self.municipality = registry.register_organisation(operator, RegisterOrganisation(
            code="m", name="Муниципалитет", kind="municipality", parent_id=self.region))
        self.ids: dict[OrgPath, UUID] = {}
        for school in (SCHOOL_A, SCHOOL_B):
            self.ids[school] = registry.register_organisation(operator, RegisterOrganisation(
                code=str(school.organisation), name=f"Школа {school.organisation}", kind="school",
                parent_id=self.municipality))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryService]:
    service = RegistryService(Settings(data_dir=tmp_path, region=REGION, token_secret="s" * 32),
                              lambda: TODAY, events=InMemoryStore(), engine=memory_engine())
    yield service
    service.close()


@pytest.fixture
def region(registry: RegistryService) -> Region:
    return Region(registry)
