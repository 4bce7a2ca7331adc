"""Forged events on the embedded bus: quarantined by every consumer, never applied, never in the
audit log, and the relay of the service whose stream they land on keeps publishing.

The registry and monitoring run in one process as ``nastavnik up`` runs them (each with its own
NATS credentials); the attacker holds either another service's credentials or a client allowed
to publish on the registry's subjects without the registry's signing key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from services.monitoring.audit.feeder import init_key
from services.monitoring.runtime import MonitoringRuntime
from services.registry.runtime import RegistryRuntime
from shared import bus
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.consumer import event_quarantine
from shared.contracts import MESSAGE_ID_HEADER, POSITION_HEADER, Envelope, stream_name
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER
from shared.store import view_engine
from tests.conftest import async_wait_until, wait_until

FORGER = "forged-by-pentest"


@dataclass
class System:
    client: TestClient
    settings: Settings
    registry: RegistryRuntime
    monitoring: MonitoringRuntime

    def headers(self, role: Role, scope: str) -> dict[str, str]:
        actor = Actor(user=f"{role.value}-tester", role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def post(self, url: str, body: dict[str, Any], role: Role = Role.REGIONAL, scope: str = "demo") -> str:
        response = self.client.post(url, json=body, headers=self.headers(role, scope))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def dashboard(self, scope: str) -> dict[str, Any]:
        response = self.client.get("/monitoring/dashboard", params={"org": scope},
                                   headers=self.headers(Role.REGIONAL, "demo"))
        assert response.status_code == 200, response.text
        return {k: v for k, v in response.json().items() if k != "as_of"}

    def wait_caught_up(self) -> None:
        stored = self.registry.service.events.max_position()
        wait_until(lambda: self.monitoring.audit.size() == stored
                   and self.monitoring.dashboards.position == stored,
                   message=f"the audit log and dashboards reaching {stored}")


@contextmanager
def running(settings: Settings) -> Iterator[System]:
    init_key(settings, exist_ok=True)  # the audit log's key is made explicitly, as a deployment does
    registry = RegistryRuntime(settings)
    monitoring = MonitoringRuntime(settings, head_interval=0.1)
    with TestClient(create_app(settings, [registry, monitoring])) as client:
        yield System(client, settings, registry, monitoring)


def mentee(school: str, index: int) -> dict[str, Any]:
    return {"organisation_id": school, "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": "Орлов" + "абвгд"[index], "first_name": "Егор",
                       "birth_date": "2013-05-01", "guardian_name": "Орлова Мария Ивановна"}}


def quarantined(settings: Settings) -> list[tuple[str, str, str]]:
    engine = view_engine(settings, "monitoring")
    try:
        with engine.connect() as conn:
            return [(r.consumer, r.stream, r.reason) for r in conn.execute(sa.select(event_quarantine))]
    finally:
        engine.dispose()


def forged_copy(genuine: Envelope, source: str | None = None) -> Envelope:
    return genuine.model_copy(update={
        "event_id": uuid.uuid4(), "aggregate_id": uuid.uuid4(), "source_position": 999_999,
        "actor": genuine.actor.model_copy(update={"user": FORGER}),
        **({"source": source} if source else {})})


@pytest.fixture
def live(settings: Settings, fresh_nats: EmbeddedNats) -> Settings:
    settings.nats_url = fresh_nats.url
    return settings


async def test_forged_mentee_is_quarantined_and_changes_nothing(live: Settings,
                                                                fresh_nats: EmbeddedNats) -> None:
    with running(live) as system:
        region = system.post("/registry/organisations", {"code": "demo", "name": "Демо", "kind": "region"})
        municipality = system.post("/registry/organisations", {
            "code": "m1", "name": "Округ", "kind": "municipality", "parent_id": region})
        school = system.post("/registry/organisations", {
            "code": "s1", "name": "Школа", "kind": "school", "parent_id": municipality})
        system.post("/registry/mentees", mentee(school, 1), Role.CURATOR, "demo/m1/s1")
        system.wait_caught_up()
        before = system.dashboard("demo/m1/s1")
        audit_before = system.monitoring.audit.size()

        tester = await nats.connect(fresh_nats.url)
        js = tester.jetstream()
        last = await js.get_last_msg(stream_name("registry"), "nastavnik.registry.demo.m1.MenteeRegistered")
        genuine = Envelope.from_bytes(last.data)
        assert genuine.type == "MenteeRegistered"

        # 1. With the monitoring service's valid credentials, on its own subjects (the registry's
        #    are refused by the server), claiming to come from the registry.
        monitoring = await bus.connect(live.nats_url, "attacker", live, service="monitoring")
        claimed, as_itself = forged_copy(genuine), forged_copy(genuine, "monitoring")
        mjs = monitoring.jetstream()
        await mjs.publish(claimed.subject.replace(".registry.", ".monitoring.", 1), claimed.to_bytes())
        # ... and as the monitoring service itself, with its own source: not an event it publishes.
        await mjs.publish(as_itself.subject, as_itself.to_bytes())
        # 2. On the registry's own subject, with a signature that is not the registry's and a
        #    position header far ahead (it once stopped the registry's relay).
        fake = forged_copy(genuine)
        await js.publish(fake.subject, fake.to_bytes(), headers={
            MESSAGE_ID_HEADER: str(fake.event_id), POSITION_HEADER: "999999",
            SIGNATURE_HEADER: "ed25519:" + "A" * 86 + "=="})
        # ... and one without any signature.
        unsigned = forged_copy(genuine)
        await js.publish(unsigned.subject, unsigned.to_bytes(), headers={POSITION_HEADER: "1000000"})

        await async_wait_until(lambda: len([q for q in quarantined(live) if q[0] == "audit-log"]) >= 4,
                               message="the audit feeder quarantining the forged events")
        reasons = {(stream, reason) for consumer, stream, reason in quarantined(live)
                   if consumer == "audit-log"}
        assert reasons == {(stream_name("monitoring"), "source_mismatch"),
                           (stream_name("monitoring"), "type_not_of_source"),
                           (stream_name("registry"), "bad_signature"),
                           (stream_name("registry"), "unsigned")}

        assert system.dashboard("demo/m1/s1") == before
        assert system.monitoring.audit.size() == audit_before

        # The relay walks past what it did not sign: the next mentee is published and counted.
        system.post("/registry/mentees", mentee(school, 2), Role.CURATOR, "demo/m1/s1")
        system.wait_caught_up()
        after = system.dashboard("demo/m1/s1")
        assert after != before  # the genuine mentee counted ...
        stored = system.registry.service.events.max_position()
        assert stored > audit_before and system.monitoring.audit.size() == stored  # logged, the forged not
        engine = view_engine(live, "monitoring")
        with engine.connect() as conn:
            logged = set(conn.execute(sa.text("SELECT event_id FROM audit_entries")).scalars())
        engine.dispose()
        forged_ids = {str(e.event_id) for e in (claimed, as_itself, fake, unsigned)}
        assert str(genuine.event_id) in logged and not forged_ids & logged
        ready = system.client.get("/ready").json()
        assert ready["ready"] is True, ready
        await monitoring.close()
        await tester.close()
