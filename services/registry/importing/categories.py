"""Categories of participants as curators write them («учитель», «студент вуза») and as codes."""

from __future__ import annotations

import re
from typing import Any, Final, Literal, get_args

from services.registry.validation import ValidationProblem, normalise_text

Role = Literal["mentor", "mentee"]
ROLES: Final = frozenset(get_args(Role))

MENTEE_CATEGORIES: Final = ("student", "young_teacher", "college_student")
MENTOR_CATEGORIES: Final = (
    "student",
    "teacher",
    "college_student",
    "university_student",
    "employer",
    "graduate",
    "parent",
    "partner",
)
CATEGORIES_BY_ROLE: Final[dict[str, tuple[str, ...]]] = {
    "mentee": MENTEE_CATEGORIES,
    "mentor": MENTOR_CATEGORIES,
}
# The words a curator would write; also used in messages and the template.
CATEGORY_LABELS: Final = {
    "student": "обучающийся",
    "teacher": "педагог",
    "young_teacher": "молодой специалист",
    "college_student": "студент СПО",
    "university_student": "студент вуза",
    "employer": "представитель работодателя",
    "graduate": "выпускник",
    "parent": "родитель",
    "partner": "представитель организации-партнёра",
}
ROLE_LABELS: Final = {"mentee": "наставляемого", "mentor": "наставника"}


def _category_words(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold().replace("ё", "е")).split())


_COLLEGE_MARKERS: Final = ("спо", "колледж", "техникум", "училищ", "профессиональн")
_UNIVERSITY_MARKERS: Final = ("вуз", "университет", "институт", "академи", "бакалавр", "магистр")


def _guess_category(words: str, role: str) -> str | None:
    tokens = words.split()
    if words.replace(" ", "_") in CATEGORY_LABELS:
        return words.replace(" ", "_")

    def has(*stems: str) -> bool:
        return any(token.startswith(stem) for token in tokens for stem in stems)

    if has("молод") and has("специалист", "педагог", "учител"):
        return "young_teacher"
    if has("студент") or (has("обучающ") and has(*_COLLEGE_MARKERS, *_UNIVERSITY_MARKERS)):
        if has(*_UNIVERSITY_MARKERS):
            return "university_student"
        if has(*_COLLEGE_MARKERS) or role == "mentee":
            # A mentee can only be a college student, so no ambiguity there.
            return "college_student"
        return "ambiguous_student"
    rules = (
        (("выпускник", "выпускниц"), "graduate"),
        (("работодател", "предприяти"), "employer"),
        (("партнер",), "partner"),
        (("родител",), "parent"),
        (("педагог", "учител", "преподавател", "воспитател"), "teacher"),
        (("обучающ", "ученик", "ученица", "школьник", "школьниц"), "student"),
    )
    for stems, category in rules:
        if has(*stems):
            return category
    return None


def parse_category(value: Any, role: Role, field: str = "category") -> str:
    """Map the curator's wording ("учитель", "студент вуза") to a category code."""
    allowed = CATEGORIES_BY_ROLE[role]
    allowed_text = ", ".join(f"«{CATEGORY_LABELS[c]}»" for c in allowed)
    text = normalise_text(value)
    if not text:
        raise ValidationProblem(
            "INVALID_CATEGORY",
            f"Не указана категория {ROLE_LABELS[role]}. Допустимые значения: {allowed_text}.",
            field,
        )
    category = _guess_category(_category_words(text), role)
    text = text if len(text) <= 40 else text[:39] + "…"  # keep messages readable
    if category == "ambiguous_student":
        raise ValidationProblem(
            "INVALID_CATEGORY",
            f"Уточните категорию «{text}»: напишите «студент СПО» (колледж, техникум) или «студент вуза».",
            field,
        )
    if category is None:
        raise ValidationProblem(
            "INVALID_CATEGORY",
            f"Категория «{text}» не распознана. Допустимые значения: {allowed_text}.",
            field,
        )
    if category not in allowed:
        raise ValidationProblem(
            "INVALID_CATEGORY",
            f"Категория «{text}» не подходит для {ROLE_LABELS[role]}. Допустимые значения: {allowed_text}.",
            field,
        )
    return category
