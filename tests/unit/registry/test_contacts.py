"""Where notifications go (``services.registry.contacts``): an official's address sealed at rest,
mail switched off honoured, a participant's address from their record until consent is
withdrawn, and only the system (the notifications' mailer) is told any address."""

from __future__ import annotations

from datetime import date

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
