from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings


@dataclass
class Registry:
    client: TestClient
    settings: Settings
    runtime: RegistryRuntime

    def headers(self, role: Role, scope: str, user: str = "tester") -> dict[str, str]:
        actor = Actor(user=user, role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def stored(self) -> int:
        return self.runtime.service.events.max_position()

    def post(self, url: str, body: dict[str, Any], role: Role = Role.REGIONAL,
             scope: str = "demo") -> Any:
        return self.client.post(url, json=body, headers=self.headers(role, scope))


@pytest.fixture
def registry(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[Registry]:
    settings.nats_url = fresh_nats.url
    runtime = RegistryRuntime(settings)
    with TestClient(create_app(settings, [runtime])) as client:
        yield Registry(client, settings, runtime)


@dataclass
class School:
    region_id: str
    municipality_id: str
    school_id: str
    other_school_id: str


@pytest.fixture
def schools(registry: Registry) -> School:
    region = registry.post("/registry/organisations",
                           {"code": "demo", "name": "Демо", "kind": "region"}).json()["id"]
    municipality = registry.post("/registry/organisations", {
        "code": "m1", "name": "Округ", "kind": "municipality", "parent_id": region}).json()["id"]
    ids = [registry.post("/registry/organisations", {
        "code": code, "name": f"Школа {code}", "kind": "school", "parent_id": municipality}
    ).json()["id"] for code in ("school-a", "school-b")]
    return School(region, municipality, ids[0], ids[1])


def mentee(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation_id": organisation_id, "category": "student", "grade": 7,
        "consent_given_by": "guardian", "requests": ["олимпиада"],
        "person": {"last_name": "Орлов", "first_name": "Егор", "middle_name": "Ильич",
                   "birth_date": "2013-05-02", "guardian_name": "Орлова Мария Ивановна",
                   "snils": "112-233-445 95"},
    }
    person = overrides.pop("person", {})
    body.update(overrides)
    body["person"].update(person)
    return body


def mentor(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organisation_id": organisation_id, "category": "teacher", "consent_given_by": "self",
        "competencies": ["олимпиада"], "capacity": 2,
        "person": {"last_name": "Петрова", "first_name": "Анна", "middle_name": "Сергеевна",
                   "birth_date": "1985-03-14"},
    }
    person = overrides.pop("person", {})
    body.update(overrides)
    body["person"].update(person)
    return body
