"""What a user can ask the registry to do, validated before anything is stored."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from services.registry.domain import ConsentGiver
from services.registry.validation import (
    MAX_LIST_ITEM_LENGTH,
    MAX_LIST_ITEMS,
    parse_birth_date,
    parse_full_name,
    parse_full_name_parts,
    validate_email,
    validate_phone,
    validate_snils,
)
from shared.events import OrganisationKind
from shared.inputs import StrippedInput
from shared.localtime import local_today
from shared.mentorship_forms import MAX_DESCRIPTION, METHODOLOGY_FORMS
from shared.values import Whole

SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


#: The school years taken: two consecutive years, from 2000-2001 to 2098-2099.
SCHOOL_YEARS = range(2000, 2099)
#: The same for the OpenAPI document (JSON Schema has no arithmetic, so they are listed); the
#: validator checks it itself, to answer with the hint rather than "недопустимые символы".
SCHOOL_YEAR_PATTERN = "^(" + "|".join(f"{y}-{y + 1}" for y in SCHOOL_YEARS) + ")$"


def check_school_year(value: str) -> str:
    match = SCHOOL_YEAR.match(value)
    if not match or int(match[1]) not in SCHOOL_YEARS or int(match[2]) != int(match[1]) + 1:
        raise ValueError("учебный год в виде 2025-2026")
    return value


SchoolYear = Annotated[str, Field(json_schema_extra={"pattern": SCHOOL_YEAR_PATTERN},
                                  examples=["2025-2026"]),
                       AfterValidator(check_school_year)]
#: One request or competency: every free string a command carries is bounded, so no command
#: can grow an event past what the bus carries.
ListItem = Annotated[str, Field(min_length=1, max_length=MAX_LIST_ITEM_LENGTH)]


class Command(StrippedInput):
    pass


class RegisterOrganisation(Command):
    """A region stands alone; every other organisation names the one above it (``child_path``)."""

    model_config = ConfigDict(json_schema_extra={
        "if": {"properties": {"kind": {"const": "region"}}, "required": ["kind"]},
        "then": {"properties": {"parent_id": {"type": "null"}}},
        "else": {"required": ["parent_id"],
                 "properties": {"parent_id": {"type": "string", "format": "uuid"}}},
    })

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
                      description="Короткий латинский код (для путей и подписок)")
    name: str = Field(min_length=2, max_length=500)
    kind: OrganisationKind
    parent_id: UUID | None = None


class DeclareContingent(Command):
    school_year: SchoolYear
    students_total: Whole = Field(ge=0, le=10_000_000)
    students_10_19: Whole = Field(ge=0, le=10_000_000)
    students_15_19: Whole = Field(ge=0, le=10_000_000)
    teachers_total: Whole = Field(ge=0, le=1_000_000)
    young_teachers: Whole = Field(ge=0, le=1_000_000)
    enterprises: Whole = Field(ge=0, le=1_000_000, default=0)


class PersonalData(Command):
    last_name: str = Field(min_length=1, max_length=100)
    first_name: str = Field(min_length=1, max_length=100)
    middle_name: str | None = Field(default=None, max_length=100)
    birth_date: date
    snils: str | None = Field(default=None, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)
    guardian_name: str | None = Field(default=None, max_length=300)

    # Each field checked on its own, so one answer names every wrong field of a form at once;
    # the name's parts are read together, once the fields pass.
    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        parse_birth_date(value, today=local_today())
        return value

    @field_validator("snils")
    @classmethod
    def _snils(cls, value: str | None) -> str | None:
        return validate_snils(value) if value else None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return validate_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return validate_email(value)

    @field_validator("guardian_name")
    @classmethod
    def _guardian(cls, value: str | None) -> str | None:
        return str(parse_full_name(value, "guardian_name")) if value else value

    @model_validator(mode="after")
    def _normalise(self) -> PersonalData:
        name = parse_full_name_parts(self.last_name, self.first_name, self.middle_name)
        self.last_name, self.first_name, self.middle_name = name.last, name.first, name.middle
        return self


class RegisterPerson(Command):
    organisation_id: UUID
    category: str = Field(min_length=1, max_length=32)
    person: PersonalData
    consent_given_by: ConsentGiver
    class_letter: str | None = Field(default=None, max_length=3)


class RegisterMentor(RegisterPerson):
    role: Literal["mentor"] = "mentor"
    competencies: list[ListItem] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    capacity: Whole = Field(default=1, ge=1, le=15)
    #: A pupil-mentor's grade: the pairing asks a pupil-mentor to be in a higher grade.
    grade: Whole | None = Field(default=None, ge=1, le=11)


class RegisterMentee(RegisterPerson):
    role: Literal["mentee"] = "mentee"
    grade: Whole | None = Field(default=None, ge=1, le=11)
    requests: list[ListItem] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)

    @model_validator(mode="after")
    def _grade(self) -> RegisterMentee:
        if self.category == "student" and self.grade is None:
            raise ValueError("для обучающегося укажите класс от 1 до 11")
        return self


class WithdrawConsent(Command):
    reason: str = Field(default="", max_length=500)


class LaunchProgramme(Command):
    organisation_id: UUID
    form: str = Field(min_length=2, max_length=64)
    school_year: SchoolYear
    curator: str = Field(min_length=1, max_length=200)


class ConfigureForms(Command):
    """The region's catalogue: the methodology's forms it offers, and its own words for them."""

    # The schema states the catalogue's rules (``check_catalogue``); the domain refuses with its
    # own codes (FORMS_NONE_ENABLED, FORM_UNKNOWN) what a client sends against them.
    enabled: list[str] = Field(max_length=50, json_schema_extra={
        "minItems": 1, "items": {"type": "string", "enum": list(METHODOLOGY_FORMS)}})
    descriptions: dict[str, str] = Field(default_factory=dict, max_length=50, json_schema_extra={
        "propertyNames": {"enum": list(METHODOLOGY_FORMS)},
        "additionalProperties": {"type": "string", "maxLength": MAX_DESCRIPTION,
                                 "pattern": "^[^\\u0000]*$"}})  # a NUL is refused everywhere
