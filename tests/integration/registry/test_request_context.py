"""What a request carries beyond its data reaches the logs and the error answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
import structlog
from structlog.testing import LogCapture

from shared.auth import Role
from tests.integration.registry.conftest import Registry, School, mentee

CURATOR_A = "demo/m1/school-a"


@pytest.fixture
def logged(registry: Registry) -> Iterator[list[dict[str, Any]]]:
    """Log entries as the app's own pipeline merges them (the request's context included),
    captured instead of printed; the app's configuration is restored afterwards."""
    config = structlog.get_config()
    capture = LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, capture])
    try:
        yield capture.entries
    finally:
        structlog.configure(**config)


def test_a_commands_log_lines_carry_the_actor_and_the_correlation_id(
        registry: Registry, schools: School, logged: list[dict[str, Any]]) -> None:
    correlation = uuid4()
    headers = {**registry.headers(Role.MUNICIPAL, "demo/m1", user="inspector-7"),
               "X-Correlation-Id": str(correlation)}
    response = registry.client.post("/registry/organisations", headers=headers, json={
        "code": "school-c", "name": "Школа C", "kind": "school",
        "parent_id": schools.municipality_id})
    assert response.status_code == 201, response.text
    lines = [e for e in logged if e["event"] == "registry.organisation_registered"]
    assert len(lines) == 1, logged
    assert lines[0]["actor"] == "inspector-7"
    assert lines[0]["role"] == "municipal"
    assert lines[0]["correlation_id"] == str(correlation)
    # The next request starts clean: nothing of this one leaks into its lines.
    logged.clear()
    registry.client.post("/registry/organisations", headers=registry.headers(Role.REGIONAL, "demo"),
                         json={"code": "school-d", "name": "Школа D", "kind": "school",
                               "parent_id": schools.municipality_id})
    later = [e for e in logged if e["event"] == "registry.organisation_registered"]
    assert len(later) == 1 and later[0]["actor"] == "tester"
    assert later[0]["correlation_id"] != str(correlation)


@pytest.mark.parametrize("person, field, code", [
    ({"snils": "112-233-445 96"}, "person.snils", "INVALID_SNILS"),
    ({"birth_date": "1890-01-01"}, "person.birth_date", "IMPLAUSIBLE_DATE"),
    ({"last_name": "Orlov"}, "person.last_name", "INVALID_NAME"),
    ({"guardian_name": "Мария"}, "person.guardian_name", "INVALID_NAME"),
])
def test_a_validators_own_code_and_field_are_in_the_answer(
        registry: Registry, schools: School, person: dict[str, str], field: str, code: str) -> None:
    response = registry.post("/registry/mentees", mentee(schools.school_id, person=person),
                             Role.CURATOR, CURATOR_A)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"  # the category of the answer, as before
    assert [(d["field"], d["code"]) for d in body["details"]] == [(field, code)]
    assert any("а" <= ch <= "я" for ch in body["details"][0]["message"].lower())
    # Pydantic's own checks keep their codes.
    grade = registry.post("/registry/mentees", mentee(schools.school_id, grade=12), Role.CURATOR,
                          CURATOR_A).json()
    assert [(d["field"], d["code"]) for d in grade["details"]] == [("grade", "less_than_equal")]
