"""Dashboards to XLSX for officials who keep their own spreadsheets.

Every text goes in as a literal string, never a formula: names and roadmap activities come from
uploads and the registry, and a cell reading ``=HYPERLINK(...)`` must show just that text in
Excel or LibreOffice, not run in the official's spreadsheet (formula injection).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def literal(sheet: Worksheet, value: Any) -> Any:
    """A text as a cell of type string (openpyxl would store ``=...`` as a formula); control
    characters a spreadsheet cannot hold are dropped. Other values stay as they are."""
    if not isinstance(value, str):
        return value
    cell = Cell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


def add_row(sheet: Worksheet, values: list[Any]) -> None:
    sheet.append([literal(sheet, v) for v in values])


def dashboard_xlsx(current: dict[str, Any], figures: dict[str, Any], children: list[dict[str, Any]],
                   overdue: list[dict[str, Any]], kinds: dict[str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Показатели"
    add_row(sheet, [current["name"]])
    sheet["A1"].font = Font(bold=True, size=14)
    add_row(sheet, ["на дату" if figures.get("as_of") else "на сейчас", figures.get("as_of") or ""])
    add_row(sheet, ["Показатель", "Значение, %", "Цель, %", "Числитель", "Знаменатель", "Цель достигнута"])
    for kpi in figures.get("kpis", []):
        value = None if kpi.get("suppressed") or kpi.get("value") is None else round(kpi["value"] * 100, 1)
        target = None if kpi.get("target") is None else round(kpi["target"] * 100, 1)
        add_row(sheet, [kpi["title"], value, target, kpi.get("numerator"), kpi.get("denominator"),
                        "да" if kpi.get("met") else "нет"])
    add_row(sheet, [])
    for title, value in (("Наставляемые", figures.get("mentees", {}).get("total")),
                         ("Наставники", figures.get("mentors", {}).get("total")),
                         ("Пары и группы", figures.get("pairs", {}).get("formed")),
                         ("Встречи", figures.get("meetings", {}).get("held"))):
        add_row(sheet, [title, value])
    sheet.column_dimensions["A"].width = 80

    ranked = book.create_sheet("Рейтинг")
    add_row(ranked, ["Место", "Организация / территория", "Вид", "Доля наставляемых 10–19 лет, %",
                     "Наставляемые", "Наставники", "Просрочено пунктов дорожной карты"])
    for place, row in enumerate(children, start=1):
        kpi = row.get("kpi") or {}
        share = None if kpi.get("value") is None or kpi.get("suppressed") else round(kpi["value"] * 100, 1)
        add_row(ranked, [place, row["name"], kinds.get(row["kind"], row["kind"]), share,
                         row["figures"].get("mentees", 0), row["figures"].get("mentors", 0), row["late"]])
    ranked.column_dimensions["B"].width = 50

    late = book.create_sheet("Просрочено")
    add_row(late, ["Организация", "Дорожная карта", "Мероприятие", "Срок"])
    for item in overdue:
        add_row(late, [item["organisation"], item["roadmap_title"], item.get("activity", ""),
                       item.get("deadline_text", "")])
    for ws, header_row in ((sheet, 3), (ranked, 1), (late, 1)):
        for cell in ws[header_row]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
