"""The header row of an upload: which column holds which field, however a school wrote it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from services.registry.validation import normalise_text

# Display names: used in MISSING_COLUMNS messages and as template headers.
COLUMN_TITLES: Final = {
    "full_name": "ФИО",
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "birth_date": "Дата рождения",
    "category": "Категория",
    "grade": "Класс",
    "organisation_code": "Код ОО",
    "snils": "СНИЛС",
    "phone": "Телефон",
    "email": "E-mail",
    "requests": "Запросы",
    "competencies": "Компетенции",
    "capacity": "Кол-во наставляемых",
    "guardian_name": "ФИО законного представителя",
    "consent": "Согласие на обработку ПД",
    "guardian_consent": "Согласие законного представителя",
}
_REQUIRED: Final = ("birth_date", "category", "consent")


def _header_key(text: Any) -> str:
    # Case, spaces and punctuation vary wildly between schools' spreadsheets.
    return re.sub(r"[\W_]+", "", normalise_text(text).casefold().replace("ё", "е"))


def classify_header(text: Any) -> str | None:
    """Map a column header to a field name, or ``None`` for unknown columns."""
    key = _header_key(text)
    if not key:
        return None
    about_guardian = any(w in key for w in ("законн", "родител", "представител", "опекун"))
    if "согласи" in key:
        return "guardian_consent" if about_guardian else "consent"
    if about_guardian:
        # "Телефон родителя" and the like are not collected; only the name is.
        if any(w in key for w in ("телефон", "почт", "mail", "снилс", "дата", "адрес", "паспорт")):
            return None
        return "guardian_name"
    if key.startswith("фио") or key.startswith("фамилияимяотчество"):
        return "full_name"
    simple = {"фамилия": "last_name", "имя": "first_name", "тел": "phone", "оо": "organisation_code"}
    if key in simple:
        return simple[key]
    prefixes = (
        ("отчество", "middle_name"),
        ("датарожд", "birth_date"),
        ("класс", "grade"),
        ("категори", "category"),
        ("запрос", "requests"),
        ("компетенц", "competencies"),
        ("кодоо", "organisation_code"),
        ("кодорганизац", "organisation_code"),
        ("кодобразовательн", "organisation_code"),
        ("образовательнаяорганизац", "organisation_code"),
        ("наименованиеоо", "organisation_code"),
        ("колвонаставляем", "capacity"),
        ("количествонаставляем", "capacity"),
        ("максимальноеколичествонаставляем", "capacity"),
        ("нагрузка", "capacity"),
    )
    for prefix, name in prefixes:
        if key.startswith(prefix):
            return name
    if "снилс" in key:
        return "snils"
    if "телефон" in key:
        return "phone"
    if "почт" in key or "mail" in key or key in {"емейл", "емэйл", "имейл", "эмейл"}:
        return "email"
    return None


def header_score(row: Sequence[Any]) -> int:
    return len({name for cell in row if (name := classify_header(cell))})


@dataclass(frozen=True, slots=True)
class Header:
    line: int
    columns: dict[str, int]
    titles: dict[str, str]
    duplicates: tuple[str, ...]

    def has_name(self) -> bool:
        return "full_name" in self.columns or {"last_name", "first_name"} <= self.columns.keys()


def parse_header(row: Sequence[Any], line: int) -> Header:
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    duplicates: list[str] = []
    for index, cell in enumerate(row):
        name = classify_header(cell)
        if name is None:
            continue
        if name in columns:
            duplicates.append(normalise_text(cell))
            continue
        columns[name] = index
        titles[name] = normalise_text(cell)
    return Header(line, columns, titles, tuple(duplicates))


def find_header(table: Sequence[Sequence[Any]], search_rows: int) -> Header | None:
    """Find the header row among the first ``search_rows``; schools often put a title line or two
    above it."""
    best: Header | None = None
    for index, row in enumerate(table[:search_rows]):
        if not any(normalise_text(cell) for cell in row):
            continue
        header = parse_header(row, index + 1)
        if header.has_name() and "birth_date" in header.columns:
            return header
        if best is None or len(header.columns) > len(best.columns):
            best = header
    return best


def missing_columns(header: Header) -> list[str]:
    missing = [] if header.has_name() else ["ФИО (или «Фамилия» и «Имя»)"]
    missing += [COLUMN_TITLES[name] for name in _REQUIRED if name not in header.columns]
    return missing
