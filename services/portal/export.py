"""Dashboards to XLSX for officials who keep their own spreadsheets.

Every text goes in as a literal string, never a formula: names and roadmap activities come from
uploads and the registry, and a cell reading ``=HYPERLINK(...)`` must show just that text in
Excel or LibreOffice, not run in the official's spreadsheet (formula injection).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

# openpyxl is imported where a sheet is made: it loads numpy, which an embedded system that
# never exports would otherwise hold for good.

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def literal(sheet: Worksheet, value: Any) -> Any:
    """A text as a cell of type string (openpyxl would store ``=...`` as a formula); control
    characters a spreadsheet cannot hold are dropped. Other values stay as they are."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

    if not isinstance(value, str):
        return value
    cell = Cell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"
    return cell


#: The headline's block: the text as the screen shows it, and the number behind it.
HEADLINE_HEADERS = ["Показатель", "Значение", "Число"]
#: Excel's formats of the headline's numbers that are no counts (``dashboards.render.headline``).
HEADLINE_FORMATS = {"feedback_completion": "0.0%", "satisfaction_mentors": "0.0",
                    "satisfaction_mentees": "0.0"}


def add_row(sheet: Worksheet, values: list[Any]) -> None:
    sheet.append([literal(sheet, v) for v in values])


def dashboard_xlsx(current: dict[str, Any], figures: dict[str, Any], children: list[dict[str, Any]],
                   overdue: list[dict[str, Any]], kinds: dict[str, str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Показатели"
    add_row(sheet, [current["name"]])
    sheet["A1"].font = Font(bold=True, size=14)
    add_row(sheet, ["на дату" if figures.get("as_of") else "на сейчас", figures.get("as_of") or ""])
    add_row(sheet, ["Период", figures.get("period_label") or "—"])
    # Every text is the one formatter's, as the monitoring service wrote it beside the raw value:
    # the screen, this sheet and the report read alike. The counts behind a share stay numbers.
    add_row(sheet, ["Показатель", "Значение", "Цель", "Расчёт", "Цель достигнута",
                    "Числитель", "Знаменатель"])
    for kpi in figures.get("kpis", []):
        hidden = kpi.get("suppressed")
        add_row(sheet, [kpi["title"], kpi.get("display", "—"), kpi.get("target_display", "—"),
                        kpi.get("calculation", "—"), kpi.get("met_display", "—"),
                        None if hidden else kpi.get("numerator"),
                        None if hidden else kpi.get("denominator")])
    add_row(sheet, [])
    # Beside each text its number, for the reader's own sums (None where it is hidden or there
    # is no data): a count as it is, a share and a mean shown as the text shows them.
    add_row(sheet, HEADLINE_HEADERS)
    headline_header = sheet.max_row
    for row in figures.get("headline", []):
        add_row(sheet, [row["label"], row["display"], row.get("value")])
        sheet.cell(sheet.max_row, 3).number_format = HEADLINE_FORMATS.get(row.get("code"), "0")
    disclosure = figures.get("disclosure")
    if disclosure:
        add_row(sheet, [])
        add_row(sheet, [f"«{disclosure['hidden']}» — значение скрыто, чтобы по нему нельзя было "
                        "узнать отдельного человека; «нет данных: контингент нужно обновить» — "
                        "участников больше, чем в заявленном контингенте."])
    sheet.column_dimensions["A"].width = 80

    ranked = book.create_sheet("Рейтинг")
    add_row(ranked, ["Место", "Организация / территория", "Вид", "Доля наставляемых 10–19 лет",
                     "Наставляемые", "Наставники", "Просрочено пунктов дорожной карты"])
    for place, row in enumerate(children, start=1):
        kpi = row.get("kpi") or {}
        add_row(ranked, [place, row["name"], kinds.get(row["kind"], row["kind"]),
                         kpi.get("display", "—"),
                         row["figures"].get("mentees", 0), row["figures"].get("mentors", 0), row["late"]])
    ranked.column_dimensions["B"].width = 50

    late = book.create_sheet("Просрочено")
    add_row(late, ["Организация", "Дорожная карта", "Мероприятие", "Срок"])
    for item in overdue:
        add_row(late, [item["organisation"], item["roadmap_title"], item.get("activity", ""),
                       item.get("deadline_text", "")])
    for ws, header_row in ((sheet, 4), (sheet, headline_header), (ranked, 1), (late, 1)):
        for cell in ws[header_row]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
