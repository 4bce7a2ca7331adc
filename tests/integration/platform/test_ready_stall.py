"""A relay that cannot publish makes /ready false, with the reason, after the configured time."""

from __future__ import annotations

import nats
from fastapi.testclient import TestClient

from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.contracts import stream_name
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import wait_until


async def test_a_relay_that_cannot_publish_fails_ready(settings: Settings, fresh_nats: EmbeddedNats) -> None:
    settings.nats_url = fresh_nats.url
    settings.ready_stall_seconds = 0.5
    actor = Actor(user="op", role=Role.REGIONAL, scope=OrgPath(region="demo"))
    headers = {"Authorization": f"Bearer {issue_token(actor, settings.signing_secret)}"}
    with TestClient(create_app(settings, [RegistryRuntime(settings)])) as client:
        assert client.get("/ready").status_code == 200
        tester = await nats.connect(fresh_nats.url)
        await tester.jetstream().delete_stream(stream_name("registry"))  # its stream is gone
        await tester.close()
        response = client.post("/registry/organisations", headers=headers,
                               json={"code": "demo", "name": "Демо", "kind": "region"})
        assert response.status_code == 201

        def not_ready() -> bool:
            answer = client.get("/ready")
            return answer.status_code == 503 and "relay:registry" in answer.json()["checks"]["stalled"]

        wait_until(not_ready, message="/ready saying the relay is stalled")
        assert client.get("/ready").json()["checks"]["nats"] is True  # the bus itself is fine
