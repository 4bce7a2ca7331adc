"""The registry and the pairing service in one host on a real NATS, with a clock the test moves.

People are registered through the registry's API; the pairing learns of them only from the bus.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from services.pairing.runtime import PairingRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.contracts import Envelope, stream_name
from shared.host import create_app
from shared.localtime import local_today
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import wait_until

SCHOOL_A = "demo/m1/school-a"
SCHOOL_B = "demo/m1/school-b"
MUNICIPALITY = "demo/m1"
#: Surnames the tests register; none of them may ever appear on the bus.
SURNAMES = ("Орлов", "Белов", "Зайцев", "Лебедев", "Волков", "Соколов", "Морозов", "Новиков",
            "Козлов", "Павлов", "Семёнов", "Голубев")


@dataclass
class Clock:
    today: date = field(default_factory=local_today)

    def __call__(self) -> date:
        return self.today


@dataclass
class System:
    client: TestClient
    settings: Settings
    registry: RegistryRuntime
    pairing: PairingRuntime
    clock: Clock
    org: dict[str, str] = field(default_factory=dict)
    names: itertools.count[int] = field(default_factory=itertools.count)

    def headers(self, role: Role = Role.CURATOR, scope: str = SCHOOL_A,
                user: str = "curator") -> dict[str, str]:
        actor = Actor(user=user, role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def as_participant(self, person_id: str, scope: str = SCHOOL_A) -> dict[str, str]:
        return self.headers(Role.PARTICIPANT, scope, user=person_id)

    def post(self, url: str, body: dict[str, Any] | None = None, role: Role = Role.CURATOR,
             scope: str = SCHOOL_A, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(url, json=body if body is not None else {},
                                headers=headers or self.headers(role, scope))

    def put(self, url: str, body: dict[str, Any], role: Role = Role.CURATOR,
            scope: str = SCHOOL_A) -> Any:
        return self.client.put(url, json=body, headers=self.headers(role, scope))

    def get(self, url: str, role: Role = Role.CURATOR, scope: str = SCHOOL_A,
            headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=headers or self.headers(role, scope))

    # --- the registry side --------------------------------------------------------------------

    def _person(self, birth: str, **extra: Any) -> dict[str, Any]:
        n = next(self.names)
        return {"last_name": SURNAMES[n % len(SURNAMES)], "first_name": "Олег",
                "birth_date": f"{birth[:-2]}{1 + n % 28:02d}", **extra}

    def mentor(self, school: str = "school-a", category: str = "teacher", capacity: int = 1,
               competencies: tuple[str, ...] = ("олимпиада",), birth: str = "1985-03-01",
               grade: int | None = None) -> str:
        minor = int(birth[:4]) > local_today().year - 18
        body = {"organisation_id": self.org[school], "category": category,
                "consent_given_by": "guardian" if minor else "self",
                "competencies": list(competencies), "capacity": capacity, "grade": grade,
                "person": self._person(birth, **({"guardian_name": "Орлова Мария Ивановна"}
                                                 if minor else {}))}
        response = self.post("/registry/mentors", body, scope=f"demo/m1/{school}")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def mentee(self, school: str = "school-a", grade: int = 7,
               requests: tuple[str, ...] = ("олимпиада",), birth: str = "2013-05-01") -> str:
        body = {"organisation_id": self.org[school], "category": "student", "grade": grade,
                "consent_given_by": "guardian", "requests": list(requests),
                "person": self._person(birth, guardian_name="Орлова Мария Ивановна")}
        response = self.post("/registry/mentees", body, scope=f"demo/m1/{school}")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def programme(self, school: str = "school-a", form: str = "учитель – ученик") -> str:
        response = self.post("/registry/programmes", {
            "organisation_id": self.org[school], "form": form, "school_year": "2025-2026",
            "curator": "Куратор"}, scope=f"demo/m1/{school}")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def withdraw(self, person_id: str, school: str = "school-a") -> None:
        response = self.post(f"/registry/people/{person_id}/consent/withdraw",
                             {"reason": "по заявлению"}, scope=f"demo/m1/{school}")
        assert response.status_code == 204, response.text

    # --- waiting on the bus -------------------------------------------------------------------

    def pools_caught_up(self) -> None:
        """Every registry event stored so far has reached the pairing's pools."""
        stored = self.registry.service.events.max_position()
        wait_until(lambda: self.pairing.pools is not None
                   and self.pairing.pools.position("registry") >= stored,
                   message="pairing pools to catch up with the registry")

    def bus(self, source: str) -> list[Envelope]:
        return asyncio.run(read_stream(self.settings.nats_url, source))

    def published(self) -> list[Envelope]:
        """Every stored pairing event, once the relay has put it on the bus."""
        found: list[Envelope] = []

        def all_there() -> bool:
            found[:] = self.bus("pairing")
            return len(found) == self.pairing.service.events.max_position()

        wait_until(all_there, message="pairing events to be published")
        return found


async def read_stream(url: str, source: str) -> list[Envelope]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        stream = stream_name(source)
        last = (await js.stream_info(stream)).state.last_seq
        return [Envelope.from_bytes((await js.get_msg(stream, seq=seq)).data)
                for seq in range(1, last + 1)]
    finally:
        await nc.close()


@pytest.fixture
def system(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[System]:
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry = RegistryRuntime(settings)
    pairing = PairingRuntime(settings, today=clock)
    with TestClient(create_app(settings, [registry, pairing])) as client:
        system = System(client, settings, registry, pairing, clock)
        region = system.post("/registry/organisations", {
            "code": "demo", "name": "Демо", "kind": "region"}, Role.REGIONAL, "demo").json()["id"]
        municipality = system.post("/registry/organisations", {
            "code": "m1", "name": "Округ", "kind": "municipality", "parent_id": region},
            Role.REGIONAL, "demo").json()["id"]
        system.org["m1"] = municipality
        for code in ("school-a", "school-b"):
            system.org[code] = system.post("/registry/organisations", {
                "code": code, "name": f"Школа {code}", "kind": "school",
                "parent_id": municipality}, Role.REGIONAL, "demo").json()["id"]
        yield system
