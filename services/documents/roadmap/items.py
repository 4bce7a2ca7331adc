"""Interpreting table rows as roadmap items: column roles, sections, continuation rows."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from services.documents.roadmap.deadlines import looks_like_deadline
from services.documents.roadmap.layout import (
    ROLE_ACTIVITY,
    ROLE_DEADLINE,
    ROLE_NUMBER,
    ROLE_RESPONSIBLE,
    ROLE_RESULT,
    ROLE_SECTION,
    ROLE_STAGE_NUMBER,
    SECTION_TEXT_RE,
    Row,
    header_role,
    is_column_index_row,
    is_header_row,
    looks_responsible,
    parse_number,
)

_TEXT_ROLES = (ROLE_ACTIVITY, ROLE_DEADLINE, ROLE_RESPONSIBLE, ROLE_RESULT)
_INFO_ROLES = (ROLE_DEADLINE, ROLE_RESPONSIBLE, ROLE_RESULT)

# A cell that ends with one of these is unfinished: its tail was pushed into the next row.
_DANGLING_WORDS = frozenset(
    {"для", "и", "в", "во", "с", "со", "к", "ко", "по", "на", "от", "о", "об", "из", "за"}
    | {"при", "или", "а", "но", "что", "как", "до", "без", "через", "между", "под", "над", "у"}
)
_STAGE_NAME_RE = re.compile(r"^[А-ЯЁ][а-яё-]+\s+(?:этап|раздел|блок)\.?$")
_LEADING_NUMBER_RE = re.compile(r"^(?P<number>\d{1,3}(?:\.\d{1,3})*)[.)]?\s+(?P<rest>\S.*)$")


@dataclass
class ItemDraft:
    """An item being assembled from one row plus its continuation rows."""

    section: str | None
    number: str | None
    parts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, role: str, text: str) -> None:
        # A continuation row naming the same party again ("Управление" twice) adds nothing.
        if text and not (role == ROLE_RESPONSIBLE and text in self.parts.get(role, [])):
            self.parts.setdefault(role, []).append(text)

    def text(self, role: str) -> str:
        return " ".join(self.parts.get(role, []))


def find_header_index(rows: list[Row]) -> int | None:
    return next((index for index, row in enumerate(rows) if is_header_row(row.cells)), None)


def build_drafts(rows: list[Row]) -> list[ItemDraft]:
    """Items in document order, with their sections; rows before the header are ignored."""
    header_index = find_header_index(rows)
    header = rows[header_index] if header_index is not None else None
    body = [
        row
        for row in rows[header_index + 1 if header_index is not None else 0 :]
        if row.filled and not is_header_row(row.cells) and not is_column_index_row(row.cells)
    ]
    if not body:
        return []
    width = len(header.cells) if header else _typical_width(body)
    # A row of one cell in a wider table (a line without separators, a Word cell spanning the
    # whole row) is a heading or a tail, whichever column comes first.
    spanning = [len(row.cells) == 1 < width for row in body]
    body = _fit_width(body, width)
    roles = _roles_from_header(header) if header else {}
    roles = _complete_roles(roles, body, width)
    home = roles.get(ROLE_NUMBER, roles.get(ROLE_ACTIVITY, 0))
    body = [_moved_to(row, home) if spans else row for row, spans in zip(body, spanning, strict=True)]
    drafts = _walk(body, roles)
    _repair_split_cells(drafts)
    return drafts


def _moved_to(row: Row, column: int) -> Row:
    cells = [""] * len(row.cells)
    cells[column] = row.cells[0]
    return Row(tuple(cells), row.emphasized)


def _typical_width(rows: list[Row]) -> int:
    widths = Counter(len(row.cells) for row in rows if len(row.filled) >= 2)
    return widths.most_common(1)[0][0] if widths else max(len(row.cells) for row in rows)


def _fit_width(rows: list[Row], width: int) -> list[Row]:
    """Bring every row to ``width`` cells.

    Exports of tables with merged cells often carry an extra, always-empty physical column in
    some rows (which shifts everything after it); such a column is dropped.  Short rows are
    padded on the right.
    """
    by_width: dict[int, list[Row]] = {}
    for row in rows:
        by_width.setdefault(len(row.cells), []).append(row)
    drop: dict[int, list[int]] = {}
    for row_width, group in by_width.items():
        if row_width <= width:
            continue
        always_empty = [column for column in range(row_width) if all(not row.cells[column] for row in group)]
        # Prefer dropping columns from the right: a trailing empty cell is the most harmless.
        drop[row_width] = sorted(always_empty[::-1][: row_width - width])
    fitted: list[Row] = []
    for row in rows:
        cells = list(row.cells)
        for column in reversed(drop.get(len(cells), [])):
            del cells[column]
        if len(cells) > width:  # no phantom column found: keep the text in the last column
            cells = cells[: width - 1] + [" ".join(cell for cell in cells[width - 1 :] if cell)]
        cells.extend([""] * (width - len(cells)))
        fitted.append(Row(tuple(cells), row.emphasized))
    return fitted


def _roles_from_header(header: Row) -> dict[str, int]:
    roles: dict[str, int] = {}
    for column, text in enumerate(header.cells):
        role = header_role(text)
        if role and role not in roles:
            roles[role] = column
    return roles


def _complete_roles(roles: dict[str, int], rows: list[Row], width: int) -> dict[str, int]:
    """Fill in the columns the header did not name (or all of them) from the cell contents."""
    roles = dict(roles)

    def share(column: int, predicate: Callable[[str], object]) -> float:
        values = [row.cells[column] for row in rows if row.cells[column]]
        return sum(1 for value in values if predicate(value)) / len(values) if values else 0.0

    def free() -> list[int]:
        return [column for column in range(width) if column not in roles.values()]

    if ROLE_NUMBER not in roles:
        numbered = [column for column in free() if share(column, parse_number) >= 0.5]
        if numbered:
            roles[ROLE_NUMBER] = numbered[0]
    if ROLE_DEADLINE not in roles and free():
        best = max(free(), key=lambda column: share(column, looks_like_deadline))
        if share(best, looks_like_deadline) > 0:
            roles[ROLE_DEADLINE] = best
    if ROLE_ACTIVITY not in roles and free():
        deadline = roles.get(ROLE_DEADLINE, width)
        before = [column for column in free() if column < deadline] or free()
        roles[ROLE_ACTIVITY] = max(before, key=lambda column: _average_length(rows, column))
    if ROLE_RESPONSIBLE not in roles and free():
        best = max(free(), key=lambda column: share(column, looks_responsible))
        if share(best, looks_responsible) >= 0.3:
            roles[ROLE_RESPONSIBLE] = best
    if ROLE_RESULT not in roles and free():
        roles[ROLE_RESULT] = max(free(), key=lambda column: share(column, bool))
    return roles


def _average_length(rows: list[Row], column: int) -> float:
    return sum(len(row.cells[column]) for row in rows) / len(rows)


def _reads_as_heading(text: str) -> bool:
    """A row of text alone that names a stage: "Раздел 2. ...", "ОСНОВНОЙ ЭТАП", "Заключительный
    этап" -- never the tail of an activity, which goes on in lower case."""
    return bool(SECTION_TEXT_RE.match(text) or _STAGE_NAME_RE.search(text)) or (
        text.isupper() and len(text) > 3)


def _continues_previous(text: str) -> bool:
    """A fragment that reads as the tail of a sentence rather than the start of an item."""
    return not text or text[0].islower() or text[0] in "-–—,;:)».•"


def _walk(rows: list[Row], roles: dict[str, int]) -> list[ItemDraft]:
    drafts: list[ItemDraft] = []
    section: str | None = None
    draft: ItemDraft | None = None
    # A numbered row with nothing but a title is a section header -- unless the very next row
    # turns out to hold its deadline (the item was cut by a page break).
    pending_header: tuple[str, str, str | None] | None = None
    numbered_layout = ROLE_NUMBER in roles

    for row in rows:
        cell = {role: row.cells[column] for role, column in roles.items()}
        number_cell = cell.get(ROLE_NUMBER, "")
        number = parse_number(number_cell) if number_cell else None
        if cell.get(ROLE_SECTION):
            stage_number = parse_number(cell.get(ROLE_STAGE_NUMBER, ""))
            section = f"{stage_number}. {cell[ROLE_SECTION]}" if stage_number else cell[ROLE_SECTION]
        has_info = any(cell.get(role) for role in _INFO_ROLES)

        if not has_info:
            texts = [text for text in row.filled if not (number and text == number_cell)]
            text = " ".join(texts)
            if not text:
                continue
            in_number_column = bool(number_cell) and number is None
            if number or in_number_column or row.emphasized or _reads_as_heading(text) or draft is None:
                label = f"{number}. {text}" if number else text
                pending_header = (number, text, section) if number else None
                section, draft = label, None
                continue
            for role in _TEXT_ROLES:
                draft.add(role, cell.get(role, ""))
            continue

        activity = cell.get(ROLE_ACTIVITY, "")
        starts_item = bool(number)
        if not starts_item and numbered_layout:
            if draft is None and pending_header is not None and _continues_previous(activity):
                number, title, section = pending_header
                draft = ItemDraft(section=section, number=number)
                draft.add(ROLE_ACTIVITY, title)
                drafts.append(draft)
            elif activity and not _continues_previous(activity):
                starts_item = looks_like_deadline(cell.get(ROLE_DEADLINE, "")) or draft is None
            else:
                starts_item = draft is None
        elif not starts_item:
            starts_item = draft is None or not _continues_previous(activity)
            match = _LEADING_NUMBER_RE.match(activity) if starts_item else None
            if match:  # no number column: "1.2. Разработка ..." carries its own number
                number, activity = match["number"], match["rest"]
                cell[ROLE_ACTIVITY] = activity
        pending_header = None

        if starts_item:
            draft = ItemDraft(section=section, number=number)
            drafts.append(draft)
        for role in _TEXT_ROLES:
            draft.add(role, cell.get(role, ""))
    return drafts


def _repair_split_cells(drafts: list[ItemDraft]) -> None:
    """Move a cell tail that slid into the next item back where it belongs.

    "…подходящая для" in one item followed by "конкретных программ…" in the next cannot be two
    separate results: a cell never ends on a preposition.
    """
    for previous, current in zip(drafts, drafts[1:], strict=False):
        for role in (ROLE_RESULT, ROLE_RESPONSIBLE):
            before, after = previous.text(role), current.text(role)
            if not before or not after or not after[0].islower():
                continue
            last_word = before.split()[-1].lower()
            if last_word in _DANGLING_WORDS or before.endswith((",", " -", " –")):
                previous.add(role, after)
                current.parts.pop(role, None)
