"""The registry over HTTP with a real NATS: what a curator does, and what they may not do."""

from __future__ import annotations

import asyncio
import copy
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest

from shared.auth import Role
from shared.contracts import Envelope, stream_name
from tests.integration.registry.conftest import Registry, School, mentee, mentor

CURATOR_A = "demo/m1/school-a"


def bus_events(registry: Registry) -> list[Envelope]:
    async def read() -> list[Envelope]:
        nc = await nats.connect(registry.settings.nats_url)
        js = nc.jetstream()
        stream = stream_name("registry")
        envelopes = []
        last = (await js.stream_info(stream)).state.last_seq
        for seq in range(1, last + 1):
            envelopes.append(Envelope.from_bytes((await js.get_msg(stream, seq=seq)).data))
        await nc.close()
        return envelopes

    return asyncio.run(read())


def wait_published(registry: Registry) -> list[Envelope]:
    for _ in range(200):
        events = bus_events(registry)
        if len(events) == registry.stored():
            return events
        asyncio.run(asyncio.sleep(0.05))
    raise AssertionError("events were stored but not published")


def test_curator_registers_mentor_and_mentee_and_the_bus_carries_no_personal_data(
        registry: Registry, schools: School) -> None:
    mentor_id = registry.post("/registry/mentors", mentor(schools.school_id),
                              Role.CURATOR, CURATOR_A).json()["id"]
    mentee_id = registry.post("/registry/mentees", mentee(schools.school_id),
                              Role.CURATOR, CURATOR_A).json()["id"]

    events = wait_published(registry)
    types = [e.type for e in events]
    assert types.count("OrganisationRegistered") == 4
    assert types[-4:] == ["MentorRegistered", "ConsentRecorded", "MenteeRegistered", "ConsentRecorded"]
    registered = next(e for e in events if e.type == "MenteeRegistered")
    assert str(registered.aggregate_id) == mentee_id
    assert registered.payload == {"organisation_id": schools.school_id, "category": "student",
                                  "grade": 7, "birth_year": 2013, "requests": ["олимпиада"],
                                  "minor": True}
    assert registered.actor.role == "curator" and str(registered.org) == CURATOR_A
    assert registered.subject == "nastavnik.registry.demo.m1.MenteeRegistered"
    wire = b"".join(e.to_bytes() for e in events).decode()
    for secret in ("Орлов", "Егор", "Петрова", "2013-05-02", "112-233-445", "Мария"):
        assert secret not in wire

    seen = registry.client.get(f"/registry/people/{mentor_id}",
                               headers=registry.headers(Role.CURATOR, CURATOR_A)).json()
    assert seen["full_name"] == "Петрова Анна Сергеевна"
    assert seen["can_be_paired"] is True


def test_personal_data_is_encrypted_at_rest(registry: Registry, schools: School) -> None:
    registry.post("/registry/mentees", mentee(schools.school_id), Role.CURATOR, CURATOR_A)
    for path in registry.settings.data_dir.rglob("*.sqlite*"):
        content = path.read_bytes()
        assert "Орлов".encode() not in content, path
        assert b"2013-05-02" not in content, path


@pytest.mark.parametrize("case, body, status, code", [
    ("unknown organisation", mentee(str(uuid4())), 404, "ORGANISATION_NOT_FOUND"),
    ("invalid SNILS", mentee("{school}", person={"snils": "112-233-445 96"}), 422, "VALIDATION_ERROR"),
    ("impossible date", mentee("{school}", person={"birth_date": "2013-02-30"}), 422, "VALIDATION_ERROR"),
    ("grade above 11", mentee("{school}", grade=12), 422, "VALIDATION_ERROR"),
    ("grade below 1", mentee("{school}", grade=0), 422, "VALIDATION_ERROR"),
    ("minor without guardian consent", mentee("{school}", consent_given_by="self"), 422,
     "GUARDIAN_CONSENT_REQUIRED"),
    ("minor without guardian name", mentee("{school}", person={"guardian_name": None}), 422,
     "GUARDIAN_CONSENT_REQUIRED"),
    ("name in latin letters", mentee("{school}", person={"last_name": "Orlov"}), 422, "VALIDATION_ERROR"),
    ("unknown category", mentee("{school}", category="astronaut"), 422, "INVALID_CATEGORY"),
])
def test_bad_input_is_refused_with_a_code_and_a_russian_message_and_changes_nothing(
        registry: Registry, schools: School, case: str, body: dict[str, Any], status: int,
        code: str) -> None:
    body = copy.deepcopy(body)
    if body["organisation_id"] == "{school}":
        body["organisation_id"] = schools.school_id
    before = registry.stored()
    response = registry.post("/registry/mentees", body, Role.CURATOR, CURATOR_A)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert any("а" <= ch <= "я" for ch in response.json()["message"].lower()), "Russian message"
    assert registry.stored() == before


def test_duplicate_person_in_one_organisation_is_409_but_allowed_elsewhere(
        registry: Registry, schools: School) -> None:
    assert registry.post("/registry/mentees", mentee(schools.school_id),
                         Role.CURATOR, CURATOR_A).status_code == 201
    before = registry.stored()
    again = mentee(schools.school_id, person={"last_name": "ОРЛОВ"})  # case does not matter
    response = registry.post("/registry/mentees", again, Role.CURATOR, CURATOR_A)
    assert response.status_code == 409 and response.json()["code"] == "DUPLICATE_PERSON"
    assert registry.stored() == before
    assert registry.post("/registry/mentees", mentee(schools.other_school_id), Role.CURATOR,
                         "demo/m1/school-b").status_code == 201


def test_roles_and_scopes(registry: Registry, schools: School) -> None:
    before = registry.stored()
    outside = registry.post("/registry/mentees", mentee(schools.other_school_id), Role.CURATOR, CURATOR_A)
    assert outside.status_code == 403 and outside.json()["code"] == "FORBIDDEN"
    auditor = registry.post("/registry/mentees", mentee(schools.school_id), Role.AUDITOR, "demo")
    assert auditor.status_code == 403
    anonymous = registry.client.post("/registry/mentees", json=mentee(schools.school_id))
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    forged = registry.client.post("/registry/mentees", json=mentee(schools.school_id),
                                  headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    curator_org = registry.post("/registry/organisations", {
        "code": "school-c", "name": "Школа", "kind": "school", "parent_id": schools.municipality_id},
        Role.CURATOR, CURATOR_A)
    assert curator_org.status_code == 403
    assert registry.stored() == before

    person_b = registry.post("/registry/mentees", mentee(schools.other_school_id), Role.MUNICIPAL,
                             "demo/m1").json()["id"]
    hidden = registry.client.get(f"/registry/people/{person_b}",
                                 headers=registry.headers(Role.CURATOR, CURATOR_A))
    assert hidden.status_code == 404  # no hint that the person exists
    listing = registry.client.get("/registry/organisations",
                                  headers=registry.headers(Role.CURATOR, CURATOR_A)).json()
    assert [o["path"] for o in listing] == [CURATOR_A]
    municipal = registry.client.get("/registry/organisations",
                                    headers=registry.headers(Role.MUNICIPAL, "demo/m1")).json()
    assert [o["path"] for o in municipal] == ["demo/m1", CURATOR_A, "demo/m1/school-b"]


def test_duplicate_organisation_code_and_wrong_hierarchy(registry: Registry, schools: School) -> None:
    again = registry.post("/registry/organisations", {
        "code": "school-a", "name": "Ещё", "kind": "school", "parent_id": schools.municipality_id})
    assert again.status_code == 409 and again.json()["code"] == "DUPLICATE_ORGANISATION"
    under_school = registry.post("/registry/organisations", {
        "code": "x", "name": "Филиал", "kind": "school", "parent_id": schools.school_id})
    assert under_school.status_code == 422 and under_school.json()["code"] == "INVALID_PARENT"
    missing = registry.post("/registry/organisations", {
        "code": "y", "name": "Школа", "kind": "school", "parent_id": str(uuid4())})
    assert missing.status_code == 404


def test_contingent_is_declared_and_checked(registry: Registry, schools: School) -> None:
    figures = {"school_year": "2025-2026", "students_total": 800, "students_10_19": 500,
               "students_15_19": 150, "teachers_total": 60, "young_teachers": 8}
    url = f"/registry/organisations/{schools.school_id}/contingent"
    headers = registry.headers(Role.CURATOR, CURATOR_A)
    assert registry.client.put(url, json=figures, headers=headers).status_code == 204
    bad = registry.client.put(url, json={**figures, "students_10_19": 900}, headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_CONTINGENT"
    wrong_year = registry.client.put(url, json={**figures, "school_year": "2025-2027"}, headers=headers)
    assert wrong_year.status_code == 422
    organisation = registry.client.get(f"/registry/organisations/{schools.school_id}",
                                       headers=headers).json()
    assert organisation["contingents"]["2025-2026"]["students_10_19"] == 500
    assert "ContingentDeclared" in [e.type for e in wait_published(registry)]


def test_withdrawn_consent_erases_the_name_everywhere_but_keeps_counts_and_history(
        registry: Registry, schools: School, capfd: pytest.CaptureFixture[str]) -> None:
    headers = registry.headers(Role.CURATOR, CURATOR_A)
    person_id = registry.post("/registry/mentees", mentee(schools.school_id),
                              Role.CURATOR, CURATOR_A).json()["id"]
    registry.post("/registry/mentors", mentor(schools.school_id), Role.CURATOR, CURATOR_A)
    response = registry.client.post(f"/registry/people/{person_id}/consent/withdraw",
                                    json={"reason": "заявление родителя"}, headers=headers)
    assert response.status_code == 204

    person = registry.client.get(f"/registry/people/{person_id}", headers=headers).json()
    assert person["full_name"] is None and person["personal"] is None
    assert person["withdrawn"] is True and person["can_be_paired"] is False
    people = registry.client.get(f"/registry/organisations/{schools.school_id}/people",
                                 headers=headers).json()
    assert len(people) == 2  # the count stays
    assert "Орлов" not in str(people)
    twice = registry.client.post(f"/registry/people/{person_id}/consent/withdraw", json={},
                                 headers=headers)
    assert twice.status_code == 409

    events = wait_published(registry)
    assert [e.type for e in events if str(e.aggregate_id) == person_id] == [
        "MenteeRegistered", "ConsentRecorded", "ConsentWithdrawn"]
    # The ciphertext is still in the event store, but without the key it opens to nothing.
    stored = registry.runtime.service.events.repository.get(UUID(person_id), version=1)
    with registry.runtime.service.engine.connect() as conn:
        assert registry.runtime.service.vault.open(conn, stored.id, stored.sealed) is None
    # The same person may be registered again (a new consent), as a new record.
    assert registry.post("/registry/mentees", mentee(schools.school_id),
                         Role.CURATOR, CURATOR_A).status_code == 201
    logs = capfd.readouterr()
    assert "Орлов" not in logs.out + logs.err
