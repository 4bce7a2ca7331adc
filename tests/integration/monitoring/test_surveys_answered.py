"""``GET /monitoring/surveys/answered``: which questionnaires were answered, read from the fold
state the dashboards keep, within the caller's reach only, and never the scores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.monitoring.api import router
from services.monitoring.audit.feeder import init_key
from services.monitoring.dashboards import DashboardFold, write_state
from services.monitoring.runtime import MonitoringRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.settings import Settings
from shared.web import install_error_handlers

A, B = "demo/m1/school-a", "demo/m1/school-b"


@pytest.fixture
def monitoring(settings: Settings) -> Iterator[tuple[TestClient, MonitoringRuntime]]:
    init_key(settings, exist_ok=True)  # the explicit step before the service's first start
    runtime = MonitoringRuntime(settings, head_interval=60, calendar_interval=3600)
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = settings
    app.state.monitoring = runtime
    app.include_router(router)
    try:
        with TestClient(app) as client:
            yield client, runtime
    finally:
        runtime.close()


def survey(path: str, code: str, stage: str, role: str, respondent: str | None,
           pair: str | None = None, score: int = 8) -> dict[str, Any]:
    org = OrgPath.parse(path)
    return {"type": "SurveyRecorded", "schema_version": 1, "org": org.model_dump(),
            "payload": {"survey": code, "stage": stage, "respondent_role": role,
                        "respondent_id": respondent, "pair_id": pair, "form": "student-student",
                        "scores": {"overall": score} if stage == "quality" else
                        {"motivation_learning": score}}}


def headers(settings: Settings, role: Role, scope: str) -> dict[str, str]:
    token = issue_token(Actor(user="t", role=role, scope=OrgPath.parse(scope)), settings.signing_secret)
    return {"Authorization": f"Bearer {token}"}


def test_answered_surveys_by_respondent_and_pair_within_reach(
        monitoring: tuple[TestClient, MonitoringRuntime], settings: Settings) -> None:
    client, runtime = monitoring
    mentor, mentee, stranger, pair = (str(uuid4()) for _ in range(4))
    fold = DashboardFold(runtime.fold_settings)
    for envelope in (survey(A, "quality-mentor", "quality", "mentor", mentor, pair),
                     survey(A, "growth-student", "growth_entry", "mentee", mentee, pair),
                     survey(A, "quality-mentee", "quality", "mentee", mentee, pair, 9),
                     survey(B, "quality-mentee", "quality", "mentee", stranger, pair),
                     survey(A, "quality-mentee", "quality", "mentee", None, pair)):  # anonymous
        fold.apply(envelope)
    with runtime.engine.begin() as conn:
        write_state(conn, fold.take_dirty())

    asked = [f"{mentor}:{pair}", f"{mentee}:{pair}", mentee, f"{stranger}:{pair}"]
    response = client.get("/monitoring/surveys/answered", params={"respondent": asked},
                          headers=headers(settings, Role.CURATOR, A))
    assert response.status_code == 200, response.text
    assert response.json() == sorted([
        {"respondent_id": mentor, "survey": "quality-mentor", "stage": "quality", "pair_id": pair},
        {"respondent_id": mentee, "survey": "growth-student", "stage": "growth_entry", "pair_id": None},
        {"respondent_id": mentee, "survey": "quality-mentee", "stage": "quality", "pair_id": pair},
    ], key=lambda a: (a["respondent_id"], a["survey"], a["stage"]))  # school B's answer left out

    # the municipality sees both schools' answers; another school's curator is refused
    both = client.get("/monitoring/surveys/answered", params={"respondent": asked, "org": "demo/m1"},
                      headers=headers(settings, Role.MUNICIPAL, "demo/m1")).json()
    assert {a["respondent_id"] for a in both} == {mentor, mentee, stranger}
    refused = client.get("/monitoring/surveys/answered", params={"respondent": asked, "org": A},
                         headers=headers(settings, Role.CURATOR, B))
    assert refused.status_code == 403
    bad = client.get("/monitoring/surveys/answered", params={"respondent": ["not-an-id"]},
                     headers=headers(settings, Role.CURATOR, A))
    assert bad.status_code == 422 and "id пары" in bad.json()["message"]
    too_many = client.get("/monitoring/surveys/answered", params={"respondent": [mentor] * 201},
                          headers=headers(settings, Role.CURATOR, A))
    assert too_many.status_code == 422


def test_a_partner_mentor_answers_about_the_pair_where_it_is_counted(
        monitoring: tuple[TestClient, MonitoringRuntime], settings: Settings) -> None:
    """A mentor of another organisation (a confirmed cross-organisation pair) answers about the
    pair at the mentees' school: its curator sees the answer, the mentor does too; anyone else
    of the partner organisation may not answer there."""
    client, runtime = monitoring
    mentor, mentee, colleague, pair = (str(uuid4()) for _ in range(4))
    partner = "demo/m1/employer-1"
    fold = DashboardFold(runtime.fold_settings)
    fold.apply({"type": "PairProposalConfirmed", "schema_version": 1,
                "org": OrgPath.parse(A).model_dump(), "aggregate_id": pair,
                "occurred_at": "2026-10-01T09:00:00+00:00",
                "payload": {"mentor_id": mentor, "mentee_ids": [mentee],
                            "form": "employer-student"}})
    with runtime.engine.begin() as conn:
        write_state(conn, fold.take_dirty())
    questions = next(q for q in client.get("/monitoring/questionnaires", headers=headers(
        settings, Role.CURATOR, A)).json() if q["code"] == "quality-mentor")["question"]

    def answer(user: str) -> Any:
        token = issue_token(Actor(user=user, role=Role.PARTICIPANT, scope=OrgPath.parse(partner)),
                            settings.signing_secret)
        return client.post("/monitoring/surveys", headers={"Authorization": f"Bearer {token}"},
                           json={"organisation": A, "survey": "quality-mentor", "stage": "quality",
                                 "respondent_role": "mentor", "pair_id": pair,
                                 "answers": {q["key"]: 8 for q in questions}})

    refused = answer(colleague)
    assert (refused.status_code, refused.json()["message"]) == (403, "Анкета вне вашей организации")
    assert answer(mentor).status_code == 201
    for envelope in runtime.store.envelopes_after(0, 10):
        fold.apply(envelope.model_dump(mode="json"))
    with runtime.engine.begin() as conn:
        write_state(conn, fold.take_dirty())

    expected = [{"respondent_id": mentor, "survey": "quality-mentor", "stage": "quality",
                 "pair_id": pair}]
    asked = {"respondent": [f"{mentor}:{pair}"]}
    assert client.get("/monitoring/surveys/answered", params={**asked, "org": A},
                      headers=headers(settings, Role.CURATOR, A)).json() == expected
    own = issue_token(Actor(user=mentor, role=Role.PARTICIPANT, scope=OrgPath.parse(partner)),
                      settings.signing_secret)
    assert client.get("/monitoring/surveys/answered", params={**asked, "org": partner},
                      headers={"Authorization": f"Bearer {own}"}).json() == expected
