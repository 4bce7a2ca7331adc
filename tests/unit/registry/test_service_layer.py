"""The registry's service layer alone: consent, rights by organisation path, names for documents,
on an in-memory store (no NATS)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.registry.application import RegistryService
from services.registry.commands import (
    PersonalData,
    RegisterMentee,
    RegisterMentor,
    RegisterOrganisation,
    WithdrawConsent,
)
from shared.auth import OrgPath, Role
from shared.errors import DomainError
from shared.store import CommandContext
from tests.unit.registry.conftest import MUNICIPALITY, REGION, SCHOOL_A, SCHOOL_B, Region, acting


def refused(code: str, call, *args: Any) -> DomainError:  # noqa: ANN001
    with pytest.raises(DomainError) as info:
        call(*args)
    assert info.value.code == code, info.value
    return info.value


def mentee(organisation_id: UUID, born: date = date(2012, 3, 14), guardian: bool = True,
           last_name: str = "Петрова") -> RegisterMentee:
    return RegisterMentee(
        organisation_id=organisation_id, category="student", grade=7,
        consent_given_by="guardian" if guardian else "self",
        person=PersonalData(last_name=last_name, first_name="Анна", birth_date=born,
                            guardian_name="Петрова Ольга Николаевна" if guardian else None))


def mentor(organisation_id: UUID, capacity: int = 2) -> RegisterMentor:
    return RegisterMentor(
        organisation_id=organisation_id, category="teacher", capacity=capacity,
        consent_given_by="self", competencies=["математика"],
        person=PersonalData(last_name="Смирнов", first_name="Алексей", birth_date=date(1985, 9, 22)))


def curator(school: OrgPath) -> CommandContext:
    return acting(Role.CURATOR, school)


def test_a_minor_mentee_needs_a_guardian_consent(registry: RegistryService, region: Region) -> None:
    school = region.ids[SCHOOL_A]
    refused("GUARDIAN_CONSENT_REQUIRED", registry.register_people, curator(SCHOOL_A),
            [mentee(school, guardian=False)])
    assert registry.list_people(curator(SCHOOL_A).actor, school) == []
    [person_id] = registry.register_people(curator(SCHOOL_A), [mentee(school)])
    person = registry.get_person(curator(SCHOOL_A).actor, person_id)
    assert (person["consent"], person["minor"], person["full_name"]) == ("guardian", True, "Петрова Анна")


def test_an_adult_mentee_consents_for_themself(registry: RegistryService, region: Region) -> None:
    [person_id] = registry.register_people(curator(SCHOOL_A), [
        mentee(region.ids[SCHOOL_A], born=date(2000, 1, 1), guardian=False)])
    assert registry.get_person(curator(SCHOOL_A).actor, person_id)["consent"] == "self"


def test_a_curator_of_school_a_cannot_act_on_school_b(registry: RegistryService, region: Region) -> None:
    refused("FORBIDDEN", registry.register_people, curator(SCHOOL_A), [mentee(region.ids[SCHOOL_B])])
    [theirs] = registry.register_people(curator(SCHOOL_B), [mentee(region.ids[SCHOOL_B])])
    # Someone else's person answers as if there were none.
    refused("PERSON_NOT_FOUND", registry.get_person, curator(SCHOOL_A).actor, theirs)
    refused("PERSON_NOT_FOUND", registry.withdraw_consent, curator(SCHOOL_A), theirs, WithdrawConsent())
    refused("FORBIDDEN", registry.list_people, curator(SCHOOL_A).actor, region.ids[SCHOOL_B])
    assert [o["path"] for o in registry.list_organisations(curator(SCHOOL_A).actor)] == [str(SCHOOL_A)]
    municipal = acting(Role.MUNICIPAL, MUNICIPALITY).actor
    assert registry.get_person(municipal, theirs)["id"] == str(theirs)


def test_an_auditor_reads_but_never_registers(registry: RegistryService, region: Region) -> None:
    auditor = acting(Role.AUDITOR, OrgPath(region=REGION))
    refused("FORBIDDEN", registry.register_people, auditor, [mentor(region.ids[SCHOOL_A])])
    assert len(registry.list_organisations(auditor.actor)) == 4


def test_only_the_regional_operator_registers_a_region(registry: RegistryService) -> None:
    new_region = RegisterOrganisation(code="other", name="Другой регион", kind="region")
    refused("FORBIDDEN", registry.register_organisation, curator(SCHOOL_A), new_region)
    refused("FORBIDDEN", registry.register_organisation, acting(Role.REGIONAL, OrgPath(region=REGION)),
            new_region)  # not their region
    registry.register_organisation(acting(Role.REGIONAL, OrgPath(region="other")), new_region)
    refused("DUPLICATE_ORGANISATION", registry.register_organisation,
            acting(Role.REGIONAL, OrgPath(region="other")), new_region)


def test_one_person_is_registered_once_per_organisation(registry: RegistryService, region: Region) -> None:
    registry.register_people(curator(SCHOOL_A), [mentee(region.ids[SCHOOL_A])])
    error = refused("DUPLICATE_PERSON", registry.register_people, curator(SCHOOL_A),
                    [mentee(region.ids[SCHOOL_A], last_name="Иванова"), mentee(region.ids[SCHOOL_A])])
    assert error.details == [{"index": 1}]
    registry.register_people(curator(SCHOOL_B), [mentee(region.ids[SCHOOL_B])])  # another school


def test_withdrawn_consent_shreds_the_personal_data(registry: RegistryService, region: Region) -> None:
    [person_id] = registry.register_people(curator(SCHOOL_A), [mentee(region.ids[SCHOOL_A])])
    registry.withdraw_consent(curator(SCHOOL_A), person_id, WithdrawConsent(reason="по заявлению"))
    person = registry.get_person(curator(SCHOOL_A).actor, person_id)
    assert (person["withdrawn"], person["personal"], person["full_name"]) == (True, None, None)
    refused("CONSENT_ALREADY_WITHDRAWN", registry.withdraw_consent, curator(SCHOOL_A), person_id,
            WithdrawConsent())


def test_names_for_a_document_only_within_reach(registry: RegistryService, region: Region) -> None:
    [ours, gone] = registry.register_people(curator(SCHOOL_A), [
        mentee(region.ids[SCHOOL_A]), mentor(region.ids[SCHOOL_A])])
    [theirs] = registry.register_people(curator(SCHOOL_B), [mentee(region.ids[SCHOOL_B])])
    registry.withdraw_consent(curator(SCHOOL_A), gone, WithdrawConsent())
    unknown = uuid4()
    answer = registry.names_for_document(curator(SCHOOL_A).actor,
                                         [str(ours), str(gone), str(theirs), str(unknown), str(ours)])
    assert list(answer["people"]) == [str(ours)]
    assert answer["people"][str(ours)]["full_name"] == "Петрова Анна"
    assert answer["people"][str(ours)]["guardian_name"] == "Петрова Ольга Николаевна"
    assert answer["missing"] == [str(gone), str(theirs), str(unknown)]


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.PARTICIPANT])
def test_names_are_not_given_to_who_issues_no_documents(registry: RegistryService, region: Region,
                                                        role: Role) -> None:
    actor = acting(role, SCHOOL_A, user=str(uuid4())).actor
    refused("FORBIDDEN", registry.names_for_document, actor, [str(uuid4())])


def test_a_names_request_is_a_bounded_list_of_ids(registry: RegistryService, region: Region) -> None:
    actor = curator(SCHOOL_A).actor
    refused("INVALID_REQUEST", registry.names_for_document, actor, "not a list")
    refused("INVALID_REQUEST", registry.names_for_document, actor, ["not an id"])
    refused("INVALID_REQUEST", registry.names_for_document, actor, [str(uuid4())] * 2001)
