"""Roadmap (дорожная карта) import: Word documents and their text exports -> :class:`Roadmap`.

Pipeline::

    text / DOCX --layout--> rows of clean cells --items--> item drafts
                --(this module)--> title, period, due dates --> Roadmap

Period: taken from the title ("на 2022-2024 гг." -> 2022-01-01..2024-12-31, "2023/2024
учебный год" -> 2023-09-01..2024-08-31).  When the title names no years, the period spans the
calendar years of the explicitly dated deadlines (min year 1 January .. max year 31 December);
when there are none either, :class:`RoadmapParseError` is raised.

Output conventions: ``number`` loses its trailing dot ("1.2." -> "1.2"); a section is the most
recent header row, written "N. Title" when the number sits in its own cell ("I" + "Нормативное
обеспечение" -> "I. Нормативное обеспечение"); ``due_dates`` are unique and chronological (see
:mod:`deadlines` for the phrase rules); in DOCX a vertically merged cell counts for
every row it covers, while text exports only show it in its first row.

Pure code: the only I/O is reading the file passed to :func:`parse_roadmap_file` /
:func:`parse_roadmap_docx`.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

from docx.opc.exceptions import OpcError

from services.documents.roadmap.deadlines import find_period, parse_deadline, years_mentioned
from services.documents.roadmap.items import ItemDraft, build_drafts, find_header_index
from services.documents.roadmap.layout import (
    ROLE_ACTIVITY,
    ROLE_DEADLINE,
    ROLE_RESPONSIBLE,
    ROLE_RESULT,
    RawDocument,
    read_docx_document,
    split_text_document,
)
from services.documents.roadmap.models import Period, Roadmap, RoadmapItem, RoadmapParseError

__all__ = [
    "Period",
    "Roadmap",
    "RoadmapItem",
    "RoadmapParseError",
    "parse_deadline",
    "parse_roadmap_docx",
    "parse_roadmap_file",
    "parse_roadmap_text",
]

# Tried in order: a "дорожная карта" heading beats a "план мероприятий" one, and so on.
_TITLE_KEYWORDS = (
    re.compile(r"дорожн", re.IGNORECASE),
    re.compile(r"план\s+(?:мероприяти|работ|действи)", re.IGNORECASE),
    re.compile(r"план|программ", re.IGNORECASE),
)
_MAX_TITLE_LENGTH = 400


def parse_roadmap_text(text: str) -> Roadmap:
    """Parse a text export of a roadmap (tab-separated, pipe table or one cell per line)."""
    return _build_roadmap(split_text_document(text))


def parse_roadmap_docx(path: Path) -> Roadmap:
    """Parse the roadmap table of a .docx document."""
    try:
        document = read_docx_document(Path(path))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, OpcError) as error:
        raise RoadmapParseError(f"Не удалось открыть документ Word «{Path(path).name}»: {error}") from error
    return _build_roadmap(document)


def parse_roadmap_file(path: Path) -> Roadmap:
    """Parse a .docx file, or any other file as text (UTF-8, UTF-8 with BOM, else CP1251)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return parse_roadmap_docx(path)
    if suffix == ".doc":
        raise RoadmapParseError(
            "Формат .doc не поддерживается: сохраните документ в формате .docx или как текст"
        )
    return parse_roadmap_text(_decode(path.read_bytes()))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # also reads plain UTF-8
    except UnicodeDecodeError:
        return data.decode("cp1251")  # Windows exports; every byte sequence is valid here


def _build_roadmap(document: RawDocument) -> Roadmap:
    rows = document.rows
    header_index = find_header_index(rows)
    # Rows above the header inside the table (a title typed into the first row) are preamble.
    preamble = document.preamble + [" ".join(row.filled) for row in rows[: header_index or 0] if row.filled]
    drafts = build_drafts(rows)
    if not drafts:
        raise RoadmapParseError(
            "В документе не найдена таблица мероприятий дорожной карты "
            "(ожидаются строки с мероприятием и сроком исполнения)"
        )
    title = find_title(preamble)
    period = find_period(title) or _period_from_deadlines(drafts)
    return Roadmap(title=title, period=period, items=tuple(_finish(d, period) for d in drafts))


def find_title(lines: list[str]) -> str:
    """The roadmap's heading among the lines above the table.

    It is the last paragraph (run of non-blank lines) that mentions a roadmap/plan; a paragraph
    that starts mid-sentence ("(«дорожная карта») по ...") is glued to the one before it, as
    in "ПЛАН МЕРОПРИЯТИЙ" + "(«дорожная карта») по внедрению ...".
    """
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    paragraphs = [paragraph for paragraph in paragraphs if paragraph]
    if not paragraphs:
        return ""
    chosen, keyword = next(
        (
            (index, keyword)
            for keyword in _TITLE_KEYWORDS
            for index in range(len(paragraphs) - 1, -1, -1)
            if keyword.search(" ".join(paragraphs[index]))
        ),
        (None, None),
    )
    if chosen is None or keyword is None:
        return " ".join(paragraphs[0])
    paragraph = paragraphs[chosen]
    if len(" ".join(paragraph)) > _MAX_TITLE_LENGTH:  # running text, not a heading
        paragraph = [next((line for line in paragraph if keyword.search(line)), paragraph[0])]
    title = " ".join(paragraph)
    if chosen > 0 and _starts_mid_sentence(title):
        title = f"{' '.join(paragraphs[chosen - 1])} {title}"
    # Word keeps each title line as its own paragraph: "Дорожная карта" / "реализации ..." /
    # "на 2024 год".  Follow on while the text continues the sentence or names the period.
    for following in paragraphs[chosen + 1 :]:
        text = " ".join(following)
        if len(text) > _MAX_TITLE_LENGTH:
            break
        if _starts_mid_sentence(text) or (find_period(title) is None and find_period(text)):
            title = f"{title} {text}"
        else:
            break
    return re.sub(r"\s+", " ", title).strip()


def _starts_mid_sentence(text: str) -> bool:
    return text[0].islower() or text[0] in '(«"-–'


def _period_from_deadlines(drafts: list[ItemDraft]) -> Period:
    years = [year for draft in drafts for year in years_mentioned(draft.text(ROLE_DEADLINE))]
    if not years:
        raise RoadmapParseError(
            "Не удалось определить период дорожной карты: в заголовке не указаны годы, "
            "а в сроках мероприятий нет дат с указанием года"
        )
    return Period(date(min(years), 1, 1), date(max(years), 12, 31))


def _finish(draft: ItemDraft, period: Period) -> RoadmapItem:
    deadline_text = draft.text(ROLE_DEADLINE)
    due_dates, continuous = parse_deadline(deadline_text, period)
    return RoadmapItem(
        section=draft.section,
        number=draft.number,
        activity=draft.text(ROLE_ACTIVITY),
        result=draft.text(ROLE_RESULT) or None,
        responsible=draft.text(ROLE_RESPONSIBLE) or None,
        deadline_text=deadline_text,
        due_dates=tuple(due_dates),
        continuous=continuous,
    )
