"""Bounds that keep reading a roadmap short, whatever the file holds.

A real roadmap is a few dozen rows (the largest met in the field: about 120) and its Word part
``word/document.xml`` stays under 2 MB even with fifty pages.  The bounds below are an order of
magnitude above that, and far below what makes python-docx or the text splitter slow: a crafted
file that inflates to a huge table, or a text of a million lines, is refused before it is walked.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from services.documents.roadmap.models import RoadmapParseError

MAX_DOCUMENT_XML_BYTES = 16 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 2000
MAX_ROWS = 5000
MAX_CELLS = 60_000
MAX_TABLE_DEPTH = 5
MAX_TEXT_CHARS = 3_000_000
MAX_CELL_CHARS = 20_000  # the longest cell met in the field holds about 2,000 characters
MAX_LINES = 60_000

TOO_LARGE = "ROADMAP_TOO_LARGE"


def too_large(what: str) -> RoadmapParseError:
    return RoadmapParseError(
        f"Документ слишком велик для дорожной карты ({what}). Загрузите только план мероприятий.",
        code=TOO_LARGE, status=413)


def unreadable_word() -> RoadmapParseError:
    return RoadmapParseError(
        "Не удалось открыть документ Word: файл повреждён или не является документом .docx. "
        "Откройте его в Word и сохраните заново в формате .docx")


def check_docx_archive(path: Path) -> None:
    """Look at the archive's directory before python-docx inflates anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ARCHIVE_ENTRIES:
                raise too_large(f"в архиве больше {MAX_ARCHIVE_ENTRIES} частей")
            main = next((info for info in infos if info.filename == "word/document.xml"), None)
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise unreadable_word() from error
    if main is None:
        raise unreadable_word()
    if main.file_size > MAX_DOCUMENT_XML_BYTES:
        raise too_large(f"текст документа больше {MAX_DOCUMENT_XML_BYTES // (1024 * 1024)} МБ")


def check_table_size(rows: int, cells: int) -> None:
    if rows > MAX_ROWS:
        raise too_large(f"в таблицах больше {MAX_ROWS} строк")
    if cells > MAX_CELLS:
        raise too_large(f"в таблицах больше {MAX_CELLS} ячеек")


def check_cells(cells: tuple[str, ...] | list[str]) -> None:
    if any(len(cell) > MAX_CELL_CHARS for cell in cells):
        raise too_large(f"ячейка таблицы длиннее {MAX_CELL_CHARS} знаков")


def check_text_size(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise too_large(f"больше {MAX_TEXT_CHARS // 1_000_000} млн знаков")
    if text.count("\n") > MAX_LINES:
        raise too_large(f"больше {MAX_LINES} строк")
