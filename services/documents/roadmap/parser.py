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

Pure code: the only I/O is reading the file passed to :func:`parse_roadmap_docx`; what a file
is and how it is converted is :mod:`reading`'s business.
"""

from __future__ import annotations

import re
import zipfile
from datetime import date
from pathlib import Path

from docx.opc.exceptions import OpcError
from lxml import etree

from services.documents.roadmap.cadence import due_dates
from services.documents.roadmap.deadlines import find_period, parse_deadline
from services.documents.roadmap.items import ItemDraft, build_drafts, find_header_index
from services.documents.roadmap.layout import (
    ROLE_ACTIVITY,
    ROLE_DEADLINE,
    ROLE_RESPONSIBLE,
    ROLE_RESULT,
    RawDocument,
    split_text_document,
)
from services.documents.roadmap.limits import (
    check_cells,
    check_docx_archive,
    check_text_size,
    unreadable_word,
)
from services.documents.roadmap.models import Period, Roadmap, RoadmapItem, RoadmapParseError
from services.documents.roadmap.word import read_docx_document

__all__ = [
    "Period",
    "Roadmap",
    "RoadmapItem",
    "RoadmapParseError",
    "parse_deadline",
    "parse_roadmap_docx",
    "parse_roadmap_text",
]

# Tried in order: a "дорожная карта" heading beats a "план мероприятий" one, and so on.
_TITLE_KEYWORDS = (
    re.compile(r"дорожн", re.IGNORECASE),
    re.compile(r"план\s+(?:мероприяти|работ|действи)", re.IGNORECASE),
    re.compile(r"план|программ", re.IGNORECASE),
)
_MAX_TITLE_LENGTH = 400
_PLAN_OR_SCHOOL_YEAR = re.compile(r"дорожн|план|программ|учебн", re.IGNORECASE)
_SCHOOL_YEAR_WORD = re.compile(r"учебн", re.IGNORECASE)


def parse_roadmap_text(text: str) -> Roadmap:
    """Parse a text export of a roadmap (tab-separated, pipe table or one cell per line)."""
    check_text_size(text)
    return _build_roadmap(split_text_document(text))


def parse_roadmap_docx(path: Path) -> Roadmap:
    """Parse the roadmap table of a .docx document (bounded: see :mod:`limits`)."""
    check_docx_archive(Path(path))
    try:
        document = read_docx_document(Path(path))
    except RoadmapParseError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, OpcError, etree.LxmlError) as error:
        # The library's own words are English and may name a server path: not for the user.
        raise unreadable_word() from error
    return _build_roadmap(document)


def _build_roadmap(document: RawDocument) -> Roadmap:
    rows = document.rows
    for row in rows:
        check_cells(row.cells)
    check_cells(document.preamble)
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
    period = find_period(title) or _period_from_preamble(preamble) or _period_from_deadlines(drafts, preamble)
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


def _period_from_preamble(lines: list[str]) -> Period | None:
    """A plan inside an order often names its period only in the order's heading ("Об утверждении
    плана ... на 2020-2021 учебный год"): the nearest line above the table that speaks of the plan
    or of a school year and names a period.  A bare year in running text ("в целях ... в 2023
    году") is no period."""
    for line in reversed(lines):
        if _PLAN_OR_SCHOOL_YEAR.search(line) and (period := find_period(line)):
            return period
    return None


def _period_from_deadlines(drafts: list[ItemDraft], preamble: list[str]) -> Period:
    days = [day for draft in drafts for day in parse_deadline(draft.text(ROLE_DEADLINE), None)[0]]
    if not days:
        raise RoadmapParseError(
            "Не удалось определить период дорожной карты: в заголовке не указаны годы, "
            "а в сроках мероприятий нет дат с указанием года"
        )
    first, last = min(days), max(days)
    school_start = first.year if first.month >= 9 else first.year - 1
    if any(_SCHOOL_YEAR_WORD.search(line) for line in preamble) and last <= date(school_start + 1, 8, 31):
        # A plan "на учебный год" whose dated deadlines fit in one school year is that year.
        return Period(date(school_start, 9, 1), date(school_start + 1, 8, 31))
    return Period(date(first.year, 1, 1), date(last.year, 12, 31))


def _finish(draft: ItemDraft, period: Period) -> RoadmapItem:
    deadline_text = draft.text(ROLE_DEADLINE)
    days, continuous = due_dates(deadline_text, draft.text(ROLE_ACTIVITY), period)
    return RoadmapItem(
        section=draft.section,
        number=draft.number,
        activity=draft.text(ROLE_ACTIVITY),
        result=draft.text(ROLE_RESULT) or None,
        responsible=draft.text(ROLE_RESPONSIBLE) or None,
        deadline_text=deadline_text,
        due_dates=tuple(days),
        continuous=continuous,
    )
