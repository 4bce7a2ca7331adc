"""Diagnostics are not open to anonymous callers, and the API document lists its errors.

Issue 18, Low: ``/metrics``, ``/docs`` and ``/openapi.json`` answered anyone. Now each needs the
configured diagnostics token (Prometheus) or a regional operator's access token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.settings import Settings
from shared.web import CurrentActor
from tests.conftest import TEST_SECRET

DIAGNOSTICS = ("/metrics", "/openapi.json", "/docs", "/redoc")


class Bare:
    """The smallest runtime: one public and one signed-in route, so statuses can be compared."""

    name = "bare"

    def __init__(self) -> None:
        self.router = APIRouter()

        @self.router.get("/bare/open")
        def open_route() -> dict[str, str]:
            return {}

        @self.router.post("/bare/things/{thing_id}", status_code=201)
        def signed_route(thing_id: int, body: dict[str, str], actor: CurrentActor) -> dict[str, str]:
            return {}



@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(data_dir=tmp_path, token_secret=TEST_SECRET, diagnostics_token="scrape-me")
    return TestClient(create_app(settings, [Bare()]))  # type: ignore[list-item]


def bearer(role: Role) -> dict[str, str]:
    token = issue_token(Actor(user="u", role=role, scope=OrgPath(region="demo")), TEST_SECRET)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", DIAGNOSTICS)
def test_diagnostics_need_the_token_or_an_operator(client: TestClient, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    assert client.get(path, headers={"Authorization": "Bearer guessed"}).status_code == 401
    assert client.get(path, headers=bearer(Role.CURATOR)).status_code == 403
    assert client.get(path, headers=bearer(Role.REGIONAL)).status_code == 200
    assert client.get(path, headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_prometheus_scrapes_with_the_token(client: TestClient) -> None:
    client.get("/live")
    client.get("/no/such/page")
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert "nastavnik_request_seconds" in scraped.text
    # Latency by route template and status; an unknown path is one label, not one per path.
    assert 'method="GET",route="/live",status="200"' in scraped.text
    assert 'route="unmatched",status="404"' in scraped.text


def test_the_api_document_lists_every_error_status_with_one_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json", headers={"Authorization": "Bearer scrape-me"}).json()
    public = spec["paths"]["/bare/open"]["get"]["responses"]
    signed = spec["paths"]["/bare/things/{thing_id}"]["post"]["responses"]
    assert set(public) == {"200", "400", "422", "429", "503"}
    assert set(signed) == {"201", "400", "401", "403", "404", "409", "413", "422", "429", "503"}
    assert signed["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert set(spec["components"]["schemas"]["Error"]["properties"]) >= {"code", "message", "status"}
    # What the document promises is what an error looks like.
    refused = client.post("/bare/things/1", json={})
    assert refused.json() == {"code": "UNAUTHENTICATED", "message": "Требуется вход в систему",
                              "status": 401}
