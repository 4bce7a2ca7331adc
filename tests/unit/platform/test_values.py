"""Plausible dates and strict numbers in commands (issue 18, Low): 0001-01-01 and 9999-12-31
were accepted for goals, ``capacity: true`` was taken as 1."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.pairing.commands import HoldMeeting, SetGoal
from services.registry.commands import RegisterMentor
from shared.values import EARLIEST_WORK_DATE, LATEST_WORK_DATE
from shared.web import install_error_handlers

PERSON = {"last_name": "Смирнова", "first_name": "Елена", "birth_date": "1980-10-12"}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/goal")
    def goal(body: SetGoal) -> dict[str, Any]:
        return {}

    @app.post("/meeting")
    def meeting(body: HoldMeeting) -> dict[str, Any]:
        return {}

    @app.post("/mentor")
    def mentor(body: RegisterMentor) -> dict[str, Any]:
        return {}

    return TestClient(app)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2100-01-01"])
def test_dates_outside_the_programme_range_are_refused_in_russian(client: TestClient, day: str) -> None:
    for url, body in (("/goal", {"title": "Олимпиада", "due": day}),
                      ("/meeting", {"kind": "regular", "date": day, "duration_minutes": 45})):
        answer = client.post(url, json=body)
        assert answer.status_code == 422, answer.text
        detail = answer.json()["details"][0]
        assert detail["code"] == "IMPLAUSIBLE_DATE"
        assert f"{EARLIEST_WORK_DATE:%d.%m.%Y}" in detail["message"]
        assert f"{LATEST_WORK_DATE:%d.%m.%Y}" in detail["message"]


def test_dates_inside_the_range_pass(client: TestClient) -> None:
    assert client.post("/goal", json={"title": "Олимпиада", "due": "2026-05-20"}).status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_birth_dates_no_participant_can_have_are_refused(client: TestClient, day: str) -> None:
    body = {"organisation_id": "4f1c3c4e-8a2b-4c55-9d8e-0c6a0a1b2c3d", "category": "teacher",
            "person": {**PERSON, "birth_date": day}, "consent_given_by": "self"}
    answer = client.post("/mentor", json=body)
    assert answer.status_code == 422
    assert answer.json()["details"][0]["code"] in ("IMPLAUSIBLE_DATE", "INVALID_DATE")


@pytest.mark.parametrize("capacity", [True, "3", 2.5])
def test_numbers_must_arrive_as_numbers(client: TestClient, capacity: Any) -> None:
    body = {"organisation_id": "4f1c3c4e-8a2b-4c55-9d8e-0c6a0a1b2c3d", "category": "teacher",
            "person": PERSON, "consent_given_by": "self", "capacity": capacity}
    answer = client.post("/mentor", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["details"][0]["field"] == "capacity"
    assert "целое число" in answer.json()["message"]
    assert client.post("/mentor", json={**body, "capacity": 3}).status_code == 200
    # JSON Schema's integer, as the OpenAPI document says: a number without a fraction.
    assert client.post("/mentor", json={**body, "capacity": 3.0}).status_code == 200
