"""ФИО: a person's full name as a Russian document writes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.registry.validation.text import DASHES, ValidationProblem, normalise_text, shown


@dataclass(frozen=True, slots=True)
class FullName:
    last: str
    first: str
    middle: str | None = None

    def __str__(self) -> str:
        return " ".join(part for part in (self.last, self.first, self.middle) if part)

    @property
    def key(self) -> str:
        """Comparison key: case- and «ё»-insensitive, as people write both ways."""
        return str(self).casefold().replace("ё", "е")


# Turkic patronymics are written as two words ("Ахмед оглы"); without this a
# valid ФИО of four words would be rejected.
_PATRONYMIC_SUFFIXES = frozenset({"оглы", "кызы", "улы", "уулу", "угли", "гызы", "кизи"})
_CYRILLIC = "А-Яа-яЁё"
_LATIN_RE = re.compile(r"[A-Za-z]")
_CYR_RE = re.compile(f"[{_CYRILLIC}]")
_WORD_RE = re.compile(f"[{_CYRILLIC}]+(?:['’][{_CYRILLIC}]+)?(?:-[{_CYRILLIC}]+(?:['’][{_CYRILLIC}]+)?)*")
_MAX_WORD_LENGTH = 60

_FIELD_LABELS = {
    "full_name": "ФИО",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "guardian_name": "ФИО законного представителя",
}


def _fix_case(part: str) -> str:
    # Only all-caps or all-lower parts are re-cased; mixed case such as
    # "МакКартни" is presumably deliberate and is kept.
    if part.isupper() or part.islower():
        return part[:1].upper() + part[1:].lower()
    return part


def _normalise_word(word: str) -> str:
    if word.casefold() in _PATRONYMIC_SUFFIXES:
        return word.lower()
    return "-".join(_fix_case(part) for part in word.split("-"))


def _check_name_text(text: str, original: Any, field: str) -> None:
    label = _FIELD_LABELS.get(field, "ФИО")
    if any(ch.isdigit() for ch in text):
        raise ValidationProblem(
            "INVALID_NAME", f"Поле «{label}» не должно содержать цифр: «{shown(original)}».", field
        )
    latin = sorted(set(_LATIN_RE.findall(text)))
    if latin and _CYR_RE.search(text):
        raise ValidationProblem(
            "INVALID_NAME",
            f"В поле «{label}» («{shown(original)}») есть латинские буквы "
            f"({', '.join(latin)}), похожие на русские. Замените их на русские.",
            field,
        )
    if latin:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Поле «{label}» нужно заполнить русскими буквами, как в документе: «{shown(original)}».",
            field,
        )
    if "." in text:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Укажите {label} полностью, без инициалов и сокращений: «{shown(original)}».",
            field,
        )


def _split_words(text: str, original: Any, field: str) -> list[str]:
    label = _FIELD_LABELS.get(field, "ФИО")
    # "Римский - Корсаков" is the same double surname as "Римский-Корсаков".
    text = re.sub(r"\s*-\s*", "-", text.translate(DASHES))
    words = text.split()
    for word in words:
        if not _WORD_RE.fullmatch(word):
            bad = sorted({ch for ch in word if not (_CYR_RE.match(ch) or ch in "-'’")})
            detail = f"недопустимые символы ({' '.join(bad)})" if bad else "лишний дефис"
            raise ValidationProblem(
                "INVALID_NAME",
                f"В поле «{label}» («{shown(original)}») {detail}. Допустимы русские буквы, дефис и пробел.",
                field,
            )
        if len(word) > _MAX_WORD_LENGTH:
            raise ValidationProblem("INVALID_NAME", f"Слишком длинное слово в поле «{label}».", field)
    return words


def parse_full_name(text: Any, field: str = "full_name") -> FullName:
    """Parse ФИО written in one cell: "Фамилия Имя [Отчество]"."""
    clean = normalise_text(text)
    if not clean:
        raise ValidationProblem("INVALID_NAME", "Не указаны фамилия и имя.", field)
    _check_name_text(clean, text, field)
    words = [_normalise_word(w) for w in _split_words(clean, text, field)]
    if len(words) == 4 and words[3] in _PATRONYMIC_SUFFIXES:
        words = [words[0], words[1], f"{words[2]} {words[3]}"]
    if len(words) < 2:
        raise ValidationProblem(
            "INVALID_NAME",
            f"Укажите фамилию и имя через пробел (отчество — при наличии), а не «{shown(text)}».",
            field,
        )
    if len(words) > 3:
        raise ValidationProblem(
            "INVALID_NAME",
            f"В ФИО «{shown(text)}» больше трёх слов. Укажите фамилию, имя и отчество; "
            "двойную фамилию пишите через дефис.",
            field,
        )
    if words[1] in _PATRONYMIC_SUFFIXES or words[0] in _PATRONYMIC_SUFFIXES:
        raise ValidationProblem("INVALID_NAME", f"ФИО «{shown(text)}» записано в неверном порядке.", field)
    return FullName(words[0], words[1], words[2] if len(words) == 3 else None)


def _parse_name_part(value: Any, field: str, *, required: bool) -> str | None:
    clean = normalise_text(value)
    label = _FIELD_LABELS[field]
    if not clean:
        if required:
            raise ValidationProblem("INVALID_NAME", f"Не заполнено поле «{label}».", field)
        return None
    _check_name_text(clean, value, field)
    words = [_normalise_word(w) for w in _split_words(clean, value, field)]
    if len(words) == 2 and field == "middle_name" and words[1] in _PATRONYMIC_SUFFIXES:
        return f"{words[0]} {words[1]}"
    if len(words) != 1:
        raise ValidationProblem(
            "INVALID_NAME",
            f"В поле «{label}» должно быть одно слово (двойное — через дефис): «{shown(value)}».",
            field,
        )
    return words[0]


def parse_full_name_parts(last: Any, first: Any, middle: Any = None) -> FullName:
    """Parse ФИО kept in three columns (Фамилия, Имя, Отчество)."""
    last_name = _parse_name_part(last, "last_name", required=True)
    first_name = _parse_name_part(first, "first_name", required=True)
    middle_name = _parse_name_part(middle, "middle_name", required=False)
    assert last_name is not None and first_name is not None  # required=True guarantees it
    return FullName(last_name, first_name, middle_name)
