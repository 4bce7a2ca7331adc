"""A participant's own part under «Мои пары» (against a fake of the services' API): marking a
goal's progress, and answering their own questionnaires, in their own organisation, as
themselves; what the monitoring service counts shows as answered."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from services.monitoring.surveys import load_questionnaires
from services.portal.auth import COOKIE
from shared.auth import Actor, OrgPath, Role, issue_token
from tests.unit.portal.conftest import SECRET, PortalUnderTest
from tests.unit.portal.test_participant_pages import MENTEE, MENTOR, PAIR, SCHOOL

GOAL = "00000000-0000-0000-0000-000000000301"
QUESTIONNAIRES = [q.model_dump(mode="json", by_alias=True) for q in load_questionnaires().values()]
GROWTH = f"/my/pairs/{PAIR}/surveys/growth-student?stage=growth_entry"


def me(portal: PortalUnderTest) -> TestClient:
    client = portal.client(None)
    client.cookies.set(COOKIE, issue_token(Actor(user=MENTEE, role=Role.PARTICIPANT,
                                                 scope=OrgPath.parse(SCHOOL["path"])), SECRET))
    return client


def my_api(portal: PortalUnderTest, answered: list[dict[str, Any]] | None = None) -> None:
    pair = {"id": PAIR, "mentor_id": MENTOR, "mentee_ids": [MENTEE], "status": "active",
            "form": "teacher-student", "organisation_name": SCHOOL["name"], "path": SCHOOL["path"],
            "mentor_organisation_name": SCHOOL["name"], "cross_organisation": False,
            "formed_on": "2026-10-01", "meetings": [],
            "goals": [{"goal_id": GOAL, "title": "Подготовиться к олимпиаде", "due": None,
                       "status": "planned"}]}
    portal.api.on("GET", "/pairing/pairs", [{"id": PAIR}])
    portal.api.on("GET", "/auth/me", {"user": MENTEE, "role": "participant",
                                      "scope": SCHOOL["path"], "holder": "person"})
    portal.api.on("GET", f"/pairing/pairs/{PAIR}", pair)
    portal.api.on("GET", "/monitoring/questionnaires", QUESTIONNAIRES)
    portal.api.on("GET", "/monitoring/surveys/answered", answered or [])


def test_my_pairs_lists_my_questionnaires_and_a_progress_form_per_goal(
        portal: PortalUnderTest) -> None:
    my_api(portal)
    page = me(portal).get("/my")
    assert page.status_code == 200, page.text
    assert "Мои анкеты" in page.text and f'href="{GROWTH.replace("&", "&amp;")}"' in page.text
    # The satisfaction questionnaire waits for the end of the pair's work.
    assert "откроется, когда работа пары завершится" in page.text
    assert f'action="/my/pairs/{PAIR}/goals/{GOAL}"' in page.text
    # Asked about the participant alone, in their own organisation.
    [asked] = [c for c in portal.api.calls if c.url.path == "/monitoring/surveys/answered"]
    assert sorted(asked.url.params.get_list("respondent")) == [MENTEE, f"{MENTEE}:{PAIR}"]
    assert asked.url.params["org"] == SCHOOL["path"]

    my_api(portal, [{"respondent_id": MENTEE, "survey": "growth-student", "stage": "growth_entry",
                     "pair_id": None}])
    answered = me(portal).get("/my").text
    assert "заполнена" in answered and GROWTH.replace("&", "&amp;") not in answered


def test_a_member_marks_a_goals_progress(portal: PortalUnderTest) -> None:
    my_api(portal)
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/goals/{GOAL}/progress", None, status=204)
    sent = me(portal).post(f"/my/pairs/{PAIR}/goals/{GOAL}", data={"status": "in_progress"})
    assert (sent.status_code, sent.headers["location"]) == (303, "/my?saved=goal")
    assert portal.api.sent("POST", f"/pairing/pairs/{PAIR}/goals/{GOAL}/progress") == [
        {"status": "in_progress"}]
    assert "Отметка о ходе работы над целью сохранена" in me(portal).get("/my?saved=goal").text
    portal.api.on("POST", f"/pairing/pairs/{PAIR}/goals/{GOAL}/progress", {
        "code": "PAIR_CLOSED", "message": "Пара (группа) уже завершена: изменения не принимаются",
        "status": 409}, status=409)
    refused = me(portal).post(f"/my/pairs/{PAIR}/goals/{GOAL}", data={"status": "done"})
    assert refused.headers["location"].startswith("/my?error=")


def test_a_participant_answers_their_own_questionnaire(portal: PortalUnderTest) -> None:
    my_api(portal)
    form = me(portal).get(GROWTH)
    assert form.status_code == 200, form.text
    assert f'action="{GROWTH.replace("&", "&amp;")}"' in form.text and "← Мои пары" in form.text
    assert "Заполнять анкеты может только куратор" not in form.text
    counted: list[bool] = []

    def answered(request: httpx.Request) -> httpx.Response:
        counted.append(True)  # counted as soon as it was sent
        return httpx.Response(200, json=[{"respondent_id": MENTEE, "survey": "growth-student",
                                          "stage": "growth_entry", "pair_id": None}])

    portal.api.on("POST", "/monitoring/surveys", {"id": "x"}, status=201)
    portal.api.answers[("GET", "/monitoring/surveys/answered")] = answered
    questions = next(q for q in QUESTIONNAIRES if q["code"] == "growth-student")["question"]
    sent = me(portal).post(GROWTH, data={f"q_{q['key']}": "7" for q in questions})
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/my?recorded=growth-student"
    [body] = portal.api.sent("POST", "/monitoring/surveys")
    assert (body["organisation"], body["respondent_id"], body["respondent_role"], body["stage"]) \
        == (SCHOOL["path"], MENTEE, "mentee", "growth_entry")
    assert "Анкета сохранена" in me(portal).get("/my?recorded=growth-student").text


def test_a_partner_mentor_answers_where_the_pair_is_counted(portal: PortalUnderTest) -> None:
    """A mentor of another organisation answers about the pair at the mentees' school, whose
    curator sees what is answered and what is not."""
    my_api(portal)
    partner = "demo/m1/employer-1"
    mentor = portal.client(None)
    mentor.cookies.set(COOKIE, issue_token(Actor(user=MENTOR, role=Role.PARTICIPANT,
                                                 scope=OrgPath.parse(partner)), SECRET))
    portal.api.on("GET", "/auth/me", {"user": MENTOR, "role": "participant", "scope": partner,
                                      "holder": "person"})
    portal.api.on("POST", "/monitoring/surveys", {"id": "x"}, status=201)
    portal.api.on("GET", "/monitoring/surveys/answered", [{
        "respondent_id": MENTOR, "survey": "quality-mentor", "stage": "quality", "pair_id": PAIR}])
    url = f"/my/pairs/{PAIR}/surveys/quality-mentor?stage=quality"
    questions = next(q for q in QUESTIONNAIRES if q["code"] == "quality-mentor")["question"]
    sent = mentor.post(url, data={f"q_{q['key']}": "8" for q in questions})
    assert (sent.status_code, sent.headers["location"]) == (303, "/my?recorded=quality-mentor")
    [body] = portal.api.sent("POST", "/monitoring/surveys")
    assert (body["organisation"], body["respondent_id"], body["pair_id"]) == (
        SCHOOL["path"], MENTOR, PAIR)


def test_a_questionnaire_not_meant_for_me_is_not_found(portal: PortalUnderTest) -> None:
    my_api(portal)
    mentors = me(portal).get(f"/my/pairs/{PAIR}/surveys/quality-mentor?stage=quality")
    assert mentors.status_code == 404


def test_my_pairs_open_while_monitoring_is_down(portal: PortalUnderTest) -> None:
    my_api(portal)
    portal.api.on("GET", "/monitoring/questionnaires", {
        "code": "MONITORING_UNAVAILABLE", "message": "недоступен", "status": 503}, status=503)
    page = me(portal).get("/my")
    assert page.status_code == 200 and "Анкеты сейчас недоступны" in page.text
    assert "Подготовиться к олимпиаде" in page.text
