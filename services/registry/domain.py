"""The registry's domain: organisations, people and programmes. No I/O here.

Personal data never sits in an event in the clear: a person's events hold it as ciphertext
sealed with that person's own key (see ``vault.py``), so destroying the key erases them
everywhere the events went, while the events themselves (and the audit chain over them) stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import event

from services.registry.validation import is_minor
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.events import OrganisationKind
from shared.mentorship_forms import check_catalogue
from shared.store import EventSourcedAggregate

PersonRole = Literal["mentor", "mentee"]
ConsentGiver = Literal["self", "guardian"]

EDUCATIONAL_KINDS: frozenset[str] = frozenset({"school", "college", "additional"})
PARTNER_KINDS: frozenset[str] = frozenset(
    {"university", "employer", "culture", "sport", "other_partner"})

MENTOR_CATEGORIES: frozenset[str] = frozenset({
    "student", "teacher", "college_student", "university_student", "employer", "graduate",
    "parent", "partner",
})
MENTEE_CATEGORIES: frozenset[str] = frozenset({"student", "young_teacher", "college_student"})
#: What a document (an order, a consent form) may print of a person besides the full name.
SHARED_FIELDS = ("last_name", "first_name", "middle_name", "birth_date", "guardian_name")


def child_path(parent: OrgPath | None, kind: OrganisationKind, code: str) -> OrgPath:
    """Where an organisation of ``kind`` sits under ``parent`` — the hierarchy's only rules."""
    if kind == "region":
        if parent is not None:
            raise DomainError("INVALID_PARENT", "Регион не может входить в другую организацию", 422)
        return OrgPath(region=code)
    if parent is None:
        raise DomainError("PARENT_REQUIRED", "Укажите вышестоящую организацию", 422)
    if kind == "municipality":
        if parent.municipality is not None:
            raise DomainError(
                "INVALID_PARENT", "Муниципалитет может входить только в регион", 422)
        return OrgPath(region=parent.region, municipality=code)
    if parent.organisation is not None:
        raise DomainError(
            "INVALID_PARENT", "Организация может входить только в муниципалитет или регион", 422)
    return OrgPath(region=parent.region, municipality=parent.municipality, organisation=code)


class Organisation(EventSourcedAggregate):
    @event("OrganisationRegistered")
    def __init__(self, code: str, name: str, kind: OrganisationKind, parent_id: UUID | None,
                 path: dict[str, Any], meta: dict[str, Any]) -> None:
        self.code = code
        self.name = name
        self.kind = kind
        self.parent_id = parent_id
        self.path = path
        self.contingents: dict[str, dict[str, int]] = {}
        self.forms: dict[str, Any] | None = None  # a region's catalogue; None: every form offered

    @property
    def org_path(self) -> OrgPath:
        return OrgPath.model_validate(self.path)

    def declare_contingent(self, school_year: str, figures: dict[str, int],
                           meta: dict[str, Any]) -> None:
        check_contingent(figures)
        self._contingent_declared(school_year=school_year, meta=meta, **figures)

    @event("ContingentDeclared")
    def _contingent_declared(self, school_year: str, students_total: int, students_10_19: int,
                             students_15_19: int, teachers_total: int, young_teachers: int,
                             enterprises: int, meta: dict[str, Any]) -> None:
        self.contingents[school_year] = {
            "students_total": students_total, "students_10_19": students_10_19,
            "students_15_19": students_15_19, "teachers_total": teachers_total,
            "young_teachers": young_teachers, "enterprises": enterprises,
        }


    def configure_forms(self, enabled: list[str], descriptions: dict[str, str],
                        meta: dict[str, Any]) -> None:
        if self.kind != "region":
            raise DomainError("NOT_A_REGION", "Формы наставничества настраивает регион", 422)
        check_catalogue(enabled, descriptions)
        self._forms_configured(enabled=sorted(set(enabled)), descriptions=descriptions, meta=meta)

    @event("FormsCatalogueConfigured")
    def _forms_configured(self, enabled: list[str], descriptions: dict[str, str],
                          meta: dict[str, Any]) -> None:
        self.forms = {"enabled": enabled, "descriptions": descriptions}


def check_contingent(figures: dict[str, int]) -> None:
    if any(value < 0 for value in figures.values()):
        raise DomainError("INVALID_CONTINGENT", "Численность не может быть отрицательной", 422)
    total = figures["students_total"]
    if figures["students_10_19"] > total or figures["students_15_19"] > figures["students_10_19"]:
        raise DomainError(
            "INVALID_CONTINGENT",
            "Обучающихся 10–19 лет не может быть больше всех обучающихся, "
            "а 15–19 лет — больше, чем 10–19 лет", 422)
    if figures["young_teachers"] > figures["teachers_total"]:
        raise DomainError(
            "INVALID_CONTINGENT", "Молодых педагогов не может быть больше всех педагогов", 422)


def check_consent(role: PersonRole, category: str, birth_date: date, today: date,
                  given_by: ConsentGiver, guardian_named: bool) -> None:
    categories = MENTOR_CATEGORIES if role == "mentor" else MENTEE_CATEGORIES
    if category not in categories:
        raise DomainError("INVALID_CATEGORY", f"Недопустимая категория участника: {category}", 422)
    if is_minor(birth_date, today) and (given_by != "guardian" or not guardian_named):
        raise DomainError(
            "GUARDIAN_CONSENT_REQUIRED",
            "Участнику нет 18 лет: нужно согласие законного представителя с его ФИО", 422)


class Person(EventSourcedAggregate):
    """A mentor or a mentee. ``sealed`` is the ciphertext of their personal data."""

    def __init__(self, role: PersonRole, organisation_id: UUID, category: str, birth_year: int,
                 sealed: str, meta: dict[str, Any], competencies: list[str] | None = None,
                 capacity: int = 0, grade: int | None = None, requests: list[str] | None = None,
                 minor: bool = False) -> None:
        self.role = role
        self.organisation_id = organisation_id
        self.category = category
        self.birth_year = birth_year
        self.sealed: str | None = sealed
        self.competencies = competencies or []
        self.capacity = capacity
        self.grade = grade
        self.requests = requests or []
        self.minor = minor
        self.consent: ConsentGiver | None = None
        self.withdrawn = False

    @classmethod
    def register_mentor(cls, *, id: UUID, organisation_id: UUID, category: str,  # noqa: A002
                        birth_year: int, competencies: list[str], capacity: int, sealed: str,
                        meta: dict[str, Any], grade: int | None = None) -> Person:
        if not 1 <= capacity <= 15:
            raise DomainError("INVALID_CAPACITY", "Наставник может вести от 1 до 15 наставляемых",
                              422)
        return cls._create(cls.MentorRegistered, id=id, role="mentor",
                           organisation_id=organisation_id, category=category,
                           birth_year=birth_year, competencies=competencies, capacity=capacity,
                           grade=grade if category == "student" else None, sealed=sealed, meta=meta)

    @classmethod
    def register_mentee(cls, *, id: UUID, organisation_id: UUID, category: str,  # noqa: A002
                        birth_year: int, grade: int | None, requests: list[str], minor: bool,
                        sealed: str, meta: dict[str, Any]) -> Person:
        if category == "student" and grade is None:
            raise DomainError("GRADE_REQUIRED", "Для обучающегося укажите класс (1–11)", 422)
        return cls._create(cls.MenteeRegistered, id=id, role="mentee",
                           organisation_id=organisation_id, category=category,
                           birth_year=birth_year, grade=grade, requests=requests, minor=minor,
                           sealed=sealed, meta=meta)

    class MentorRegistered(EventSourcedAggregate.Created):
        role: str
        organisation_id: UUID
        category: str
        birth_year: int
        competencies: list[str]
        capacity: int
        sealed: str
        grade: int | None = None  # stored events before pupil-mentors' grades have none

    class MenteeRegistered(EventSourcedAggregate.Created):
        role: str
        organisation_id: UUID
        category: str
        birth_year: int
        grade: int | None
        requests: list[str]
        minor: bool
        sealed: str

    @event("ConsentRecorded")
    def record_consent(self, given_by: ConsentGiver, meta: dict[str, Any]) -> None:
        self.consent = given_by

    def withdraw_consent(self, reason: str, meta: dict[str, Any],
                         personal: Mapping[str, Any] | None) -> None:
        """``personal``: the person's data, opened just before their key is destroyed, so the
        reason is kept without their name or contacts (``without_personal_data``)."""
        if self.withdrawn:
            raise DomainError("CONSENT_ALREADY_WITHDRAWN", "Согласие уже отозвано", 409)
        self._consent_withdrawn(reason=without_personal_data(reason, personal or {}), meta=meta)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(self, reason: str, meta: dict[str, Any]) -> None:
        self.withdrawn = True
        self.consent = None
        self.sealed = None

    @property
    def can_be_paired(self) -> bool:
        return self.consent is not None and not self.withdrawn


class Programme(EventSourcedAggregate):
    @event("ProgrammeLaunched")
    def __init__(self, organisation_id: UUID, form: str, school_year: str, curator: str,
                 meta: dict[str, Any]) -> None:
        self.organisation_id = organisation_id
        self.form = form
        self.school_year = school_year
        self.curator = curator


#: What stands in a kept text where the person's name or contacts were.
REDACTED = "[удалено]"
_VOWEL_ENDING = re.compile(r"[аеёиоуыэюяйь]+$")
_CONTACT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\+?\d[\d\s()\-]{5,}\d")


def without_personal_data(text: str, personal: Mapping[str, Any]) -> str:
    """The text with every word that starts like a part of the person's or guardian's name
    (in any case ending: «Иванова», «Иванову»; е and ё alike), their birth date and SNILS, and
    any e-mail address or phone number replaced by «[удалено]». Errs towards removing too much."""
    words = " ".join(str(personal.get(k) or "") for k in (
        "last_name", "first_name", "middle_name", "guardian_name")).lower().replace("ё", "е")
    stems = {_VOWEL_ENDING.sub("", w) or w for w in re.findall(r"\w+", words)}
    for stem in sorted(stems, key=len, reverse=True):
        letters = "".join("[её]" if ch == "е" else re.escape(ch) for ch in stem)
        # A short stem («Ия» → «и») stands only for the word itself and its endings.
        ending = r"\w*" if len(stem) >= 3 else r"\w{0,2}(?!\w)"
        text = re.sub(rf"(?<!\w){letters}{ending}", REDACTED, text, flags=re.IGNORECASE)
    for exact in (personal.get("birth_date"), personal.get("snils")):
        if exact:
            text = text.replace(str(exact), REDACTED)
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(exact)):
                year, month, day = str(exact).split("-")
                text = text.replace(f"{day}.{month}.{year}", REDACTED)
    return _CONTACT.sub(REDACTED, text)
