"""The reason for withdrawing consent is kept — an auditor sees that, when and by whom consent
was withdrawn, and why — but never with the person's name, their guardian's or their contacts."""

from __future__ import annotations

from datetime import date

from services.registry.application import RegistryService
from services.registry.commands import PersonalData, RegisterMentee, WithdrawConsent
from services.registry.domain import REDACTED, without_personal_data
from tests.unit.registry.conftest import SCHOOL_A, Region
from tests.unit.registry.test_service_layer import curator

PERSON = {"last_name": "Зильберштейн", "first_name": "Ёлка", "middle_name": "Тимуровна",
          "guardian_name": "Зильберштейн Пётр Ильич", "birth_date": "2012-03-14",
          "snils": "123-456-789 01"}


def test_names_in_any_case_ending_birth_date_and_contacts_are_removed() -> None:
    reason = ("Отец (Петра Ильича Зильберштейна) просит: данные Елки Зильберштейн, "
              "род. 14.03.2012, СНИЛС 123-456-789 01, удалить; связь: +7 (912) 345-67-89, "
              "z@example.ru. Семья переезжает.")
    kept = without_personal_data(reason, PERSON)
    for gone in ("Зильберштейн", "Петра", "Ильича", "Елки", "14.03.2012", "123-456-789",
                 "345-67-89", "example.ru"):
        assert gone not in kept, gone
    assert kept.startswith("Отец (") and kept.endswith("Семья переезжает.")
    assert REDACTED in kept
    assert without_personal_data("по заявлению", PERSON) == "по заявлению"


def test_the_stored_withdrawal_keeps_the_reason_without_the_name(registry: RegistryService,
                                                                 region: Region) -> None:
    [person_id] = registry.register_people(curator(SCHOOL_A), [RegisterMentee(
        organisation_id=region.ids[SCHOOL_A], category="student", grade=7,
        consent_given_by="guardian",
        person=PersonalData(last_name="Зильберштейн", first_name="Ёлка", middle_name="Тимуровна",
                            birth_date=date(2012, 3, 14), guardian_name="Зильберштейн Пётр Ильич"))])
    registry.withdraw_consent(curator(SCHOOL_A), person_id, WithdrawConsent(
        reason="Законный представитель Зильберштейн П. И. отозвал согласие за Ёлку"))
    stored = b"".join(n.state for n in registry.events.notifications_after(0, 1000)
                      if "ConsentWithdrawn" in n.topic).decode()
    assert "Зильберштейн" not in stored and "Ёлку" not in stored and "Елку" not in stored
    assert "Законный представитель" in stored and "отозвал согласие" in stored
