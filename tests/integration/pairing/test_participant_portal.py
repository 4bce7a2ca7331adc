"""A minor's guardian takes part through the portal: the curator prints the code from the
person card, the guardian signs in with it, gives feedback on a meeting under «Мои пары», and
another pair's address leads nowhere. The registry, the pairing and the portal in one app on a
real NATS; the portal reaches the APIs in-process."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.pairing.runtime import PairingRuntime
from services.portal.auth import COOKIE
from services.portal.frame import Portal
from services.portal.runtime import PortalRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.integration.pairing.conftest import SCHOOL_A, Clock, System

CODE = re.compile(r"<code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>")


@pytest.fixture
def world(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[tuple[System, TestClient]]:
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry, pairing = RegistryRuntime(settings), PairingRuntime(settings, today=clock)
    app = create_app(settings, [registry, pairing, PortalRuntime(settings)])
    with TestClient(app) as client:
        app.state.portal = Portal(settings, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"))
        system = System(client, settings, registry, pairing, clock)
        region = system.post("/registry/organisations", {"code": "demo", "name": "Демо",
                                                         "kind": "region"}, Role.REGIONAL, "demo")
        municipality = system.post("/registry/organisations", {
            "code": "m1", "name": "Округ", "kind": "municipality",
            "parent_id": region.json()["id"]}, Role.REGIONAL, "demo").json()["id"]
        system.org["school-a"] = system.post("/registry/organisations", {
            "code": "school-a", "name": "Школа № 1", "kind": "school",
            "parent_id": municipality}, Role.REGIONAL, "demo").json()["id"]
        yield system, TestClient(app, base_url="http://portal.test", follow_redirects=False)


def test_a_guardian_signs_in_with_the_printed_code_and_gives_feedback(
        world: tuple[System, TestClient]) -> None:
    system, browser = world
    mentor_id, child, other = system.mentor(capacity=2), system.mentee(), system.mentee()
    system.pools_caught_up()
    mine, theirs = (system.post("/pairing/pairs", {"form": "teacher-student", "mentor_id": mentor_id,
                                                   "mentee_ids": [m]}).json()["id"]
                    for m in (child, other))
    assert system.post(f"/pairing/pairs/{mine}/meetings", {
        "kind": "intro", "date": system.clock.today.isoformat(), "duration_minutes": 45,
        "format": "in_person"}).status_code == 201

    # The curator prints the code from the person card.
    browser.cookies.set(COOKIE, issue_token(Actor(user="curator", role=Role.CURATOR,
                                                  scope=OrgPath.parse(SCHOOL_A)),
                                            system.settings.signing_secret))
    assert "Выдать код приглашения" in browser.get(f"/people/{child}").text
    printed = browser.post(f"/people/{child}/invitation")
    assert printed.status_code == 200, printed.text
    assert "Код для входа в систему наставничества" in printed.text
    code = CODE.search(printed.text).group(1)

    # The guardian, at home: the sign-in page, the code, a login and a password of their own.
    browser.cookies.clear()
    assert "У меня есть код приглашения" in browser.get("/login").text
    signed = browser.post("/login/invitation", data={
        "invitation_code": code, "login": "orlova", "password": "Ласточка-над-рекой-2026"})
    assert signed.status_code == 303 and signed.headers["location"] == "/my", signed.text
    browser.cookies.set(COOKIE, signed.cookies[COOKIE])
    page = browser.get("/my")
    assert page.status_code == 200 and "Отправить отзыв о встрече № 1" in page.text, page.text
    sent = browser.post(f"/my/pairs/{mine}/feedback", data={
        "meeting_number": 1, "satisfaction": 9, "went_well": "Нашли общий язык"})
    assert sent.headers["location"] == "/my?saved=feedback", sent.text
    after = browser.get("/my?saved=feedback").text
    assert "Отзыв сохранён" in after and "Нашли общий язык" in after
    assert "Отправить отзыв о встрече № 1" not in after
    # The child's answer is on record as the mentee's.
    recorded = system.get(f"/pairing/pairs/{mine}/meetings/1/feedback").json()
    assert [(f["respondent_id"], f["side"]) for f in recorded] == [(child, "mentee")]

    # Another pair, typed into the address bar: not found.
    assert browser.get(f"/pairs/{theirs}").status_code == 404
    assert browser.get(f"/people/{other}").status_code == 404
