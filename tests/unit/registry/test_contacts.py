"""Where notifications go (``services.registry.contacts``): an official's address sealed at rest,
mail switched off honoured, a participant's address from their record until consent is
withdrawn, and only the system (the notifications' mailer) is told any address."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from services.registry.application import RegistryService
from services.registry.commands import PersonalData, RegisterMentor, WithdrawConsent
from shared.auth import Actor, OrgPath, Role, system_actor
from shared.errors import DomainError
from tests.unit.registry.conftest import REGION, SCHOOL_A, Region, acting

PASSWORD = "Zorkiy-lis-na-rassvete-42"


def official(registry: RegistryService, login: str) -> Actor:
    admin = acting(Role.REGIONAL, OrgPath(region=REGION)).actor
    registry.accounts.create_account(admin, login, PASSWORD, Role.CURATOR, str(SCHOOL_A))
    return Actor(user=login, role=Role.CURATOR, scope=SCHOOL_A)


def test_officials_are_mailed_at_their_sealed_address_unless_they_switched_mail_off(
        registry: RegistryService, region: Region) -> None:
    on, off = official(registry, "kurator-on"), official(registry, "kurator-off")
    registry.contacts.update(on, "ivanova@school-a.ru", True)
    registry.contacts.update(off, "petrova@school-a.ru", False)
    assert registry.contacts.settings_of(off) == {"email": "petrova@school-a.ru",
                                                   "email_enabled": False}
    audience = f"role:curator:{SCHOOL_A}"
    answer = registry.contacts.recipients(system_actor(REGION), [audience])
    assert answer == {"recipients": {audience: [{"login": "kurator-on",
                                                 "email": "ivanova@school-a.ru"}]}}
    with registry.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(sa.text(
            "select email from registry_account_contacts")) for v in row)
    assert "school-a.ru" not in stored  # sealed at rest
    with pytest.raises(DomainError) as refused:
        registry.contacts.recipients(on, [audience])
    assert refused.value.status == 403


def test_a_participant_is_mailed_at_the_address_of_their_record_until_consent_ends(
        registry: RegistryService, region: Region) -> None:
    curator = acting(Role.CURATOR, SCHOOL_A)
    [person_id] = registry.register_people(curator, [RegisterMentor(
        organisation_id=region.ids[SCHOOL_A], category="teacher", capacity=1,
        consent_given_by="self", competencies=["математика"],
        person=PersonalData(last_name="Смирнов", first_name="Алексей",
                            birth_date=date(1985, 9, 22), email="smirnov@mail.ru"))])
    audience = f"person:{person_id}"
    found = registry.contacts.recipients(system_actor(REGION), [audience])["recipients"]
    assert found[audience] == [{"login": audience, "email": "smirnov@mail.ru"}]
    registry.withdraw_consent(curator, person_id, WithdrawConsent(reason="по заявлению"))
    found = registry.contacts.recipients(system_actor(REGION), [audience])["recipients"]
    assert found[audience] == []  # the key is gone, and with it the address


def test_one_ask_answers_for_many_participants_each_as_they_chose(
        registry: RegistryService, region: Region) -> None:
    """The mailer asks for every audience of a mailing at once: each participant is answered
    with their own choice (an address of their own, their record's, mail off), and an unknown
    or malformed audience with nobody."""
    curator = acting(Role.CURATOR, SCHOOL_A)

    def person(last_name: str, email: str | None) -> str:
        [person_id] = registry.register_people(curator, [RegisterMentor(
            organisation_id=region.ids[SCHOOL_A], category="teacher", capacity=1,
            consent_given_by="self", competencies=["физика"],
            person=PersonalData(last_name=last_name, first_name="Олег",
                                birth_date=date(1980, 1, 2), email=email))])
        return str(person_id)

    def with_account(person_id: str, login: str) -> Actor:
        code = registry.invitations.issue(curator.actor, UUID(person_id)).code
        registry.invitations.accept(code, login, PASSWORD, "a")
        return Actor(user=person_id, role=Role.PARTICIPANT, scope=SCHOOL_A)

    record = person("Орлов", "orlov@mail.ru")
    with_account(record, "orlov")
    own = person("Соколов", "sokolov@mail.ru")
    registry.contacts.update(with_account(own, "sokolov"), "sokolov@school-a.ru", True)
    silent = person("Волков", "volkov@mail.ru")
    registry.contacts.update(with_account(silent, "volkov"), None, False)
    nowhere = person("Зайцев", None)
    asked = [f"person:{p}" for p in (record, own, silent, nowhere, uuid4())] + ["person:не-id"]

    found = registry.contacts.recipients(system_actor(REGION), asked)["recipients"]

    assert found == {
        f"person:{record}": [{"login": "orlov", "email": "orlov@mail.ru"}],
        f"person:{own}": [{"login": "sokolov", "email": "sokolov@school-a.ru"}],
        **{audience: [] for audience in asked[2:]},
    }
