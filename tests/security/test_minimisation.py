"""Minimisation (152-ФЗ, ст. 5) across the assembled system: officials above the school see
children as pseudonymous labels, auditors ids — on every route of the access matrix, in the
documents they issue or download, and on the portal's pages — while the school's curator sees
everything and a role the region configured (``NASTAVNIK_NAMES_VISIBLE_TO``) sees names.

The children's names, birth dates and guardians are read from the registry as the curator sees
them, then searched for in the raw JSON, HTML and document text every other reader gets.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.portal.auth import COOKIE
from services.portal.frame import Portal
from services.portal.routes import router as portal_router
from shared.auth import Role
from tests.security.test_access_matrix import OK, OWN_SCOPE, ROUTES, actor_headers
from tests.security.world import ISSUER, SCHOOL, World

OFFICIALS = ("municipal", "regional", "auditor")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NOTE = "Имена скрыты: 152-ФЗ, ст. 5 — минимизация"


def children(world: World) -> list[dict[str, Any]]:
    """Every mentee of the school as its curator sees them (names and all)."""
    response = world.client.get(f"/registry/organisations/{world.ids['school']}/people",
                                params={"role": "mentee"}, headers=world.headers(Role.CURATOR, SCHOOL))
    assert response.status_code == 200, response.text
    return [p for p in response.json() if p["personal"]]


def secrets_of(world: World) -> list[str]:
    found: set[str] = set()
    for child in children(world):
        personal = child["personal"]
        found |= {child["full_name"], personal["birth_date"], personal["guardian_name"]}
    assert found, "the world has children to look for"
    return sorted(found)


def text_of(response: httpx.Response) -> str:
    """What a reader gets: the raw body, or a DOCX's text (paragraphs and table cells)."""
    if response.headers.get("content-type", "").startswith(DOCX):
        document = Document(io.BytesIO(response.content))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    return response.text


@pytest.fixture(scope="module")
def order(world: World) -> str:
    """A pairs order the school's curator issued: it names the pair's mentor and child."""
    return str(world.post("/documents/pairs-order", {
        **ISSUER, "org": SCHOOL, "school_year": "2025-2026", "pairs": [
            {"pair_id": world.ids["pair"], "mentor_id": world.ids["mentor"],
             "mentee_ids": [world.ids["mentee"]], "form": "учитель – ученик"}]},
        Role.CURATOR, SCHOOL)["id"])


READS = [route for route, case in ROUTES.items()
         if route.startswith("GET ") and not case.anonymous_ok]


@pytest.mark.parametrize("role", OFFICIALS)
def test_no_route_gives_an_official_a_childs_name_birth_date_or_guardian(
        world: World, order: str, role: str) -> None:
    secrets = secrets_of(world)
    extra = [f"/registry/people/{world.ids['mentor']}", f"/documents/{order}/docx",
             f"/documents/{order}"]
    answered = 0
    for route in READS:
        request = ROUTES[route].build(world)
        response = world.client.request("GET", request.pop("url"),
                                        headers=actor_headers(world, route, role, True), **request)
        answered += response.status_code == 200
        body = text_of(response)
        for secret in secrets:
            assert secret not in body, f"{route} gives {role} {secret!r}"
    for url in extra:
        response = world.client.get(url, headers=world.headers(Role(role), OWN_SCOPE[role]))
        # An auditor is given no names at all: a document naming people is not theirs to read.
        refused = role == "auditor" and url.endswith("/docx") and response.status_code == 403
        assert response.status_code == 200 or refused, (url, role, response.text)
        for secret in secrets:
            assert secret not in text_of(response), f"{url} gives {role} {secret!r}"
    assert answered >= len([r for r in READS if ROUTES[r].policy(role, True) == OK]) // 2


@pytest.mark.parametrize("role", ("municipal", "regional"))
def test_officials_see_labels_and_the_adult_mentors_name(world: World, order: str, role: str) -> None:
    headers = world.headers(Role(role), OWN_SCOPE[role])
    child = world.client.get(f"/registry/people/{world.ids['mentee']}", headers=headers).json()
    assert child["names_hidden"] and child["label"].startswith("Наставляемый №")
    assert child["id"] == world.ids["mentee"]
    mentor = world.client.get(f"/registry/people/{world.ids['mentor']}", headers=headers).json()
    assert mentor["full_name"] == "Петрова Анна Сергеевна"
    assert "1985-03-14" not in str(mentor)  # the name alone, not the birth date
    text = text_of(world.client.get(f"/documents/{order}/docx", headers=headers))
    assert child["label"] in text and "Петрова" in text


def test_the_schools_curator_still_sees_everything(world: World, order: str) -> None:
    secrets = secrets_of(world)
    headers = world.headers(Role.CURATOR, SCHOOL)
    listed = world.client.get(f"/registry/organisations/{world.ids['school']}/people",
                              headers=headers).text
    card = world.client.get(f"/registry/people/{world.ids['mentee']}", headers=headers).text
    for secret in secrets:
        assert secret in listed
    child = next(c for c in children(world) if c["id"] == world.ids["mentee"])
    assert child["full_name"] in card and child["personal"]["guardian_name"] in card
    assert child["full_name"] in text_of(world.client.get(f"/documents/{order}/docx", headers=headers))


@pytest.fixture
def names_for_the_region(world: World) -> Iterator[None]:
    registry = world.runtimes["registry"].service
    configured = registry.settings
    registry.settings = configured.model_copy(update={"names_visible_to": ["regional"]})
    try:
        yield
    finally:
        registry.settings = configured


def test_a_configured_role_sees_names(world: World, names_for_the_region: None) -> None:
    child = next(c for c in children(world) if c["id"] == world.ids["mentee"])
    url = f"/registry/people/{world.ids['mentee']}"
    regional = world.client.get(url, headers=world.headers(Role.REGIONAL, OWN_SCOPE["regional"]))
    assert regional.json()["full_name"] == child["full_name"]
    assert child["personal"]["guardian_name"] in regional.text
    municipal = world.client.get(url, headers=world.headers(Role.MUNICIPAL, OWN_SCOPE["municipal"]))
    assert child["full_name"] not in municipal.text


def test_documents_an_official_issues_name_children_by_label(world: World) -> None:
    headers = world.headers(Role.MUNICIPAL, OWN_SCOPE["municipal"])
    issued = world.client.post("/documents/pairs-order", headers=headers, json={
        **ISSUER, "org": SCHOOL, "school_year": "2025-2026", "pairs": [
            {"pair_id": world.ids["pair"], "mentor_id": world.ids["mentor"],
             "mentee_ids": [world.ids["mentee"]], "form": "учитель – ученик"}]})
    assert issued.status_code == 201, issued.text
    text = text_of(world.client.get(f"/documents/{issued.json()['id']}/docx", headers=headers))
    assert "Наставляемый №" in text
    for secret in secrets_of(world):
        assert secret not in text
    # A consent form needs the child's name and birth date: only the school issues it.
    consent = world.client.post("/documents/consent", headers=headers, json={
        **ISSUER, "org": SCHOOL, "person_id": world.ids["mentee"]})
    assert consent.status_code == 403, consent.text
    assert consent.json()["code"] == "NAMES_HIDDEN" and "152-ФЗ" in consent.json()["message"]


# --- the portal, in-process, its API calls answered by the assembled system ---------------------

def forwarding(world: World) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = world.client.request(request.method, request.url.path, params=request.url.params,
                                      headers={"Authorization": request.headers["authorization"]},
                                      content=request.content)
        keep = {k: v for k, v in answer.headers.items()
                if k in ("content-type", "content-disposition")}
        return httpx.Response(answer.status_code, headers=keep, content=answer.content)
    return httpx.MockTransport(handle)


@pytest.fixture(scope="module")
def portal(world: World) -> TestClient:
    app = FastAPI()
    app.include_router(portal_router)
    app.state.portal = Portal(world.settings, httpx.AsyncClient(transport=forwarding(world),
                                                                base_url="http://api.test"))
    return TestClient(app, base_url="http://portal.test", follow_redirects=False)


def signed_in(portal: TestClient, world: World, role: Role, scope: str) -> TestClient:
    portal.cookies.set(COOKIE, world.token(role, scope))
    return portal


def pages(world: World) -> dict[str, bool]:
    """Officials' pages that list people or pairs → whether the pair's child is on the page
    (the pairing page lists the unpaired, who may be nobody)."""
    school, pair = world.ids["school"], world.ids["pair"]
    return {f"/organisations/{school}": True, f"/people/{world.ids['mentee']}": True,
            f"/pairs/{pair}": True, f"/organisations/{school}/pairs": True,
            f"/organisations/{school}/surveys": True,
            f"/organisations/{school}/pairing?programme_id={world.ids['programme']}": False}


@pytest.mark.parametrize("role", ("municipal", "regional"))
def test_the_portal_shows_officials_labels_and_says_why(world: World, portal: TestClient,
                                                        role: str) -> None:
    client = signed_in(portal, world, Role(role), OWN_SCOPE[role])
    secrets = secrets_of(world)
    label = world.client.get(f"/registry/people/{world.ids['mentee']}",
                             headers=world.headers(Role(role), OWN_SCOPE[role])).json()["label"]
    for url, lists_the_child in pages(world).items():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        for secret in secrets:
            assert secret not in response.text, f"{url} shows {role} {secret!r}"
        assert NOTE in response.text, url
        if lists_the_child:
            assert label in response.text, url


def test_the_portal_shows_the_curator_the_names(world: World, portal: TestClient) -> None:
    client = signed_in(portal, world, Role.CURATOR, SCHOOL)
    page = client.get(f"/organisations/{world.ids['school']}")
    assert page.status_code == 200
    child = next(c for c in children(world) if c["id"] == world.ids["mentee"])
    assert child["full_name"] in page.text and NOTE not in page.text
