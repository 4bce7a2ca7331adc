"""Checking the rows of an upload: every problem of every row at once, with the line the curator
sees in Excel; a file is importable only as a whole."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, TypeVar

from services.registry.importing.categories import ROLES, Role, parse_category
from services.registry.importing.files import (
    DEFAULT_LIMITS,
    FileProblem,
    ImportLimits,
    misencoding,
    read_table,
)
from services.registry.importing.headers import COLUMN_TITLES, Header, find_header, missing_columns
from services.registry.importing.template import EXAMPLES
from services.registry.validation import (
    MAX_LIST_ITEM_LENGTH,
    MAX_LIST_ITEMS,
    FullName,
    ValidationProblem,
    is_minor,
    normalise_text,
    parse_birth_date,
    parse_capacity,
    parse_class,
    parse_full_name,
    parse_full_name_parts,
    parse_yes_no,
    validate_email,
    validate_phone,
    validate_snils,
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    line: int
    role: Role
    full_name: FullName
    birth_date: date
    category: str
    grade: int | None = None
    class_letter: str | None = None
    organisation_code: str | None = None
    snils: str | None = None
    phone: str | None = None
    email: str | None = None
    requests: tuple[str, ...] = ()
    competencies: tuple[str, ...] = ()
    capacity: int | None = None
    guardian_name: FullName | None = None
    consent: bool = False
    guardian_consent: bool = False


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem found in the file.

    ``line`` is the row number as Excel shows it (header row included);
    ``None`` means the problem concerns the file as a whole. ``column`` is the
    header text as written in the file, so the curator can find it.
    """

    line: int | None
    column: str | None
    code: str
    message_ru: str

    def __str__(self) -> str:
        where = "Файл" if self.line is None else f"Строка {self.line}"
        if self.column:
            where += f", столбец «{self.column}»"
        return f"{where}: {self.message_ru}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """Outcome of validating one file.

    ``rows`` holds the rows that passed validation, useful for a preview, but
    the file is importable only as a whole: check :attr:`ok` first.
    """

    rows: list[PersonRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def importable_rows(self) -> list[PersonRow]:
        """Rows to import; refuses when the file has any error."""
        if not self.ok:
            raise ValueError("the import file has errors; nothing may be imported")
        return list(self.rows)


def _check_list(checker: _RowChecker, name: str, used: bool) -> tuple[str, ...]:
    """A list cell within the bounds a registration accepts, or row errors saying how not."""
    items = _split_list(checker.cell(name))
    if not used:
        return items
    if len(items) > MAX_LIST_ITEMS:
        checker.add(name, "TOO_MANY_ITEMS",
                    f"Не больше {MAX_LIST_ITEMS} значений через точку с запятой, а указано {len(items)}.")
    too_long = [item for item in items if len(item) > MAX_LIST_ITEM_LENGTH]
    if too_long:
        start = too_long[0][:40].rstrip()
        checker.add(name, "VALUE_TOO_LONG",
                    f"Каждое значение — не длиннее {MAX_LIST_ITEM_LENGTH} символов, а «{start}…» "
                    "длиннее. Разделите его точкой с запятой или сократите.")
    return items


def _split_list(value: Any) -> tuple[str, ...]:
    raw = "" if value is None else str(value)
    items: list[str] = []
    seen: set[str] = set()
    for part in re.split(r"[;,\n]", raw):
        item = normalise_text(part)
        key = item.casefold()
        if item and key not in seen:
            seen.add(key)
            items.append(item)
    return tuple(items)


_T = TypeVar("_T")


class _Failed:
    """Marker for a field that did not validate (``None`` is a valid value)."""


_FAILED: Final = _Failed()


class _RowChecker:
    """Validates one data row, collecting every problem rather than the first."""

    def __init__(self, header: Header, row: Sequence[Any], line: int) -> None:
        self.header = header
        self.row = row
        self.line = line
        self.errors: list[RowError] = []

    def cell(self, name: str) -> Any:
        index = self.header.columns.get(name)
        if index is None or index >= len(self.row):
            return None
        value = self.row[index]
        return value.strip() if isinstance(value, str) else value

    def filled(self, name: str) -> bool:
        return bool(normalise_text(self.cell(name)))

    def title(self, name: str) -> str | None:
        return self.header.titles.get(name)

    def add(self, name: str | None, code: str, message_ru: str) -> None:
        column = self.title(name) if name else None
        self.errors.append(RowError(self.line, column, code, message_ru))

    def attempt(self, name: str, check: Callable[[], _T]) -> _T | _Failed:
        try:
            return check()
        except ValidationProblem as problem:
            # The split-name validators name their own sub-field.
            column = problem.field if problem.field in self.header.columns else name
            self.add(column, problem.code, problem.message_ru)
            return _FAILED


def _check_name(checker: _RowChecker) -> FullName | _Failed:
    # When both layouts are present the one-cell ФИО wins unless it is blank.
    has_parts = {"last_name", "first_name"} <= checker.header.columns.keys()
    if "full_name" in checker.header.columns and (checker.filled("full_name") or not has_parts):
        return checker.attempt("full_name", lambda: parse_full_name(checker.cell("full_name")))
    return checker.attempt(
        "last_name",
        lambda: parse_full_name_parts(
            checker.cell("last_name"), checker.cell("first_name"), checker.cell("middle_name")
        ),
    )


def _check_row(
    header: Header, row: Sequence[Any], line: int, role: Role, today: date
) -> tuple[_RowChecker, dict[str, Any]]:
    checker = _RowChecker(header, row, line)
    values: dict[str, Any] = {}
    values["full_name"] = _check_name(checker)
    values["birth_date"] = checker.attempt(
        "birth_date", lambda: parse_birth_date(checker.cell("birth_date"), today)
    )
    values["category"] = category = checker.attempt(
        "category", lambda: parse_category(checker.cell("category"), role)
    )

    values["grade"] = values["class_letter"] = None
    if category in ("student", _FAILED) and checker.filled("grade"):
        school_class = checker.attempt("grade", lambda: parse_class(checker.cell("grade")))
        if not isinstance(school_class, _Failed):
            values["grade"], values["class_letter"] = school_class.grade, school_class.letter
    elif category == "student" and role == "mentee":
        checker.add(
            "grade",
            "GRADE_REQUIRED",
            "Для обучающегося нужно указать класс от 1 до 11, например «7» или «7А»."
            + ("" if "grade" in header.columns else " Добавьте в файл столбец «Класс»."),
        )

    organisation = normalise_text(checker.cell("organisation_code"))
    if len(organisation) > 200:
        checker.add(
            "organisation_code",
            "INVALID_ORGANISATION",
            "Слишком длинное значение кода образовательной организации.",
        )
    values["organisation_code"] = organisation or None

    snils = checker.cell("snils")
    values["snils"] = (
        checker.attempt("snils", lambda: validate_snils(snils)) if normalise_text(snils) else None
    )
    values["phone"] = checker.attempt("phone", lambda: validate_phone(checker.cell("phone")))
    values["email"] = checker.attempt("email", lambda: validate_email(checker.cell("email")))
    # Only the list the role uses is checked: a mentor's file may carry an unused «Запросы».
    values["requests"] = _check_list(checker, "requests", role == "mentee")
    values["competencies"] = _check_list(checker, "competencies", role == "mentor")
    values["capacity"] = (
        checker.attempt("capacity", lambda: parse_capacity(checker.cell("capacity")))
        if role == "mentor"
        else None
    )
    values["guardian_name"] = (
        checker.attempt(
            "guardian_name",
            lambda: parse_full_name(checker.cell("guardian_name"), "guardian_name"),
        )
        if checker.filled("guardian_name")
        else None
    )
    values["consent"] = consent = checker.attempt(
        "consent", lambda: parse_yes_no(checker.cell("consent"), "consent")
    )
    values["guardian_consent"] = guardian_consent = checker.attempt(
        "guardian_consent",
        lambda: parse_yes_no(checker.cell("guardian_consent"), "guardian_consent"),
    )

    if consent is False:
        checker.add(
            "consent",
            "CONSENT_REQUIRED",
            "Нет согласия на обработку персональных данных (нужно «да»). "
            "Без согласия участника нельзя внести в реестр.",
        )
    born = values["birth_date"]
    if isinstance(born, date) and is_minor(born, today):
        lacking = []
        if values["guardian_name"] is None:
            lacking.append("ФИО законного представителя")
        if guardian_consent is False:
            lacking.append("его согласие на обработку персональных данных («да»)")
        if lacking:
            absent = [
                COLUMN_TITLES[n] for n in ("guardian_name", "guardian_consent") if n not in header.columns
            ]
            hint = f" Добавьте в файл столбцы: {', '.join(absent)}." if absent else ""
            checker.add(
                "guardian_consent" if "guardian_consent" in header.columns else None,
                "GUARDIAN_CONSENT_REQUIRED",
                f"Участнику нет 18 лет, поэтому нужны {' и '.join(lacking)}.{hint}",
            )

    example = EXAMPLES[role]
    name = values["full_name"]
    if (
        isinstance(name, FullName)
        and isinstance(born, date)
        and name == parse_full_name(example["full_name"])
        and f"{born:%d.%m.%Y}" == example["birth_date"]
    ):
        checker.add(
            None,
            "EXAMPLE_ROW",
            "Это строка-пример из шаблона. Удалите её перед загрузкой.",
        )
    return checker, values


def _data_rows(table: Sequence[Sequence[Any]], header: Header) -> Iterator[tuple[int, Sequence[Any]]]:
    for index in range(header.line, len(table)):
        row = table[index]
        if any(normalise_text(cell) for cell in row):
            yield index + 1, row


def _has_every_column(limits: ImportLimits) -> Callable[[list[list[str]]], bool]:
    def recognised(rows: list[list[str]]) -> bool:
        header = find_header(rows, limits.header_search_rows)
        return header is not None and not missing_columns(header)

    return recognised


def validate_import(
    data: bytes,
    filename: str,
    role: Role,
    today: date,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportResult:
    """Validate a whole upload; never raises on bad input, returns errors instead."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")  # a programming error, not bad data
    try:
        table = read_table(data, filename, role=role, limits=limits)
    except FileProblem as problem:
        return ImportResult([], [RowError(None, None, problem.code, problem.message_ru)])

    header = find_header(table, limits.header_search_rows)
    if header is None:
        return ImportResult(
            [], [RowError(None, None, "EMPTY_FILE", "Файл пустой: в нём нет ни одной строки.")]
        )
    file_errors: list[RowError] = []
    missing = missing_columns(header)
    wrong_encoding = misencoding(data, filename, _has_every_column(limits)) if missing else None
    if wrong_encoding:
        file_errors.append(
            RowError(
                header.line,
                None,
                "WRONG_ENCODING",
                f"Заголовки столбцов не читаются: похоже, файл сохранён в кодировке {wrong_encoding}, "
                "а принимаются UTF-8 и Windows-1251. Откройте таблицу в Excel и сохраните её как "
                "«CSV UTF-8 (разделитель — запятая)» или как книгу .xlsx, затем загрузите снова.",
            )
        )
    elif missing:
        file_errors.append(
            RowError(
                header.line,
                None,
                "MISSING_COLUMNS",
                f"Не найдены обязательные столбцы: {', '.join(missing)}. Проверьте строку "
                "заголовков или скачайте шаблон.",
            )
        )
    if header.duplicates:
        file_errors.append(
            RowError(
                header.line,
                None,
                "DUPLICATE_COLUMNS",
                "Столбцы повторяются: "
                + ", ".join(f"«{title}»" for title in header.duplicates)
                + ". Оставьте по одному столбцу каждого вида.",
            )
        )
    if file_errors:
        return ImportResult([], file_errors)

    rows: list[PersonRow] = []
    errors: list[RowError] = []
    seen_people: dict[tuple[str, date, str], int] = {}
    seen_snils: dict[str, int] = {}
    data_row_count = 0
    for line, raw in _data_rows(table, header):
        data_row_count += 1
        checker, values = _check_row(header, raw, line, role, today)

        name, born = values["full_name"], values["birth_date"]
        duplicate_of: int | None = None
        if isinstance(name, FullName) and isinstance(born, date):
            key = (name.key, born, (values["organisation_code"] or "").casefold())
            duplicate_of = seen_people.setdefault(key, line)
            if duplicate_of != line:
                checker.add(
                    None,
                    "DUPLICATE_IN_FILE",
                    f"Строка {line} повторяет строку {duplicate_of}: тот же человек "
                    f"({name}, {born:%d.%m.%Y}). Оставьте одну из строк.",
                )
        snils = values["snils"]
        if isinstance(snils, str):
            first = seen_snils.setdefault(snils, line)
            if first != line and duplicate_of in (None, line):
                checker.add(
                    "snils",
                    "DUPLICATE_IN_FILE",
                    f"СНИЛС {snils} в строке {line} уже указан в строке {first}. "
                    "У разных людей СНИЛС не совпадает — проверьте номер.",
                )

        if checker.errors:
            errors.extend(checker.errors)
            continue
        rows.append(PersonRow(line=line, role=role, **values))

    if data_row_count == 0:
        errors.append(
            RowError(
                None,
                None,
                "EMPTY_FILE",
                "В файле нет строк с данными: под заголовками не заполнено ни одной строки.",
            )
        )
    return ImportResult(rows, errors)
