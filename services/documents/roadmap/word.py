"""Word documents (.docx): the roadmap table read structurally with python-docx.

Merged cells are resolved (a vertically merged cell counts for every row it covers, a cell
spanning columns keeps the columns aligned), a table nested in a cell gives its text to that
cell, and a layout frame (a table that only holds other tables) gives way to its content.
"""

from __future__ import annotations

from pathlib import Path

import docx
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from services.documents.roadmap.layout import RawDocument, Row, clean_text, is_header_row
from services.documents.roadmap.limits import MAX_TABLE_DEPTH, check_table_size, too_large


def read_docx_document(path: Path) -> RawDocument:
    document = docx.Document(str(path))
    body = document.element.body
    check_table_size(sum(1 for _ in body.iter(qn("w:tr"))), sum(1 for _ in body.iter(qn("w:tc"))))
    blocks = _unwrap_frames(list(document.iter_inner_content()), depth=0)
    tables = [block for block in blocks if isinstance(block, Table)]
    if not tables:
        return RawDocument(preamble=[clean_text(block.text) for block in blocks])

    table_rows = {id(table): _docx_table_rows(table) for table in tables}
    main = next(
        (table for table in tables if any(is_header_row(row.cells) for row in table_rows[id(table)])),
        max(tables, key=lambda table: len(table_rows[id(table)])),
    )
    result = RawDocument()
    seen_main = False
    for block in blocks:
        if block is main:
            seen_main = True
            result.rows.extend(table_rows[id(block)])
        elif isinstance(block, Table):
            if seen_main:  # a table continued after a page break or a heading
                result.rows.extend(table_rows[id(block)])
            else:
                for row in table_rows[id(block)]:
                    result.preamble.extend([" ".join(row.filled), ""])
        elif not seen_main:
            # Each Word paragraph stands alone; the blank line keeps them apart for the title.
            result.preamble.extend([clean_text(block.text), ""])
        elif block.text.strip():
            result.rows.append(Row((clean_text(block.text),), emphasized=_all_bold(block)))
    return result


def _unwrap_frames(blocks: list[Paragraph | Table], depth: int) -> list[Paragraph | Table]:
    """Offices lay a page out with a table and put the plan inside one of its cells: such a frame
    (a table holding tables, with no column titles of its own) gives way to its content."""
    if depth > MAX_TABLE_DEPTH:
        raise too_large(f"таблицы вложены глубже {MAX_TABLE_DEPTH} уровней")
    unwrapped: list[Paragraph | Table] = []
    for block in blocks:
        if isinstance(block, Table) and _is_frame(block):
            for cell in _unique_cells(block):
                unwrapped.extend(_unwrap_frames(list(cell.iter_inner_content()), depth + 1))
        else:
            unwrapped.append(block)
    return unwrapped


def _is_frame(table: Table) -> bool:
    if not table._tbl.xpath("./w:tr/w:tc/w:tbl"):
        return False
    return not any(is_header_row(row.cells) for row in _docx_table_rows(table))


def _unique_cells(table: Table) -> list[_Cell]:
    return [_Cell(tc, table) for tr in table._tbl.tr_lst for tc in tr.tc_lst]


def _cell_text(cell: _Cell, depth: int = 0) -> str:
    """A cell's paragraphs, and the text of a small table nested in it, in reading order."""
    parts: list[str] = []
    for block in cell.iter_inner_content():
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif depth < MAX_TABLE_DEPTH:
            parts.extend(_cell_text(inner, depth + 1) for inner in _unique_cells(block))
    return " ".join(parts)


def _all_bold(paragraph: Paragraph) -> bool:
    runs = [run for run in paragraph.runs if run.text.strip()]
    return bool(runs) and all(run.bold for run in runs)


def _docx_table_rows(table: Table) -> list[Row]:
    rows: list[Row] = []
    above: dict[int, tuple[str, bool]] = {}  # grid column -> cell content, for vertical merges
    for tr in table._tbl.tr_lst:
        cells: list[str] = [""] * (tr.grid_before or 0)
        bold_flags: list[bool] = []
        column = len(cells)
        for tc in tr.tc_lst:
            span = tc.grid_span
            if tc.vMerge == "continue":
                # Word shows one merged cell over several rows: it applies to each of them.
                text, bold = above.get(column, ("", False))
            else:
                cell = _Cell(tc, table)
                text = clean_text(_cell_text(cell))
                bold = any(_all_bold(paragraph) for paragraph in cell.paragraphs) and all(
                    _all_bold(paragraph) for paragraph in cell.paragraphs if paragraph.text.strip()
                )
            cells.append(text)
            cells.extend([""] * (span - 1))  # a spanning cell keeps the columns aligned
            if text:
                bold_flags.append(bold)
            for covered in range(column, column + span):
                above[covered] = (text, bold)
            column += span
        emphasized = bool(bold_flags) and all(bold_flags)
        if len(tr.tc_lst) == 1 and column > 1 and not tr.grid_before:
            cells = cells[:1]  # one cell across the whole row: a heading, wherever the columns go
        rows.append(Row(tuple(cells), emphasized=emphasized))
    return rows
