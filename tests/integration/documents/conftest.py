"""The documents service next to the registry (which answers name requests) and the pairing
(which answers which pairs exist) on a real NATS; for reports, with monitoring too (monitoring
answers dashboard requests)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from services.documents.runtime import DocumentsRuntime
from services.monitoring.audit.feeder import init_key
from services.monitoring.runtime import MonitoringRuntime
from services.pairing.runtime import PairingRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.contracts import Envelope, stream_name
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import signed_headers, wait_until

SCHOOL_A = "demo/m1/school-a"
SCHOOL_B = "demo/m1/school-b"
OTHER_MUNICIPALITY_SCHOOL = "demo/m2/school-c"


@dataclass
class Clock:
    today: date = date(2023, 9, 1)

    def __call__(self) -> date:
        return self.today


@dataclass
class System:
    client: TestClient
    settings: Settings
    documents: DocumentsRuntime
    registry: RegistryRuntime
    clock: Clock
    ids: dict[str, str] = field(default_factory=dict)
    pairing: PairingRuntime | None = None
    monitoring: MonitoringRuntime | None = None

    def headers(self, role: Role, scope: str, user: str = "tester") -> dict[str, str]:
        actor = Actor(user=user, role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def post(self, url: str, body: dict[str, Any], role: Role = Role.CURATOR,
             scope: str = SCHOOL_A) -> Any:
        return self.client.post(url, json=body, headers=self.headers(role, scope))

    def get(self, url: str, role: Role = Role.CURATOR, scope: str = SCHOOL_A, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=self.headers(role, scope))

    def stored(self) -> int:
        return self.documents.service.events.max_position()

    def pools_caught_up(self) -> None:
        """Every registry event stored so far has reached the pairing's pools."""
        pairing = self.pairing
        assert pairing is not None
        stored = self.registry.service.events.max_position()
        wait_until(lambda: pairing.pools is not None and pairing.pools.position("registry") >= stored,
                   message="pairing pools to catch up with the registry")

    def bus(self, source: str = "documents") -> list[Envelope]:
        return asyncio.run(read_stream(self.settings.nats_url, source))

    def published(self) -> list[Envelope]:
        """Every stored documents event, once the relay has put it on the bus."""
        found: list[Envelope] = []

        def caught_up() -> bool:
            found[:] = self.bus()
            return len(found) == self.stored()

        wait_until(caught_up, message="documents events on the bus")
        return found

    def settle(self) -> None:
        """Monitoring has every stored event in its audit log and folded into the dashboards."""
        monitoring = self.monitoring
        assert monitoring is not None

        def caught_up() -> bool:
            stored = (self.registry.service.events.max_position() + self.stored()
                      + (self.pairing.service.events.max_position() if self.pairing else 0)
                      + monitoring.store.max_position())
            health = monitoring.health()
            return (health["log_size"] >= stored
                    and health["applied"]["dashboards"] == health["log_size"])

        wait_until(caught_up, timeout=30, message="the dashboards to fold every stored event")


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


async def publish(url: str, envelope: Envelope) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(envelope.subject, envelope.to_bytes(), headers=signed_headers(envelope))
    finally:
        await nc.close()


@pytest.fixture
def system(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[System]:
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry = RegistryRuntime(settings)
    pairing = PairingRuntime(settings)
    documents = DocumentsRuntime(settings, today=clock, sweep_seconds=3600)
    with TestClient(create_app(settings, [registry, pairing, documents])) as client:
        system = System(client, settings, documents, registry, clock, pairing=pairing)
        create_organisations(system)
        yield system


@pytest.fixture
def reporting(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[System]:
    """Registry, pairing, monitoring and documents: reports are filled from the dashboards."""
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry = RegistryRuntime(settings)
    pairing = PairingRuntime(settings)
    init_key(settings, exist_ok=True)
    monitoring = MonitoringRuntime(settings, head_interval=60, calendar_interval=3600)
    documents = DocumentsRuntime(settings, today=clock, sweep_seconds=3600)
    with TestClient(create_app(settings, [registry, pairing, monitoring, documents])) as client:
        system = System(client, settings, documents, registry, clock, pairing=pairing,
                        monitoring=monitoring)
        create_organisations(system)
        yield system


def create_organisations(system: System) -> None:
    def org(body: dict[str, Any]) -> str:
        response = system.post("/registry/organisations", body, Role.REGIONAL, "demo")
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    region = org({"code": "demo", "name": "Демо-регион", "kind": "region"})
    for code in ("m1", "m2"):
        system.ids[code] = org({"code": code, "name": f"Округ {code}", "kind": "municipality",
                                "parent_id": region})
    for code, parent in (("school-a", "m1"), ("school-b", "m1"), ("school-c", "m2")):
        system.ids[code] = org({"code": code, "name": f"Школа {code}", "kind": "school",
                                "parent_id": system.ids[parent]})


def register(system: System, role: str, school: str, last: str, first: str, middle: str,
             birth: str, **extra: Any) -> str:
    body: dict[str, Any] = {
        "organisation_id": system.ids[school], "consent_given_by": "self",
        "person": {"last_name": last, "first_name": first, "middle_name": middle,
                   "birth_date": birth}}
    if role == "mentor":
        body.update(category="teacher", competencies=["олимпиада"], capacity=3)
    else:
        body.update(category="student", grade=7, requests=["олимпиада"])
    guardian = extra.pop("guardian_name", None)
    if guardian:
        body["consent_given_by"] = "guardian"
        body["person"]["guardian_name"] = guardian
    body.update(extra)
    response = system.post(f"/registry/{role}s", body, Role.CURATOR, f"demo/m1/{school}"
                           if school != "school-c" else OTHER_MUNICIPALITY_SCHOOL)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def programme(system: System, school: str, form: str = "учитель – ученик") -> str:
    """A programme of the school (``school-a``…), which pairs are formed in."""
    scope = OTHER_MUNICIPALITY_SCHOOL if school == "school-c" else f"demo/m1/{school}"
    response = system.post("/registry/programmes", {
        "organisation_id": system.ids[school], "form": form, "school_year": "2023-2024",
        "curator": "Куратор"}, Role.CURATOR, scope)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def form_pair(system: System, programme_id: str, mentor: str, *mentees: str,
              scope: str = SCHOOL_A) -> str:
    """A pair (group) formed in the pairing service, once it knows the people."""
    system.pools_caught_up()
    response = system.post("/pairing/pairs", {"programme_id": programme_id, "mentor_id": mentor,
                                              "mentee_ids": list(mentees)}, Role.CURATOR, scope)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


ISSUER = {
    "organisation_name": "МБОУ «Средняя школа № 1»",
    "parent_organisation": "Управление образования округа m1",
    "place": "г. Озёрск",
    "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
}
