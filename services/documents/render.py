"""The layout of an organisational document (ГОСТ Р 7.0.97-2016) on top of python-docx.

Requisites in their usual places: the organisation's name at the top, the document type, the
date and registration number on one line, the place of compilation, the title («Об ...») above
the text, and the signature block (position on the left, initials and surname on the right).
Pure code: a ``Sheet`` is built in memory and turned into DOCX bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt
from docx.table import Table

FONT = "Times New Roman"
BODY_SIZE = Pt(14)
TABLE_SIZE = Pt(12)


@dataclass(frozen=True)
class Signatory:
    position: str
    full_name: str


@dataclass(frozen=True)
class Requisites:
    """What every issued document carries: who issues it, its number, date and place, who signs."""

    organisation_name: str
    number: str
    date: date
    signatory: Signatory
    place: str = ""
    parent_organisation: str | None = None


def short_name(full_name: str) -> str:
    """«Петрова Анна Сергеевна» → «А.С. Петрова», the form a signature block uses (ГОСТ)."""
    parts = full_name.split()
    if len(parts) < 2:
        return full_name.strip()
    initials = "".join(f"{p[0]}." for p in parts[1:3])
    return f"{initials} {parts[0]}"


def format_date(day: date) -> str:
    return day.strftime("%d.%m.%Y")


class Sheet:
    """One document being laid out; each method adds a requisite or a block of text."""

    def __init__(self) -> None:
        self.doc: DocxDocument = Document()
        section = self.doc.sections[0]
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)
        section.left_margin, section.right_margin = Cm(3.0), Cm(1.5)
        section.top_margin, section.bottom_margin = Cm(2.0), Cm(2.0)
        normal = self.doc.styles["Normal"]
        normal.font.name = FONT
        normal.font.size = BODY_SIZE
        normal.paragraph_format.space_after = Pt(0)
        normal.paragraph_format.line_spacing = 1.0

    def _line(self, text: str, *, bold: bool = False, align: int = WD_ALIGN_PARAGRAPH.LEFT,
              size: Pt | None = None, space_after: float = 0, indent: bool = False) -> None:
        paragraph = self.doc.add_paragraph()
        paragraph.alignment = align
        paragraph.paragraph_format.space_after = Pt(space_after)
        if indent:
            paragraph.paragraph_format.first_line_indent = Cm(1.25)
        run = paragraph.add_run(text)
        run.bold = bold
        if size is not None:
            run.font.size = size

    def header(self, requisites: Requisites, document_type: str | None) -> None:
        """Organisation, document type, the date-and-number line, the place."""
        if requisites.parent_organisation:
            self._line(requisites.parent_organisation, align=WD_ALIGN_PARAGRAPH.CENTER, size=Pt(12))
        self._line(requisites.organisation_name.upper(), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER,
                   space_after=12)
        if document_type:
            self._line(document_type, bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, size=Pt(16),
                       space_after=12)
        self.date_and_number(requisites)
        if requisites.place:
            self._line(requisites.place, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=12)

    def date_and_number(self, requisites: Requisites) -> None:
        table = self._plain_table(1, 2)
        table.cell(0, 0).paragraphs[0].add_run(format_date(requisites.date))
        right = table.cell(0, 1).paragraphs[0]
        right.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        right.add_run(f"№ {requisites.number}")

    def title(self, text: str) -> None:
        self._line(text, bold=True, space_after=12)

    def centered(self, text: str, *, bold: bool = False, space_after: float = 6) -> None:
        self._line(text, bold=bold, align=WD_ALIGN_PARAGRAPH.CENTER, space_after=space_after)

    def paragraph(self, text: str, *, bold: bool = False) -> None:
        self._line(text, bold=bold, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=True, space_after=6)

    def heading(self, text: str) -> None:
        self._line(text, bold=True, space_after=6)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]],
              widths: Sequence[float] | None = None) -> None:
        table = self.doc.add_table(rows=1, cols=len(headers))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        header = table.rows[0].cells
        if widths:
            # Readers differ in which width they honour: set the grid and every cell alike
            # (``add_row`` copies the grid's widths into each new cell).
            table.autofit = False
            for column, cell, width in zip(table._tbl.tblGrid.gridCol_lst, header, widths,
                                           strict=True):
                column.w = cell.width = Cm(width)
        for cell, text in zip(header, headers, strict=True):
            run = cell.paragraphs[0].add_run(text)
            run.bold = True
            run.font.size = TABLE_SIZE
        # Row by row, holding each row's cells: ``table.cell(r, c)`` and ``row.cells`` rebuild
        # the grid of the whole table on every call, which is quadratic for long orders.
        for row in rows:
            for cell, text in zip(table.add_row().cells, row, strict=True):
                lines = str(text).split("\n")
                cell.paragraphs[0].add_run(lines[0]).font.size = TABLE_SIZE
                for line in lines[1:]:
                    cell.add_paragraph().add_run(line).font.size = TABLE_SIZE
        self._line("", space_after=6)

    def picture(self, png: bytes, width_cm: float = 16.0, caption: str | None = None) -> None:
        self.doc.add_picture(io.BytesIO(png), width=Cm(width_cm))
        self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        if caption:
            self._line(caption, align=WD_ALIGN_PARAGRAPH.CENTER, size=Pt(12), space_after=6)

    def signature(self, signatory: Signatory) -> None:
        self._line("", space_after=18)
        table = self._plain_table(1, 2)
        table.cell(0, 0).paragraphs[0].add_run(signatory.position)
        right = table.cell(0, 1).paragraphs[0]
        right.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        right.add_run(short_name(signatory.full_name))

    def signature_line(self, label: str, full_name: str) -> None:
        """A line to sign by hand: «____________ /А.С. Петрова/» with the date to fill in."""
        self._line("", space_after=12)
        self._line(f"{label} ____________ /{short_name(full_name)}/", space_after=6)
        self._line("«____» ______________ 20___ г.")

    def _plain_table(self, rows: int, cols: int) -> Table:
        """A borderless layout table (the default style of a new table has no borders)."""
        table = self.doc.add_table(rows=rows, cols=cols)
        table.autofit = True
        return table

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.doc.save(buffer)
        return reproducible_zip(buffer.getvalue())


def reproducible_zip(data: bytes) -> bytes:
    """The same package with fixed entry times, so the same content gives the same SHA-256."""
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0)),
                            source.read(entry.filename), compress_type=zipfile.ZIP_DEFLATED)
    return output.getvalue()
