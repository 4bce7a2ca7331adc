"""Turning a roadmap document (text export or DOCX) into plain rows of cleaned cells.

Nothing here knows what an "item" is: this module only finds where the table is, splits it
into rows and cells and cleans the cell text.  :mod:`items` interprets the rows.

Supported text layouts:

* tab-separated rows (Word "save as text"), with cells broken over several lines or pages, or
  quoted where they hold line breaks (Excel "text, tab delimited");
* Markdown pipe tables (``| 1 | ... |``);
* one cell per line, after a header block of one column title per line;
* one cell per line opening with a tab, rows ended by a blank line.

Word documents are read by :mod:`word` into the same rows.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from services.documents.roadmap.deadlines import looks_like_deadline

ROLE_NUMBER = "number"
ROLE_ACTIVITY = "activity"
ROLE_DEADLINE = "deadline"
ROLE_RESPONSIBLE = "responsible"
ROLE_RESULT = "result"
ROLE_SECTION = "section"
ROLE_STAGE_NUMBER = "stage_number"  # «№ этапа» beside «Наименование этапа» in two-level tables

NUMBER_RE = re.compile(r"^(?P<number>\d{1,3}(?:\.\d{1,3})*|[IVXLC]{1,6})[.)]?$")
SECTION_TEXT_RE = re.compile(
    r"^(?:(?:этап|раздел|блок|модуль)(?![а-яё])"
    r"|[IVXLC]{1,6}[.)]\s*\S"
    r"|\d{1,2}(?:\.\d{1,2})*[.)]\s+\S)",
    re.IGNORECASE,
)
# A stage named by a number or a title is a section heading, not the column title "Этап" /
# "Этап реализации": "Раздел 1. Нормативное обеспечение", "Этап I: старт", "Этап «Старт»".
_SECTION_HEADING_RE = re.compile(
    r"^(?:этап|раздел|блок|модуль|направлени[а-яё]*)\s*(?:№\s*)?"
    r"(?:\d|[IVXLC]+(?![A-Za-zА-Яа-яЁё])|[.:«\"(-])",
    re.IGNORECASE,
)

_STAGE_TITLE_RE = re.compile(
    r"^(?:№\s*|n\s+|номер\s+|наименование\s+|название\s+)?(?:этап|раздел|блок|направлени)")
_BOLD_RE = re.compile(
    r"^(?:<b>|<strong>)(?P<inner>.*)(?:</b>|</strong>)$|^\*\*(?P<md>.*)\*\*$",
    re.DOTALL | re.IGNORECASE,
)
_BLOCK_TAG_RE = re.compile(r"<\s*/?\s*(?:br|p|li|ul|ol|div|tr|td|th|h\d)\b[^>]*>", re.IGNORECASE)
_ANY_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_RESPONSIBLE_RE = re.compile(
    r"[А-ЯЁ]\.\s?[А-ЯЁ]\."
    r"|директор|заместител|куратор|руководител|педагог|учител|наставник|психолог"
    r"|администратор|специалист|методист|управлени|отдел|председател|координатор"
    r"|завуч|администраци|ответственн|коллектив",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Row:
    """One table row: cleaned cell texts; ``emphasized`` when all of its text was bold."""

    cells: tuple[str, ...]
    emphasized: bool = False

    @property
    def filled(self) -> list[str]:
        return [cell for cell in self.cells if cell]


@dataclass
class RawDocument:
    """Lines before the table (for the title) and the table rows."""

    preamble: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def clean_text(raw: str) -> str:
    """Drop HTML tags/entities and Markdown marks, squeeze whitespace."""
    text = _BLOCK_TAG_RE.sub(" ", raw)
    text = _ANY_TAG_RE.sub("", text)
    text = html.unescape(text).replace("**", "").replace("\u00ad", "")
    text = re.sub(r"^\s*#{1,6}\s+", "", text)  # Markdown heading marks
    return re.sub(r"\s+", " ", text).strip()


def clean_cell(raw: str) -> tuple[str, bool]:
    """Cleaned text of a cell and whether the whole cell was bold (a hint for section rows)."""
    bare = re.sub(r"</?p\b[^>]*>", "", raw.strip(), flags=re.IGNORECASE).strip()
    return clean_text(raw), bool(bare and _BOLD_RE.match(bare))


def make_row(raw_cells: list[str]) -> Row:
    cleaned = [clean_cell(cell) for cell in raw_cells]
    texts = tuple(text for text, _ in cleaned)
    bold = [is_bold for text, is_bold in cleaned if text]
    return Row(texts, emphasized=bool(bold) and all(bold))


def parse_number(text: str) -> str | None:
    """Item number without the trailing dot ("1.2." -> "1.2"), or None if the text is not one."""
    match = NUMBER_RE.match(text.strip())
    return match["number"] if match else None


def header_role(text: str) -> str | None:
    """Which column a header cell names, if any ("Сроки исполнения" -> deadline)."""
    lowered = text.lower().replace("ё", "е")
    if not lowered or len(lowered) > 80:
        return None
    # "Этап", "№ этапа", "Наименование раздела" title a stage column; "Организационный этап" is
    # a stage's own name, and "Направления деятельности / мероприятия" the activity column.
    names_stage = _STAGE_TITLE_RE.match(lowered) and not re.search(r"мероприят|действ|работ", lowered)
    if lowered.startswith(("№", "n ", "номер")) and names_stage:
        return ROLE_STAGE_NUMBER
    if lowered.startswith(("№", "n п/п", "номер")) or "п/п" in lowered:
        return ROLE_NUMBER
    if names_stage and not re.search(r"срок|ответствен|результат", lowered):
        return ROLE_SECTION
    if "срок" in lowered or lowered.startswith(("дата", "период", "когда")):
        return ROLE_DEADLINE
    if "ответствен" in lowered or "исполнител" in lowered:
        return ROLE_RESPONSIBLE
    if any(word in lowered for word in ("результат", "отчетн", "вид документа", "продукт")):
        return ROLE_RESULT
    if any(word in lowered for word in ("мероприят", "наименование", "содержание", "действ")):
        return ROLE_ACTIVITY
    if lowered.startswith(("этап", "раздел", "направлени", "блок")):
        return ROLE_SECTION
    return None


def is_header_row(cells: tuple[str, ...] | list[str]) -> bool:
    filled = [cell for cell in cells if cell]
    roles = [header_role(cell) for cell in filled]
    known = {role for role in roles if role}
    return (
        len(known) >= 2
        and bool(known & {ROLE_ACTIVITY, ROLE_DEADLINE})
        and sum(role is not None for role in roles) * 2 >= len(filled)
    )


def is_column_index_row(cells: tuple[str, ...]) -> bool:
    """The "1 | 2 | 3 | 4 | 5" row some tables put under the header."""
    filled = [cell for cell in cells if cell]
    return len(filled) >= 3 and filled == [str(index) for index in range(1, len(filled) + 1)]


def looks_responsible(text: str) -> bool:
    return bool(text) and len(text) < 300 and bool(_RESPONSIBLE_RE.search(text))


# --------------------------------------------------------------------------- text exports


# A cell Excel quoted because it holds line breaks: "Сроки\nреализации" (quotes inside doubled).
_QUOTED_CELL_RE = re.compile(r'(?<![^\t\n])"((?:[^"]|"")*\n(?:[^"]|"")*)"(?=\t|\n|$)')


def split_text_document(text: str) -> RawDocument:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\t" in text:  # tab-delimited text from Excel: a quoted cell keeps its lines together
        text = _QUOTED_CELL_RE.sub(lambda match: match[1].replace('""', '"').replace("\n", " "), text)
    lines = text.split("\n")
    tabbed = [index for index, line in enumerate(lines) if "\t" in line and line.strip()]
    if _is_tab_cell_per_line(lines, tabbed):
        return _split_tab_cells(lines)
    if len(tabbed) >= 2:
        return _split_delimited(lines, tabbed, lambda line: line.split("\t"))
    piped = [index for index, line in enumerate(lines) if _is_pipe_row(line)]
    if len(piped) >= 2:
        return _split_delimited(lines, piped, _pipe_cells)
    return _split_one_cell_per_line(lines)


def _is_tab_cell_per_line(lines: list[str], tabbed: list[int]) -> bool:
    """Each cell on a line of its own that opens with a tab: nearly no line holds a second tab."""
    single = [index for index in tabbed if lines[index].startswith("\t") and "\t" not in lines[index][1:]]
    return len(single) >= 5 and len(single) >= 0.8 * len(tabbed)


def _split_tab_cells(lines: list[str]) -> RawDocument:
    """Cells open with a tab, a line without one goes on with the cell above, and a blank line
    ends the row: a row of one cell is a heading («ОСНОВНОЙ ЭТАП»)."""
    first = next(index for index, line in enumerate(lines) if line.startswith("\t"))
    rows: list[Row] = []
    cells: list[str] = []

    def end_row() -> None:
        if any(cell.strip() for cell in cells):
            rows.append(make_row(cells))
        cells.clear()

    for line in lines[first:]:
        if not line.strip() and "\t" not in line:
            end_row()
        elif line.startswith("\t") or not cells:
            cells.append(line[1:] if line.startswith("\t") else line)
        elif re.search(r"[^\W\d_]-$", cells[-1]) and line[:1].isalpha():
            cells[-1] += line  # "материально-" + "технических": a compound broken at its hyphen
        else:
            cells[-1] = f"{cells[-1]} {line}"
    end_row()
    return RawDocument(preamble=[clean_text(line) for line in lines[:first]], rows=rows)


def _is_pipe_row(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("|") and stripped.count("|") >= 3


def _pipe_cells(line: str) -> list[str]:
    stripped = line.strip()
    if not _is_pipe_row(stripped):
        return [stripped]
    return stripped.strip("|").split("|")


def _is_pipe_separator(line: str) -> bool:
    return bool(re.fullmatch(r"\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*", line))


def _split_delimited(
    lines: list[str], row_indexes: list[int], split: Callable[[str], list[str]]
) -> RawDocument:
    def cleaned(index: int) -> list[str]:
        return [clean_text(cell) for cell in split(lines[index])]

    header = next((index for index in row_indexes if is_header_row(cleaned(index))), None)
    if header is not None:
        start = header
    else:
        start = next((index for index in row_indexes if parse_number(cleaned(index)[0])), row_indexes[0])
    widths = Counter(len(split(lines[index])) for index in row_indexes if index >= start)
    expected = len(split(lines[header])) if header is not None else widths.most_common(1)[0][0]

    rows: list[Row] = []
    index = start
    while index < len(lines):
        line = lines[index]
        if not line.strip() or _is_pipe_separator(line):
            index += 1
            continue
        cells = split(line)
        # A line break typed inside a cell splits the row: glue following lines back on while
        # the row is short of cells and the next line does not start a row of its own.
        if len(cells) > 1 and parse_number(clean_text(cells[0])):
            while len(cells) < expected and index + 1 < len(lines):
                following = lines[index + 1]
                next_cells = split(following)
                if (
                    not following.strip()
                    or parse_number(clean_text(next_cells[0]))
                    or SECTION_TEXT_RE.match(clean_text(following))
                    or len(cells) + len(next_cells) - 1 > expected
                ):
                    break
                cells[-1] = f"{cells[-1]} {next_cells[0]}"
                cells.extend(next_cells[1:])
                index += 1
        rows.append(make_row(cells))
        index += 1
    return RawDocument(preamble=[clean_text(line) for line in lines[:start]], rows=rows)


def _split_one_cell_per_line(lines: list[str]) -> RawDocument:
    """Each cell on its own line; rows start at a line holding only the item number."""
    texts = [clean_cell(line) for line in lines]
    header_start, roles = _find_header_block([text for text, _ in texts])
    if header_start is None:
        # No column titles: assume the common order and rely on the deadline as an anchor.
        roles = [ROLE_NUMBER, ROLE_ACTIVITY, ROLE_DEADLINE, ROLE_RESPONSIBLE, ROLE_RESULT]
        first_number = next(
            (index for index, (text, _) in enumerate(texts) if parse_number(text)), len(texts)
        )
        preamble_end = body_start = first_number
    else:
        preamble_end, body_start = header_start, header_start + len(roles)

    rows: list[Row] = []
    if header_start is not None:
        rows.append(Row(tuple(text for text, _ in texts[header_start:body_start])))
    record: list[str] | None = None

    def flush() -> None:
        if record is not None:
            rows.append(Row(tuple(_assign_record(record, roles))))

    body = [(text, bold) for text, bold in texts[body_start:] if text]
    body_texts = [text for text, _ in body]
    index = 0
    while index < len(body):
        # The header block (or the "1 2 3 4 5" line of column numbers) repeated after a page
        # break: skip it and keep the record open, as its cells may go on after the break.
        skip = _repeated_header_length(body_texts, index, roles if header_start is not None else None)
        if skip:
            index += skip
            continue
        text, bold = body[index]
        index += 1
        if parse_number(text):
            flush()
            record = [text]
        elif bold or (SECTION_TEXT_RE.match(text) and not text[0].isdigit()):
            flush()
            record = None
            rows.append(Row((text,), emphasized=bold))
        elif record is None:
            rows.append(Row((text,), emphasized=bold))
        else:
            record.append(text)
    flush()
    return RawDocument(preamble=[text for text, _ in texts[:preamble_end]], rows=rows)


def _header_run(texts: list[str], start: int) -> list[str | None]:
    """Roles of the column titles that follow each other from ``start`` (each role once)."""
    roles: list[str | None] = []
    for text in texts[start:]:
        is_title = len(text.split()) <= 6 and not _SECTION_HEADING_RE.match(text)
        role = header_role(text) if is_title else None
        if role is None or role in roles:
            break
        roles.append(role)
    return roles


def _find_header_block(texts: list[str]) -> tuple[int | None, list[str | None]]:
    for start in range(len(texts)):
        roles = _header_run(texts, start)
        if len(roles) >= 3 and {ROLE_ACTIVITY, ROLE_DEADLINE} <= set(roles):
            return start, roles
    return None, []


def _repeated_header_length(texts: list[str], start: int, roles: list[str | None] | None) -> int:
    """How many lines from ``start`` repeat the column titles ``roles`` or number the columns."""
    width = len(roles) if roles is not None else 0
    if width >= 3 and texts[start : start + width] == [str(column) for column in range(1, width + 1)]:
        return width
    # The same titles in the same order: a record's own lines never read as a whole header.
    if roles is not None and _header_run(texts, start)[:width] == roles:
        return width
    return 0


def _assign_record(record: list[str], roles: list[str | None]) -> list[str]:
    """Spread the lines of one record over the columns, anchoring on the deadline line."""
    number, lines = record[0], record[1:]
    has_number = ROLE_NUMBER in roles
    columns = [role for role in roles if role != ROLE_NUMBER]
    if len(lines) == len(columns) or ROLE_DEADLINE not in columns:
        values = _spread(lines, columns)
    else:
        deadline_at = columns.index(ROLE_DEADLINE)
        found = next(
            (pos for pos in range(deadline_at, len(lines)) if looks_like_deadline(lines[pos])),
            None,
        )
        if found is None:
            values = _spread(lines, columns)
        else:
            values = (
                _spread(lines[:found], columns[:deadline_at])
                + [lines[found]]
                + _spread(lines[found + 1 :], columns[deadline_at + 1 :])
            )
    by_role = dict(zip(columns, values, strict=True))
    if has_number:
        by_role[ROLE_NUMBER] = number
    else:
        first = columns[0] if columns else ROLE_ACTIVITY
        by_role[first] = f"{number} {by_role.get(first, '')}".strip()
    return [by_role.get(role, "") if role else "" for role in roles]


def _spread(lines: list[str], columns: list[str | None]) -> list[str]:
    """Give each column one line; surplus lines go where they most likely belong."""
    if not columns:
        return []
    if len(lines) <= len(columns):
        return lines + [""] * (len(columns) - len(lines))
    if ROLE_RESPONSIBLE in columns and len(columns) == 2:
        # Names/positions run over several lines more often than anything else does.
        responsible_first = columns[0] == ROLE_RESPONSIBLE
        ordered = lines if responsible_first else lines[::-1]
        count = 1
        while count < len(ordered) - 1 and looks_responsible(ordered[count]):
            count += 1
        names, rest = ordered[:count], ordered[count:]
        if not responsible_first:
            names, rest = names[::-1], rest[::-1]
            return [" ".join(rest), " ".join(names)]
        return [" ".join(names), " ".join(rest)]
    surplus = len(lines) - len(columns) + 1
    return [" ".join(lines[:surplus])] + lines[surplus:]
