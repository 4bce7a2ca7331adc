"""A minor's guardian takes part through the portal: the curator prints the code from the
person card, the guardian signs in with it, gives feedback on a meeting under «Мои пары», and
another pair's address leads nowhere; a member marks a goal's progress and answers their own
questionnaire, which the curator's tally counts. The registry, the pairing, the monitoring and
the portal in one app on a real NATS; the portal reaches the APIs in-process."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from services.monitoring.audit.feeder import init_key
from services.monitoring.runtime import MonitoringRuntime
from services.pairing.runtime import PairingRuntime
from services.portal.auth import COOKIE
from services.portal.frame import Portal
from services.portal.runtime import PortalRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from tests.conftest import wait_until
from tests.integration.pairing.conftest import SCHOOL_A, Clock, System

CODE = re.compile(r"<code>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>")


@pytest.fixture
def world(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[tuple[System, TestClient]]:
    settings.nats_url = fresh_nats.url
    clock = Clock()
    registry, pairing = RegistryRuntime(settings), PairingRuntime(settings, today=clock)
    init_key(settings, exist_ok=True)
    monitoring = MonitoringRuntime(settings, head_interval=60, calendar_interval=3600)
    app = create_app(settings, [registry, pairing, monitoring, PortalRuntime(settings)])
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


def signed_in_participant(system: System, browser: TestClient, person: str, login: str) -> None:
    code = system.post(f"/registry/people/{person}/invitation").json()["code"]
    signed = browser.post("/login/invitation", data={
        "invitation_code": code, "login": login, "password": "Ласточка-над-рекой-2026"})
    assert signed.status_code == 303, signed.text
    browser.cookies.set(COOKIE, signed.cookies[COOKIE])


def test_a_member_marks_a_goal_and_answers_their_own_questionnaire(
        world: tuple[System, TestClient]) -> None:
    system, browser = world
    mentor_id, child = system.mentor(), system.mentee()
    other_mentor, other_child = system.mentor(), system.mentee()
    system.pools_caught_up()
    pair, other = (system.post("/pairing/pairs", {"form": "teacher-student", "mentor_id": m,
                                                  "mentee_ids": [c]}).json()["id"]
                   for m, c in ((mentor_id, child), (other_mentor, other_child)))
    goal = system.post(f"/pairing/pairs/{pair}/goals", {"title": "Подготовиться к олимпиаде"})
    assert goal.status_code == 201, goal.text
    goal_id = goal.json()["goal_id"]
    signed_in_participant(system, browser, child, "orlova-2")

    page = browser.get("/my").text
    assert "Подготовиться к олимпиаде" in page and "Мои анкеты" in page
    survey = f"/my/pairs/{pair}/surveys/growth-student?stage=growth_entry"
    assert survey.replace("&", "&amp;") in page

    # The goal's progress, as the curator then sees it.
    marked = browser.post(f"/my/pairs/{pair}/goals/{goal_id}", data={"status": "in_progress"})
    assert marked.headers["location"] == "/my?saved=goal", marked.text
    [seen] = system.get(f"/pairing/pairs/{pair}").json()["goals"]
    assert (seen["title"], seen["status"]) == ("Подготовиться к олимпиаде", "in_progress")

    # The entry questionnaire, answered by the child's side itself.
    form = browser.get(survey)
    assert form.status_code == 200 and "Сохранить анкету" in form.text, form.text
    keys = re.findall(r'name="q_([a-z0-9_]+)"', form.text)
    sent = browser.post(survey, data={f"q_{k}": "7" for k in dict.fromkeys(keys)})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/my?"), sent.text

    def counted() -> bool:
        answered = system.get("/monitoring/surveys/answered", respondent=[child],
                              org=SCHOOL_A).json()
        return [(a["survey"], a["stage"]) for a in answered] == [("growth-student", "growth_entry")]

    wait_until(counted, message="the answer to reach the curator's tally")
    assert survey.replace("&", "&amp;") not in browser.get("/my").text
    # Someone else's pair: no questionnaire to answer there, no goal to mark.
    assert browser.get(f"/my/pairs/{other}/surveys/growth-student?stage=growth_entry"
                       ).status_code == 404
    assert browser.post(f"/my/pairs/{other}/goals/{goal_id}", data={"status": "done"}
                        ).status_code == 404
