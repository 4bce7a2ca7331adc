"""DOCX import: Word tables built with python-docx in tmp_path."""

from datetime import date
from pathlib import Path

import docx
import pytest

from services.documents.roadmap import (
    RoadmapParseError,
    parse_roadmap_docx,
    parse_roadmap_file,
)

HEADER = ["№ п/п", "Мероприятие", "Сроки исполнения", "Ответственные", "Ожидаемый результат"]


def dates(*texts: str) -> tuple[date, ...]:
    return tuple(date.fromisoformat(text) for text in texts)


def fill_row(table, index: int, values: list[str]) -> None:
    for cell, value in zip(table.rows[index].cells, values, strict=True):
        cell.text = value


def bold_merged_row(table, index: int, text: str) -> None:
    """A section header: one bold cell spanning the whole row."""
    row = table.rows[index]
    merged = row.cells[0].merge(row.cells[-1])
    merged.text = ""
    merged.paragraphs[0].add_run(text).bold = True


def build_roadmap_docx(path: Path) -> Path:
    document = docx.Document()
    # The approval block is often a table of its own above the title.
    approval = document.add_table(rows=1, cols=2)
    fill_row(approval, 0, ["СОГЛАСОВАНО\nпедагогическим советом", "УТВЕРЖДАЮ\nДиректор школы"])
    document.add_paragraph("Дорожная карта")
    document.add_paragraph("реализации программы наставничества МБОУ «СОШ № 3» на 2024-2025 гг.")

    table = document.add_table(rows=7, cols=5)
    fill_row(table, 0, HEADER)
    bold_merged_row(table, 1, "Раздел 1. Нормативное обеспечение")
    fill_row(table, 2, ["1.1.", "Разработка положения о наставничестве", "до 01.02.2024", "", "Положение"])
    fill_row(table, 3, ["1.2.", "Издание приказа о закреплении пар", "февраль 2024 г.", "", "Приказ"])
    # One responsible cell merged vertically over two items.
    responsible = table.cell(2, 3).merge(table.cell(3, 3))
    responsible.text = "Директор Соколова Л.М."
    bold_merged_row(table, 4, "Раздел 2. Реализация")
    fill_row(table, 5, ["2.1.", "", "ежегодно, май", "Куратор", "Отчёт"])
    activity = table.cell(5, 1)
    activity.text = "Мониторинг программы:"
    activity.add_paragraph("- анкетирование наставляемых;")
    activity.add_paragraph("- анализ результатов.")
    fill_row(table, 6, ["2.2.", "Встречи наставнических пар", "постоянно", "Наставники", ""])

    # The table goes on after a page break as a separate table without a header.
    document.add_page_break()
    more = document.add_table(rows=1, cols=5)
    fill_row(more, 0, ["2.3.", "Итоговый педсовет", "II квартал 2025", "Директор", "Протокол"])
    document.add_paragraph("Исполнитель: Соколова Л.М.")
    document.save(str(path))
    return path


def test_docx_roadmap(tmp_path: Path) -> None:
    roadmap = parse_roadmap_docx(build_roadmap_docx(tmp_path / "roadmap.docx"))
    assert roadmap.title == (
        "Дорожная карта реализации программы наставничества МБОУ «СОШ № 3» на 2024-2025 гг."
    )
    assert roadmap.to_dict()["period"] == {"start": "2024-01-01", "end": "2025-12-31"}
    assert [(item.section, item.number) for item in roadmap.items] == [
        ("Раздел 1. Нормативное обеспечение", "1.1"),
        ("Раздел 1. Нормативное обеспечение", "1.2"),
        ("Раздел 2. Реализация", "2.1"),
        ("Раздел 2. Реализация", "2.2"),
        ("Раздел 2. Реализация", "2.3"),
    ]
    first, second, monitoring, meetings, council = roadmap.items
    assert first.activity == "Разработка положения о наставничестве"
    assert first.due_dates == dates("2024-02-01")
    # A vertically merged cell belongs to every row it covers.
    assert first.responsible == second.responsible == "Директор Соколова Л.М."
    assert second.due_dates == dates("2024-02-29")
    assert monitoring.activity == (
        "Мониторинг программы: - анкетирование наставляемых; - анализ результатов."
    )
    assert monitoring.due_dates == dates("2024-05-31", "2025-05-31")
    assert meetings.continuous is True
    assert meetings.result is None
    assert council.due_dates == dates("2025-06-30")
    assert council.responsible == "Директор"


def test_parse_roadmap_file_dispatches_docx_by_suffix(tmp_path: Path) -> None:
    path = build_roadmap_docx(tmp_path / "Дорожная карта.DOCX")
    assert len(parse_roadmap_file(path).items) == 5


def test_docx_without_header_uses_content_and_school_year(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("План мероприятий (дорожная карта) на 2024-2025 учебный год")
    table = document.add_table(rows=3, cols=4)
    fill_row(table, 0, ["1", "Диагностика затруднений педагогов", "октябрь", "Педагог-психолог"])
    fill_row(table, 1, ["2", "Методический семинар", "январь", "Заместитель директора"])
    fill_row(table, 2, ["3", "Отчёт о наставничестве", "Июнь ежегодно", "Куратор"])
    path = tmp_path / "plan.docx"
    document.save(str(path))

    roadmap = parse_roadmap_docx(path)
    assert roadmap.to_dict()["period"] == {"start": "2024-09-01", "end": "2025-08-31"}
    assert [item.due_dates for item in roadmap.items] == [
        dates("2024-10-31"),
        dates("2025-01-31"),
        dates("2025-06-30"),
    ]
    assert roadmap.items[0].responsible == "Педагог-психолог"
    assert roadmap.items[1].activity == "Методический семинар"


def test_docx_without_tables_is_an_error(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Дорожная карта на 2024 год")
    path = tmp_path / "empty.docx"
    document.save(str(path))
    with pytest.raises(RoadmapParseError, match="не найдена таблица мероприятий"):
        parse_roadmap_docx(path)


def test_broken_docx_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(RoadmapParseError, match="Не удалось открыть документ Word"):
        parse_roadmap_docx(path)
