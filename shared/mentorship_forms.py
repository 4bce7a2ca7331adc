"""The forms of mentorship of the methodology (the federal target model and the 2021
recommendations for teachers), by the code every service keeps, and the rule for a region's
catalogue of them: the region offers a subset, at least one, each with its own description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from shared.errors import DomainError

METHODOLOGY_FORMS: Mapping[str, str] = MappingProxyType({
    "student-student": "Ученик – ученик", "teacher-teacher": "Учитель – учитель",
    "experienced-young-teacher": "Опытный педагог – молодой специалист",
    "teacher-peer": "Педагог – педагог (равный – равному)", "college-student": "Студент – ученик",
    "employer-student": "Работодатель – ученик", "teacher-student": "Учитель – ученик",
    "student-teacher": "Ученик – учитель (обратное наставничество)",
    "college-college": "Студент – студент", "employer-college": "Работодатель – студент",
})
MAX_DESCRIPTION = 1000


def check_catalogue(enabled: list[str], descriptions: Mapping[str, str]) -> None:
    unknown = sorted((set(enabled) | set(descriptions)) - set(METHODOLOGY_FORMS))
    if unknown:
        raise DomainError("FORM_UNKNOWN", "Такой формы наставничества нет в методологии: "
                          + ", ".join(unknown), 422)
    if not enabled:
        raise DomainError("FORMS_NONE_ENABLED",
                          "В регионе должна остаться хотя бы одна форма наставничества", 422)
    if any(len(text) > MAX_DESCRIPTION for text in descriptions.values()):
        raise DomainError("FORM_DESCRIPTION_TOO_LONG",
                          f"Описание формы — не длиннее {MAX_DESCRIPTION} символов", 422)


def normalised(text: str) -> str:
    """A form's name as people type it: case, dashes and «ё» aside."""
    return re.sub(r"\s*[-–—]\s*", "-", text.strip().lower()).replace("ё", "е")


def form_code(text: str) -> str | None:
    """The methodology's code of a form given by its code or its title (as the pairing service
    reads it); None for any other text."""
    wanted = normalised(text)
    return next((code for code, title in METHODOLOGY_FORMS.items()
                 if wanted in (code, normalised(title))), None)


def check_offered(text: str, enabled: frozenset[str]) -> None:
    """A programme runs one of the forms its region offers."""
    code = form_code(text)
    if code is None:
        raise DomainError("FORM_UNKNOWN", "Такой формы наставничества нет в каталоге региона", 422)
    if code not in enabled:
        raise DomainError("FORM_DISABLED",
                          f"Форма «{METHODOLOGY_FORMS[code]}» не предлагается в регионе", 422)
