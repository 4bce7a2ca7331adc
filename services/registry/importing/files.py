"""Reading an uploaded XLSX or CSV file into rows, safely: size, format and zip-bomb checks run
before any parser sees the bytes, and parser failures become file problems."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from services.registry.importing.categories import Role
from services.registry.importing.headers import header_score
from services.registry.validation import ValidationProblem, normalise_text
from shared.errors import DomainError
from shared.uploads import MAX_UPLOAD_BYTES, ZipLimits, check_ooxml


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


#: Cyrillic encodings a CSV may come in besides the two read (UTF-8, Windows-1251): a KOI8-R
#: or DOS file decodes as Windows-1251 without an error, into nonsense.
_OTHER_CYRILLIC: Final = (("koi8_r", "KOI8-R"), ("cp866", "DOS (CP866)"),
                          ("mac_cyrillic", "Mac Cyrillic"), ("iso8859_5", "ISO-8859-5"))
_HINT_SAMPLE_BYTES: Final = 64 * 1024


def misencoding(data: bytes, filename: str,
                recognised: Callable[[list[list[str]]], bool]) -> str | None:
    """The encoding a CSV seems to be in when read as another one made its header unreadable:
    the title of the first of ``_OTHER_CYRILLIC`` under which ``recognised`` accepts the first
    rows, else None (not a CSV, or no better reading)."""
    if _extension(filename) not in _CSV_EXTENSIONS:
        return None
    sample = data[:_HINT_SAMPLE_BYTES]
    if len(data) > len(sample):
        sample = sample[: sample.rfind(b"\n") + 1] or sample
    for encoding, title in _OTHER_CYRILLIC:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        try:
            rows = list(csv.reader(text.splitlines()[:20], delimiter=_sniff_delimiter(text)))
        except csv.Error:
            continue
        if recognised(rows):
            return title
    return None


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
        recognised = max((header_score(row) for row in rows[:20]), default=0)
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
