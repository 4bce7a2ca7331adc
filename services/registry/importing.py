"""Bulk import of mentors and mentees from XLSX/CSV files uploaded by schools.

The flow is deliberately all-or-nothing: :func:`validate_import` checks the
whole file and reports every problem at once with the line the curator sees in
Excel, so a curator fixes the file in one pass instead of uploading it ten
times. Rows are only importable when :attr:`ImportResult.ok` is true.

Uploaded bytes are untrusted. Size, format and zip-bomb checks run before any
parser sees the data, and parser failures are turned into file errors, so an
upload can never crash the caller.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal, TypeVar, get_args

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
from shared.errors import DomainError
from shared.uploads import MAX_UPLOAD_BYTES, ZipLimits, check_ooxml

__all__ = [
    "CATEGORY_LABELS",
    "ImportLimits",
    "ImportResult",
    "PersonRow",
    "Role",
    "RowError",
    "classify_header",
    "parse_category",
    "read_table",
    "template_xlsx",
    "validate_import",
]

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


# --------------------------------------------------------------------------- results


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


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_bytes: int = MAX_UPLOAD_BYTES
    max_uncompressed_bytes: int = 100 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_zip_entries: int = 1000
    # Ratios of tiny entries are meaningless (a 2 KB styles part may compress
    # 50x); a bomb needs large output, so the ratio only applies above this.
    ratio_check_min_bytes: int = 1024 * 1024
    max_data_rows: int = 10_000
    # Line numbers (blank rows included) beyond which nothing may be filled in.
    max_lines: int = 100_000
    max_columns: int = 100
    header_search_rows: int = 20


DEFAULT_LIMITS: Final = ImportLimits()


class FileProblem(ValidationProblem):
    """A problem that makes the whole file unreadable."""

    def __init__(self, code: str, message_ru: str) -> None:
        super().__init__(code, message_ru, "file")


# --------------------------------------------------------------------------- reading files

_XLSX_EXTENSIONS: Final = (".xlsx", ".xlsm")
_CSV_EXTENSIONS: Final = (".csv",)
_OLE_SIGNATURE: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MB: Final = 1024 * 1024


def _extension(filename: str) -> str:
    name = filename.strip().lower().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


_XLSX_PROBLEMS: Final = {
    "ZIP_BOMB": "Файл отклонён: внутри архива .xlsx слишком много данных или подозрительно высокая "
    "степень сжатия. Сохраните таблицу заново в Excel или разделите её на несколько файлов.",
    "CORRUPT_FILE": "Файл повреждён или не является книгой Excel (.xlsx). "
    "Откройте его в Excel и сохраните заново в формате .xlsx.",
}


def _check_zip(data: bytes, limits: ImportLimits) -> None:
    """Inspect the zip directory before openpyxl decompresses anything.

    The checks are the uploads' shared ones; only the wording is the importer's own, which tells
    a curator what to do with the spreadsheet.
    """
    zip_limits = ZipLimits(
        max_entries=limits.max_zip_entries,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
        max_ratio=limits.max_compression_ratio,
        ratio_min_bytes=limits.ratio_check_min_bytes,
    )
    try:
        check_ooxml(data, "xlsx", zip_limits)
    except DomainError as exc:
        code = exc.code if exc.code in _XLSX_PROBLEMS else "CORRUPT_FILE"
        raise FileProblem(code, _XLSX_PROBLEMS[code]) from None


def _sheet_for_role(titles: Sequence[str], role: str | None) -> int:
    marker = {"mentee": "наставляем", "mentor": "наставник"}.get(role or "")
    if marker:
        for index, title in enumerate(titles):
            if marker in title.casefold().replace("ё", "е"):
                return index
    return 0


def _read_xlsx(data: bytes, role: str | None, limits: ImportLimits) -> list[list[Any]]:
    if data.startswith(_OLE_SIGNATURE):
        # Both Excel 97-2003 files and password-protected .xlsx are OLE containers.
        raise FileProblem(
            "UNSUPPORTED_FORMAT",
            "Файл сохранён в старом формате Excel 97–2003 или защищён паролем. "
            "Снимите пароль и сохраните таблицу как «Книга Excel (.xlsx)».",
        )
    _check_zip(data, limits)
    # Imported lazily so that CSV-only callers never load openpyxl.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        try:
            sheets = workbook.worksheets
            if not sheets:
                raise FileProblem("EMPTY_FILE", "В книге Excel нет ни одного листа с таблицей.")
            sheet = sheets[_sheet_for_role([s.title for s in sheets], role)]
            # The dimension may be absent or lie; max_col caps the padding openpyxl adds.
            width = min(sheet.max_column or limits.max_columns, limits.max_columns)
            rows = sheet.iter_rows(max_col=width, values_only=True)
            return _bounded_rows((_trim(row) for row in rows), limits)
        finally:
            workbook.close()
    except FileProblem:
        raise
    except Exception:  # openpyxl surfaces malformed parts as arbitrary exceptions
        raise FileProblem(
            "CORRUPT_FILE",
            "Не удалось прочитать книгу Excel: файл повреждён. "
            "Откройте его в Excel и сохраните заново в формате .xlsx.",
        ) from None


def _trim(row: Sequence[Any]) -> list[Any]:
    """Drop trailing empty cells that openpyxl pads rows with."""
    end = len(row)
    while end and row[end - 1] is None:
        end -= 1
    return list(row[:end])


def _is_blank(row: Sequence[Any]) -> bool:
    # The cheap None test first: sheets may pad a million empty rows.
    return all(cell is None for cell in row) or not any(normalise_text(cell) for cell in row)


def _bounded_rows(rows: Iterable[list[Any]], limits: ImportLimits) -> list[list[Any]]:
    """Collect rows, refusing files with more rows than we accept."""
    result: list[list[Any]] = []
    filled = 0
    allowed = limits.max_data_rows + limits.header_search_rows
    for line, row in enumerate(rows, start=1):
        blank = _is_blank(row)
        if line > limits.max_lines:
            # Blank rows past the limit are skipped unstored, so a stray
            # formatted cell at row 1 048 576 costs neither memory nor time.
            if blank:
                continue
            raise FileProblem(
                "TOO_MANY_ROWS",
                f"В файле заполнена строка {line}, а принимаются не более {limits.max_lines} "
                "строк. Удалите лишние строки под таблицей или разделите список на несколько "
                "файлов.",
            )
        if not blank:
            filled += 1
            if filled > allowed:
                raise FileProblem(
                    "TOO_MANY_ROWS",
                    f"В файле больше {limits.max_data_rows} строк. Разделите список на несколько файлов.",
                )
        result.append(row)
    return result


def _decode_text(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's «Текст Юникод» export is UTF-16 with a BOM.
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # utf-8-sig also decodes BOM-less UTF-8, so it covers the "utf-8" case;
        # cp1251 is what Russian Windows Excel writes for «CSV (разделители — запятые)».
        encodings = ("utf-8-sig", "cp1251")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise FileProblem(
        "CORRUPT_FILE",
        "Не удалось прочитать CSV-файл: он не похож на текст в кодировке UTF-8 или Windows-1251. "
        "Сохраните таблицу как «CSV UTF-8».",
    )


_DELIMITERS: Final = (";", "\t", ",")
_SEP_HINT_RE: Final = re.compile(r"\A\ufeff?sep=(.)\r?\n", re.IGNORECASE)


def _sniff_delimiter(text: str) -> str:
    """Choose the delimiter under which the header makes the most sense.

    csv.Sniffer guesses badly on Russian data with commas inside cells
    ("математика, физика"), so candidates are scored by recognised headers
    first and by consistent column counts second.
    """
    sample = text.splitlines()[:50]
    best: tuple[int, int, int] | None = None
    chosen = _DELIMITERS[0]
    for delimiter in _DELIMITERS:
        try:
            rows = list(csv.reader(sample, delimiter=delimiter))
        except csv.Error:
            continue
        recognised = max((_header_score(row) for row in rows[:20]), default=0)
        widths = Counter(len(row) for row in rows if len(row) > 1)
        consistent = widths.most_common(1)[0][1] if widths else 0
        score = (recognised, consistent, len(rows[0]) if rows else 0)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def _read_csv(data: bytes, limits: ImportLimits) -> list[list[Any]]:
    text = _decode_text(data)
    if hint := _SEP_HINT_RE.match(text):
        # Excel's "sep=;" line is invisible once the file is opened in Excel,
        # so dropping it keeps our line numbers equal to what the curator sees.
        delimiter, text = hint[1], text[hint.end() :]
    else:
        delimiter = _sniff_delimiter(text)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        return _bounded_rows((row[: limits.max_columns] for row in reader), limits)
    except csv.Error:
        raise FileProblem(
            "CORRUPT_FILE",
            "Не удалось разобрать CSV-файл: проверьте кавычки и разделители "
            "или сохраните таблицу в формате .xlsx.",
        ) from None


def read_table(
    data: bytes,
    filename: str,
    *,
    role: Role | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> list[list[Any]]:
    """Read the first sheet (or the «Наставляемые»/«Наставники» sheet) as rows.

    Row ``i`` of the result is line ``i + 1`` in the file; empty rows are kept
    so numbering matches what the curator sees. Raises :class:`FileProblem`.
    """
    if len(data) > limits.max_bytes:
        raise FileProblem(
            "FILE_TOO_LARGE",
            f"Файл слишком большой: {len(data) / _MB:.1f} МБ при допустимых "
            f"{limits.max_bytes / _MB:.0f} МБ. Разделите список на несколько файлов.",
        )
    extension = _extension(filename)
    if extension in _XLSX_EXTENSIONS:
        return _read_xlsx(data, role, limits)
    if extension in _CSV_EXTENSIONS:
        return _read_csv(data, limits)
    if extension == ".xls":
        message = (
            "Формат Excel 97–2003 (.xls) не поддерживается. Сохраните таблицу как «Книга Excel (.xlsx)»."
        )
    else:
        message = (
            f"Файлы «{extension or 'без расширения'}» не поддерживаются. "
            "Загрузите таблицу в формате .xlsx или .csv."
        )
    raise FileProblem("UNSUPPORTED_FORMAT", message)


# --------------------------------------------------------------------------- headers

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


def _header_score(row: Sequence[Any]) -> int:
    return len({name for cell in row if (name := classify_header(cell))})


@dataclass(frozen=True, slots=True)
class _Header:
    line: int
    columns: dict[str, int]
    titles: dict[str, str]
    duplicates: tuple[str, ...]

    def has_name(self) -> bool:
        return "full_name" in self.columns or {"last_name", "first_name"} <= self.columns.keys()


def _parse_header(row: Sequence[Any], line: int) -> _Header:
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
    return _Header(line, columns, titles, tuple(duplicates))


def _find_header(table: Sequence[Sequence[Any]], limits: ImportLimits) -> _Header | None:
    """Find the header row; schools often put a title line or two above it."""
    best: _Header | None = None
    for index, row in enumerate(table[: limits.header_search_rows]):
        if not any(normalise_text(cell) for cell in row):
            continue
        header = _parse_header(row, index + 1)
        if header.has_name() and "birth_date" in header.columns:
            return header
        if best is None or len(header.columns) > len(best.columns):
            best = header
    return best


def _missing_columns(header: _Header) -> list[str]:
    missing = [] if header.has_name() else ["ФИО (или «Фамилия» и «Имя»)"]
    missing += [COLUMN_TITLES[name] for name in _REQUIRED if name not in header.columns]
    return missing


# --------------------------------------------------------------------------- categories


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


# --------------------------------------------------------------------------- rows

# The example row of the template; left in by mistake it would import a
# fictional person, so it is recognised and reported.
_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "mentee": {
        "full_name": "Петрова Анна Сергеевна",
        "birth_date": "14.03.2012",
        "category": "обучающийся",
        "grade": "7А",
        "organisation_code": "0101",
        "snils": "112-233-445 95",
        "phone": "+7 912 345-67-89",
        "email": "anna.petrova@example.ru",
        "requests": "подготовка к олимпиаде по математике; адаптация в новом классе",
        "guardian_name": "Петрова Ольга Николаевна",
        "consent": "да",
        "guardian_consent": "да",
    },
    "mentor": {
        "full_name": "Смирнов Алексей Викторович",
        "birth_date": "22.09.1985",
        "category": "педагог",
        "grade": "",
        "organisation_code": "0101",
        "snils": "112-233-445 95",
        "phone": "+7 912 765-43-21",
        "email": "a.smirnov@example.ru",
        "competencies": "математика; олимпиадная подготовка; проектная деятельность",
        "capacity": 3,
        "guardian_name": "",
        "consent": "да",
        "guardian_consent": "",
    },
}
_TEMPLATE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "mentee": (
        "full_name", "birth_date", "category", "grade", "organisation_code", "snils", "phone",
        "email", "requests", "guardian_name", "consent", "guardian_consent",
    ),
    "mentor": (
        "full_name", "birth_date", "category", "grade", "organisation_code", "snils", "phone",
        "email", "competencies", "capacity", "guardian_name", "consent", "guardian_consent",
    ),
}  # fmt: skip


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

    def __init__(self, header: _Header, row: Sequence[Any], line: int) -> None:
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
    header: _Header, row: Sequence[Any], line: int, role: Role, today: date
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

    example = _EXAMPLES[role]
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


def _data_rows(table: Sequence[Sequence[Any]], header: _Header) -> Iterator[tuple[int, Sequence[Any]]]:
    for index in range(header.line, len(table)):
        row = table[index]
        if any(normalise_text(cell) for cell in row):
            yield index + 1, row


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

    header = _find_header(table, limits)
    if header is None:
        return ImportResult(
            [], [RowError(None, None, "EMPTY_FILE", "Файл пустой: в нём нет ни одной строки.")]
        )
    file_errors: list[RowError] = []
    missing = _missing_columns(header)
    if missing:
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


# --------------------------------------------------------------------------- template


def template_xlsx(role: Role) -> bytes:
    """A ready-to-fill workbook: the right headers, one example row, instructions."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    fields = _TEMPLATE_FIELDS[role]
    example = _EXAMPLES[role]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    sheet.title = "Наставляемые" if role == "mentee" else "Наставники"
    sheet.append([COLUMN_TITLES[name] for name in fields])
    sheet.append([example.get(name, "") for name in fields])

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    sheet.freeze_panes = "A2"
    for index, name in enumerate(fields, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 34 if name in ("requests", "competencies") else 22
        if name in ("snils", "phone", "birth_date", "grade", "organisation_code"):
            # Text format keeps leading zeros of СНИЛС/codes and stops Excel
            # from turning "7-Б" or dates into something else.
            for row in range(2, 502):
                sheet.cell(row=row, column=index).number_format = "@"

    def dropdown(name: str, options: Iterable[str]) -> None:
        if name not in fields:
            return
        letter = get_column_letter(fields.index(name) + 1)
        validation = DataValidation(type="list", formula1='"' + ",".join(options) + '"', allow_blank=True)
        # Other wordings ("учитель") are accepted by the importer, so the
        # list is a hint rather than a restriction.
        validation.showErrorMessage = False
        validation.add(f"{letter}2:{letter}501")
        sheet.add_data_validation(validation)

    dropdown("category", [CATEGORY_LABELS[c] for c in CATEGORIES_BY_ROLE[role]])
    dropdown("consent", ["да", "нет"])
    dropdown("guardian_consent", ["да", "нет"])

    notes = workbook.create_sheet("Инструкция")
    notes.column_dimensions["A"].width = 34
    notes.column_dimensions["B"].width = 90
    notes.append(["Столбец", "Как заполнять"])
    for cell in notes[1]:
        cell.font = bold
    categories = ", ".join(CATEGORY_LABELS[c] for c in CATEGORIES_BY_ROLE[role])
    hints = {
        "full_name": "Фамилия, имя и отчество (при наличии) полностью, русскими буквами.",
        "birth_date": "ДД.ММ.ГГГГ, например 05.09.2012.",
        "category": f"Одно из значений: {categories}.",
        "grade": "Для обучающихся: номер класса от 1 до 11 и буква, например 7А.",
        "organisation_code": "Код образовательной организации.",
        "snils": "11 цифр, например 112-233-445 95 (необязательно).",
        "phone": "Например +7 912 345-67-89 (необязательно).",
        "email": "Адрес электронной почты (необязательно).",
        "requests": "Запросы наставляемого через точку с запятой.",
        "competencies": "Компетенции наставника через точку с запятой.",
        "capacity": "Сколько наставляемых готов вести наставник: от 1 до 15 (по умолчанию 1).",
        "guardian_name": "Обязательно, если участнику нет 18 лет.",
        "consent": "да — согласие на обработку персональных данных получено.",
        "guardian_consent": "да — согласие законного представителя получено "
        "(обязательно, если участнику нет 18 лет).",
    }
    for name in fields:
        notes.append([COLUMN_TITLES[name], hints[name]])
    notes.append([])
    notes.append(["", "Строка 2 на первом листе — пример. Удалите её перед загрузкой."])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
