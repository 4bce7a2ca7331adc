"""Minimisation (152-ФЗ, ст. 5): officials above the school see children as pseudonymous labels,
an adult mentor by name only, auditors ids; the school's curator sees everything; a role the
region configured sees names. The one policy (``shared.auth.personal_data_view``), the label, and
the registry's service layer that applies them."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from services.registry.application import RegistryService
from services.registry.commands import PersonalData, RegisterMentee, RegisterMentor, WithdrawConsent
from services.registry.vault import Vault
from shared.auth import Actor as AuthActor
from shared.auth import (
    OrgPath,
    PersonalView,
    Role,
    may_read_personal_data,
    paired_mentor_view,
    personal_data_view,
)
from shared.settings import Settings
from tests.unit.registry.conftest import MUNICIPALITY, REGION, SCHOOL_A, SCHOOL_B, Region, acting

CHILD = ("Зайцева", "Мария", "Зайцева Ольга Николаевна", date(2012, 3, 14))
TEEN_MENTOR = ("Кузнецов", "Пётр", "Кузнецова Анна Павловна", date(2009, 5, 2))
TEACHER = ("Смирнов", "Алексей", None, date(1985, 9, 22))


def actor(role: Role, scope: OrgPath) -> AuthActor:
    return AuthActor(user=f"{role.value}-user", role=role, scope=scope)


REGIONAL = actor(Role.REGIONAL, OrgPath(region=REGION))
MUNICIPAL = actor(Role.MUNICIPAL, MUNICIPALITY)
AUDITOR = actor(Role.AUDITOR, OrgPath(region=REGION))
CURATOR = actor(Role.CURATOR, SCHOOL_A)


# --- the policy ------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "protected", "configured", "expected"), [
    (CURATOR, True, (), PersonalView.FULL),
    (CURATOR, False, (), PersonalView.FULL),
    (MUNICIPAL, True, (), PersonalView.LABEL),
    (MUNICIPAL, False, (), PersonalView.NAME),
    (REGIONAL, True, (), PersonalView.LABEL),
    (REGIONAL, False, (), PersonalView.NAME),
    (AUDITOR, True, (), PersonalView.IDS),
    (AUDITOR, False, (), PersonalView.IDS),
    (REGIONAL, True, ("regional",), PersonalView.FULL),
    (MUNICIPAL, True, ("regional",), PersonalView.LABEL),  # configured for the region only
    (MUNICIPAL, True, ("municipal", "regional"), PersonalView.FULL),
    (AUDITOR, True, ("auditor",), PersonalView.FULL),
    (actor(Role.PARTICIPANT, SCHOOL_A), True, ("regional",), PersonalView.IDS),
])
def test_one_policy_decides_how_much_of_a_person_a_reader_sees(
        who: AuthActor, protected: bool, configured: tuple[str, ...], expected: PersonalView) -> None:
    assert personal_data_view(who, SCHOOL_A, protected=protected, names_visible_to=configured) \
        is expected
    assert may_read_personal_data(who, SCHOOL_A, protected=protected,
                                  names_visible_to=configured) is (
        expected in (PersonalView.FULL, PersonalView.NAME))


def test_a_curator_of_another_school_gets_a_label_not_the_data() -> None:
    other = actor(Role.CURATOR, SCHOOL_B)
    assert personal_data_view(other, SCHOOL_A, protected=True) is PersonalView.LABEL


def test_the_configured_roles_are_checked_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, names_visible_to="regional, municipal")
    assert settings.names_visible_to == ["regional", "municipal"]
    assert Settings(data_dir=tmp_path).names_visible_to == []
    with pytest.raises(ValueError, match="NAMES_VISIBLE_TO"):
        Settings(data_dir=tmp_path, names_visible_to="regoinal")


# --- the label -------------------------------------------------------------------------------

def vault(folder: Path) -> Vault:
    return Vault(sa.create_engine("sqlite://"), folder)


def test_a_label_is_stable_distinct_and_not_the_id(tmp_path: Path) -> None:
    here = vault(tmp_path / "secrets")
    ids = [uuid4() for _ in range(500)]
    labels = [here.label(i, "mentee") for i in ids]
    assert labels == [here.label(i, "mentee") for i in ids]  # stable
    assert vault(tmp_path / "secrets").label(ids[0], "mentee") == labels[0]  # after a restart
    assert len(set(labels)) == len(labels)  # distinct
    for person_id, label in zip(ids, labels, strict=True):
        assert re.fullmatch(r"Наставляемый №[0-9A-F]{4}-[0-9A-F]{4}", label), label
        code = label.split("№")[1].replace("-", "").lower()
        assert code not in person_id.hex  # not a piece of the id
    assert here.label(ids[0], "mentor").startswith("Наставник №")
    # Another deployment's key gives other labels: no way back without this registry's key.
    assert vault(tmp_path / "elsewhere").label(ids[0], "mentee") != labels[0]


# --- the registry applies it ----------------------------------------------------------------

def person(role: str, organisation_id: UUID, who: tuple[str, str, str | None, date],
           ) -> RegisterMentee | RegisterMentor:
    last, first, guardian, born = who
    data = PersonalData(last_name=last, first_name=first, middle_name="Ивановна" if role == "mentee"
                        else "Иванович", birth_date=born, guardian_name=guardian,
                        phone="+79001234567")
    common = {"organisation_id": organisation_id, "person": data,
              "consent_given_by": "guardian" if guardian else "self"}
    if role == "mentee":
        return RegisterMentee(**common, category="student", grade=7)
    category = "student" if guardian else "teacher"
    return RegisterMentor(**common, category=category, grade=10 if guardian else None,
                          capacity=2, competencies=["математика"])


@pytest.fixture
def people(registry: RegistryService, region: Region) -> dict[str, UUID]:
    school = region.ids[SCHOOL_A]
    child, teen, teacher = registry.register_people(acting(Role.CURATOR, SCHOOL_A), [
        person("mentee", school, CHILD), person("mentor", school, TEEN_MENTOR),
        person("mentor", school, TEACHER)])
    return {"child": child, "teen": teen, "teacher": teacher}


def secrets_of(*who: tuple[str, str, str | None, date]) -> list[str]:
    found: list[str] = []
    for last, _first, guardian, born in who:
        found += [last, born.isoformat(), "+79001234567", *([guardian] if guardian else [])]
    return found


@pytest.mark.parametrize("official", [MUNICIPAL, REGIONAL])
def test_officials_see_children_as_labels_and_adult_mentors_by_name_only(
        registry: RegistryService, region: Region, people: dict[str, UUID], official: AuthActor) -> None:
    listed = registry.list_people(official, region.ids[SCHOOL_A])
    raw = json.dumps(listed, ensure_ascii=False)
    for secret in secrets_of(CHILD, TEEN_MENTOR):
        assert secret not in raw
    assert TEACHER[3].isoformat() not in raw and "+79001234567" not in raw
    by_id = {p["id"]: p for p in listed}
    child = by_id[str(people["child"])]
    assert child["names_hidden"] and child["full_name"] is None and child["personal"] is None
    assert child["birth_year"] is None
    assert child["label"] == registry.vault.label(people["child"], "mentee")
    assert by_id[str(people["teen"])]["label"].startswith("Наставник №")
    teacher = by_id[str(people["teacher"])]
    assert teacher["full_name"] == "Смирнов Алексей Иванович" and not teacher["names_hidden"]
    assert set(teacher["personal"]) == {"last_name", "first_name", "middle_name"}
    card = registry.get_person(official, people["child"])
    assert card["full_name"] is None and card["label"] == child["label"]
    # A search cannot ask whether a hidden name is there; a label is found.
    assert registry.list_people(official, region.ids[SCHOOL_A], search=CHILD[0]) == []
    assert [p["id"] for p in registry.list_people(official, region.ids[SCHOOL_A],
                                                  search=child["label"])] == [str(people["child"])]


def test_an_auditor_sees_ids_only(registry: RegistryService, region: Region,
                                  people: dict[str, UUID]) -> None:
    listed = registry.list_people(AUDITOR, region.ids[SCHOOL_A])
    raw = json.dumps(listed, ensure_ascii=False)
    for secret in [*secrets_of(CHILD, TEEN_MENTOR, TEACHER), "Наставляемый №", "Наставник №"]:
        assert secret not in raw
    assert {p["id"] for p in listed} == {str(i) for i in people.values()}


def test_the_curator_of_the_school_sees_everything(registry: RegistryService, region: Region,
                                                   people: dict[str, UUID]) -> None:
    listed = registry.list_people(CURATOR, region.ids[SCHOOL_A])
    raw = json.dumps(listed, ensure_ascii=False)
    for secret in secrets_of(CHILD, TEEN_MENTOR, TEACHER):
        assert secret in raw
    child = registry.get_person(CURATOR, people["child"])
    assert child["personal"]["guardian_name"] == CHILD[2] and not child["names_hidden"]
    assert child["label"] == registry.vault.label(people["child"], "mentee")  # shared vocabulary


def test_a_configured_role_sees_names(registry: RegistryService, region: Region,
                                      people: dict[str, UUID]) -> None:
    registry.settings = registry.settings.model_copy(update={"names_visible_to": ["regional"]})
    child = registry.get_person(REGIONAL, people["child"])
    assert child["full_name"] == "Зайцева Мария Ивановна"
    assert child["personal"]["guardian_name"] == CHILD[2]
    assert registry.get_person(MUNICIPAL, people["child"])["full_name"] is None


def test_documents_an_official_issues_get_labels_for_children(
        registry: RegistryService, region: Region, people: dict[str, UUID]) -> None:
    answer = registry.names_for_document(MUNICIPAL, [str(i) for i in people.values()])
    raw = json.dumps(answer, ensure_ascii=False)
    for secret in secrets_of(CHILD, TEEN_MENTOR):
        assert secret not in raw
    child = answer["people"][str(people["child"])]
    assert child["pseudonymous"] and child["full_name"].startswith("Наставляемый №")
    assert child["birth_date"] is None and child["guardian_name"] is None
    teacher = answer["people"][str(people["teacher"])]
    assert (teacher["full_name"], teacher["pseudonymous"], teacher["birth_date"]) == (
        "Смирнов Алексей Иванович", False, None)
    curator = registry.names_for_document(CURATOR, [str(people["child"])])["people"]
    assert curator[str(people["child"])]["guardian_name"] == CHILD[2]


def test_a_label_read_is_not_recorded_as_a_read_of_personal_data(
        registry: RegistryService, region: Region, people: dict[str, UUID]) -> None:
    def accessed() -> list[str]:
        return [n.topic for n in registry.events.recorder.select_notifications(start=1, limit=100_000)
                if n.topic.endswith("PersonalDataAccessed")]

    before = len(accessed())
    registry.get_person(MUNICIPAL, people["child"])
    assert len(accessed()) == before
    registry.get_person(MUNICIPAL, people["teacher"])
    registry.get_person(CURATOR, people["child"])
    assert len(accessed()) == before + 2


def test_a_withdrawn_child_is_named_by_no_document_not_even_by_label(
        registry: RegistryService, region: Region, people: dict[str, UUID]) -> None:
    registry.withdraw_consent(acting(Role.CURATOR, SCHOOL_A), people["child"], WithdrawConsent())
    answer = registry.names_for_document(MUNICIPAL, [str(people["child"])])
    assert answer == {"people": {}, "missing": [str(people["child"])]}


def test_a_confirmed_pair_grants_the_other_schools_curator_an_adult_mentors_name_only(
        registry: RegistryService, region: Region, people: dict[str, UUID]) -> None:
    other = actor(Role.CURATOR, SCHOOL_B)
    ids = [str(people[k]) for k in ("teacher", "teen", "child")]
    # Without a pair: someone else's people, as if unknown.
    assert registry.names_for_document(other, ids)["people"] == {}
    answer = registry.names_for_document(other, ids, paired_mentor_ids=ids)
    teacher = answer["people"][str(people["teacher"])]
    assert (teacher["full_name"], teacher["birth_date"], teacher["pseudonymous"]) == (
        "Смирнов Алексей Иванович", None, False)
    # A minor mentor and a mentee are never granted by a pair.
    assert sorted(answer["missing"]) == sorted(ids[1:])
    assert paired_mentor_view(MUNICIPAL, protected=False) is None
    assert paired_mentor_view(other, protected=True) is None
