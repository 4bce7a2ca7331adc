"""Our own layout variants (tests/fixtures/roadmaps) and the file-level API."""

import json
from datetime import date
from pathlib import Path

import pytest

from services.documents.roadmap import (
    Roadmap,
    RoadmapItem,
    RoadmapParseError,
    parse_roadmap_file,
    parse_roadmap_text,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "roadmaps"


def dates(*texts: str) -> tuple[date, ...]:
    return tuple(date.fromisoformat(text) for text in texts)


def by_number(roadmap: Roadmap) -> dict[str, RoadmapItem]:
    return {item.number: item for item in roadmap.items if item.number}


# --------------------------------------------------------------------------- tab-separated


def test_tabbed_school_year_layout() -> None:
    roadmap = parse_roadmap_file(FIXTURES / "tabbed_school_year.txt")
    assert roadmap.title == (
        "План мероприятий (дорожная карта) по реализации программы наставничества "
        "МАОУ «Гимназия № 2» на 2023/2024 учебный год"
    )
    assert roadmap.to_dict()["period"] == {"start": "2023-09-01", "end": "2024-08-31"}
    assert [item.number for item in roadmap.items] == [
        "1", "2", "3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2",
    ]  # fmt: skip
    items = by_number(roadmap)
    # Header order here is №, Мероприятие, Ответственный, Срок, Результат.
    assert items["1"] == RoadmapItem(
        section="Этап 1. Подготовительный",
        number="1",
        activity="Издание приказа о внедрении программы наставничества",
        result="Приказ",
        responsible="Директор",
        deadline_text="до 1 сентября",
        due_dates=dates("2023-09-01"),
        continuous=False,
    )
    assert items["2"].activity == "Назначение куратора программы"
    assert items["2"].result == "Приказ «О назначении куратора»"
    assert items["2"].due_dates == dates("2023-09-30")
    # a line break typed inside the activity cell
    assert items["3"].activity == "Формирование базы наставников и наставляемых"
    assert items["3"].due_dates == dates("2023-10-31")
    assert items["2.1"].section == "Этап 2. Основной"
    assert items["2.1"].continuous is True
    # the responsible cell continues on the next row
    assert items["2.2"].responsible == "Куратор Петрова И.С., заместитель директора по УВР"
    # "I полугодие" of a school year is ambiguous: kept as text only
    assert items["2.2"].deadline_text == "I полугодие"
    assert items["2.2"].due_dates == ()
    assert items["2.3"].due_dates == dates("2024-05-25")  # May of a school year: second year
    assert items["2.4"].due_dates == dates("2024-06-30")
    assert items["3.1"].section == "Этап 3. Заключительный"
    assert items["3.2"].continuous is True


def test_tabbed_stage_column_and_numbers_inside_activity() -> None:
    roadmap = parse_roadmap_file(FIXTURES / "tabbed_stage_column.txt")
    assert roadmap.title == "План работы наставников с молодыми специалистами на 2025 год"
    assert roadmap.to_dict()["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert [(item.section, item.number) for item in roadmap.items] == [
        ("Подготовительный", "1.1"),
        ("Подготовительный", "1.2"),
        ("Основной", "2.1"),
        ("Основной", "2.2"),
        ("Заключительный", "3.1"),
    ]
    items = by_number(roadmap)
    assert items["1.1"].activity == "Анкетирование молодых специалистов"
    assert items["1.1"].responsible == "Педагог-психолог Орлова Н.Н."
    assert items["1.1"].due_dates == dates("2025-01-31")
    assert items["1.2"].result == "Приказ о закреплении наставников за молодыми специалистами"
    assert items["1.2"].due_dates == dates("2025-02-10")
    assert items["2.1"].due_dates == ()
    assert items["2.1"].continuous is True  # "1 раз в месяц"
    assert items["2.2"].due_dates == dates("2025-03-31", "2025-04-30")


def test_tabbed_phantom_column_from_merged_cells() -> None:
    text = "\n".join(
        [
            "Дорожная карта на 2024 год",
            "№\tМероприятие\tСрок\tОтветственный",
            "1.\tЗаседание методсовета\tянварь\tЗавуч",
            "2.\tОткрытые уроки\t\tмарт - апрель\tНаставники",
            "3.\tИтоговый педсовет\t\tмай\tДиректор",
        ]
    )
    items = by_number(parse_roadmap_text(text))
    assert items["1"].responsible == "Завуч"
    assert items["2"].deadline_text == "март - апрель"
    assert items["2"].due_dates == dates("2024-04-30")
    assert items["2"].responsible == "Наставники"
    assert items["3"].due_dates == dates("2024-05-31")


def test_section_row_followed_by_its_own_deadline_after_page_break() -> None:
    text = "\n".join(
        [
            "Дорожная карта на 2024 год",
            "№\tМероприятие\tСрок\tОтветственный",
            "1.\tРазработка положения о наставничестве\t\t",
            "\tв образовательной организации\tдо 01.02.2024\tДиректор",
            "2.\tЗакрепление пар\tфевраль\tКуратор",
        ]
    )
    roadmap = parse_roadmap_text(text)
    assert [item.number for item in roadmap.items] == ["1", "2"]
    first = roadmap.items[0]
    assert first.section is None
    assert first.activity == "Разработка положения о наставничестве в образовательной организации"
    assert first.due_dates == dates("2024-02-01")
    assert first.responsible == "Директор"


# --------------------------------------------------------------------------- other layouts


def test_one_cell_per_line_layout() -> None:
    roadmap = parse_roadmap_file(FIXTURES / "one_cell_per_line.txt")
    assert roadmap.title == (
        "Дорожная карта внедрения целевой модели наставничества МБОУ «СОШ № 12» на 2024 год"
    )
    assert roadmap.to_dict()["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert [(item.section, item.number) for item in roadmap.items] == [
        ("I. Организационный этап", "1.1"),
        ("I. Организационный этап", "1.2"),
        ("II. Практический этап", "2.1"),
        ("II. Практический этап", "2.2"),
        ("II. Практический этап", "2.3"),
    ]
    items = by_number(roadmap)
    assert items["1.1"].to_dict() == {
        "section": "I. Организационный этап",
        "number": "1.1",
        "activity": "Создание рабочей группы",
        "result": "Приказ",
        "responsible": "Директор",
        "deadline_text": "до 15.01.2024",
        "due_dates": ["2024-01-15"],
        "continuous": False,
    }
    # cells over several lines: anchored on the deadline line
    assert items["1.2"].activity == ("Разработка положения о наставничестве и программы наставничества")
    assert items["1.2"].responsible == "Заместитель директора по УВР Иванова А.А."
    assert items["1.2"].result == "Положение, программа"
    assert items["1.2"].due_dates == dates("2024-02-29")
    assert items["2.1"].due_dates == dates("2024-03-31")  # no year: the single one in the period
    assert items["2.2"].due_dates == dates("2024-06-30", "2024-12-31")
    assert items["2.3"].deadline_text == "по графику методического объединения"
    assert items["2.3"].due_dates == ()
    assert items["2.3"].continuous is False


def test_one_cell_per_line_section_after_header_and_header_repeated_after_page_breaks() -> None:
    roadmap = parse_roadmap_file(FIXTURES / "one_cell_per_line_pages.txt")
    assert roadmap.title == (
        "Дорожная карта реализации программы наставничества МКОУ «Степная ООШ» на 2021-2023 учебные годы"
    )
    # two school years: up to 31 August of the last one
    assert roadmap.to_dict()["period"] == {"start": "2021-09-01", "end": "2023-08-31"}
    # the section line right under the column titles is a section, not a sixth column
    assert [(item.section, item.number) for item in roadmap.items] == [
        ("Раздел 1. Организация работы", "1.1"),
        ("Раздел 1. Организация работы", "1.2"),
        ("Раздел 1. Организация работы", "1.3"),
        ("Этап 2. Основная работа", "2.1"),
        ("Этап 2. Основная работа", "2.2"),
    ]
    items = by_number(roadmap)
    assert items["1.1"].to_dict() == {
        "section": "Раздел 1. Организация работы",
        "number": "1.1",
        "activity": "Приказ о назначении куратора",
        "result": "Приказ",
        "responsible": "Директор",
        "deadline_text": "ежегодно до 10.09",
        "due_dates": ["2021-09-10", "2022-09-10"],  # 10.09.2023 is after the period
        "continuous": False,
    }
    # the repeated titles and the "1 2 3 4 5" line are not glued onto item 1.2
    assert items["1.2"].responsible == "Куратор"
    assert items["1.2"].result == "Список наставников"
    assert items["1.2"].due_dates == dates("2021-10-31", "2022-10-31")
    assert items["1.3"].activity == "Обучение наставников"
    assert items["1.3"].deadline_text == "II полугодие 2021-2022 учебного года"
    assert items["1.3"].due_dates == ()  # May or August: not guessed
    assert items["2.1"].due_dates == dates("2023-08-31")
    assert items["2.1"].continuous is True
    # a record cut by a page break goes on after the repeated titles
    assert items["2.2"].due_dates == dates("2023-05-31")
    assert items["2.2"].responsible == "Заместитель директора Сидорова Т.В."
    assert items["2.2"].result == "Резолюция"


def test_one_cell_per_line_stage_heading_and_repeated_titles_inside_a_record() -> None:
    text = "\n".join(
        [
            "План мероприятий по наставничеству на 2023 год",
            "№ п/п",
            "Мероприятие",
            "Срок",
            "Ответственный",
            "Этап I: подготовка",
            "1.",
            "Совещание",
            "март 2023",
            "Директор",
            "2.",
            "Анкетирование наставников",
            "№ п/п",
            "Мероприятие",
            "Срок",
            "Ответственный",
            "до 15.04",
            "Куратор",
            "Этап II: работа",
            "3.",
            "Конференция",
            "первый квартал 2023",
            "Куратор",
        ]
    )
    roadmap = parse_roadmap_text(text)
    assert [(item.section, item.number, item.due_dates) for item in roadmap.items] == [
        ("Этап I: подготовка", "1", dates("2023-03-31")),
        ("Этап I: подготовка", "2", dates("2023-04-15")),
        ("Этап II: работа", "3", dates("2023-03-31")),
    ]
    second = roadmap.items[1]
    assert second.activity == "Анкетирование наставников"
    assert second.deadline_text == "до 15.04"
    assert second.responsible == "Куратор"


def test_pipe_table_without_header_and_period_from_deadlines() -> None:
    roadmap = parse_roadmap_file(FIXTURES / "pipe_no_header.txt")
    assert roadmap.title == ("Дорожная карта наставничества «Учитель — учителю» в МКОУ «Лесная СОШ»")
    # no years in the title: calendar years of the dated deadlines
    assert roadmap.to_dict()["period"] == {"start": "2025-01-01", "end": "2026-12-31"}
    assert [item.number for item in roadmap.items] == ["1", "2", "3", "4", "5"]
    items = by_number(roadmap)
    # columns found by content: number, deadline, activity, responsible
    assert items["1"].activity == "Диагностика профессиональных затруднений молодых педагогов"
    assert items["1"].deadline_text == "сентябрь 2025 г."
    assert items["1"].responsible == "Заместитель директора Смирнова Е.В."
    assert items["1"].result is None
    assert items["3"].due_dates == dates("2025-12-31")
    assert items["4"].continuous is True
    assert items["5"].due_dates == dates("2026-09-30")


def test_tabbed_without_header_detects_columns_by_content() -> None:
    text = "\n".join(
        [
            "План мероприятий по наставничеству на 2024-2025 гг.",
            "1\tСоздание банка наставнических практик\tЗаместитель директора Лаптева О.И.\t"
            "IV квартал 2024\tБанк практик",
            "2\tКонкурс «Лучший наставник»\tКуратор Иванов П.П.\tапрель 2025\tПриказ об итогах",
        ]
    )
    roadmap = parse_roadmap_text(text)
    assert roadmap.to_dict()["period"] == {"start": "2024-01-01", "end": "2025-12-31"}
    first, second = roadmap.items
    assert first.number == "1"
    assert first.activity == "Создание банка наставнических практик"
    assert first.responsible == "Заместитель директора Лаптева О.И."
    assert first.due_dates == dates("2024-12-31")
    assert first.result == "Банк практик"
    assert second.due_dates == dates("2025-04-30")


# --------------------------------------------------------------------------- file API, errors


def test_to_dict_is_json_serialisable_with_the_agreed_keys() -> None:
    data = parse_roadmap_file(FIXTURES / "tabbed_school_year.txt").to_dict()
    assert set(data) == {"title", "period", "items"}
    assert set(data["items"][0]) == {
        "section",
        "number",
        "activity",
        "result",
        "responsible",
        "deadline_text",
        "due_dates",
        "continuous",
    }
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_text_file_encodings(tmp_path: Path, encoding: str) -> None:
    source = (FIXTURES / "tabbed_stage_column.txt").read_text(encoding="utf-8")
    path = tmp_path / "roadmap.txt"
    path.write_bytes(source.encode(encoding))
    roadmap = parse_roadmap_file(path)
    assert roadmap.title == "План работы наставников с молодыми специалистами на 2025 год"
    assert len(roadmap.items) == 5


def test_text_without_a_table_is_an_error() -> None:
    with pytest.raises(RoadmapParseError, match="не найдена таблица мероприятий"):
        parse_roadmap_text("Дорожная карта на 2024 год\n\nПросто текст без таблицы.")


def test_no_period_anywhere_is_an_error() -> None:
    text = "Дорожная карта\n№\tМероприятие\tСрок\n1\tВстреча наставников\tпостоянно\n"
    with pytest.raises(RoadmapParseError, match="Не удалось определить период"):
        parse_roadmap_text(text)


def test_markdown_pipe_table_with_header_and_bold_sections() -> None:
    text = "\n".join(
        [
            "# Дорожная карта наставничества на 2024/2025 учебный год",
            "",
            "| № | Мероприятие | Сроки | Ответственный | Результат |",
            "|---|---|---|---|---|",
            "| **Этап 1. Старт** | | | | |",
            "| 1 | Приказ о программе | до 10 сентября | Директор | Приказ |",
            "| 2 | Обучение наставников | октябрь – ноябрь | Куратор | Сертификаты |",
            "| **Этап 2. Работа** | | | | |",
            "| 3 | Встречи пар | в течение учебного года | Наставники | Дневники |",
        ]
    )
    roadmap = parse_roadmap_text(text)
    assert roadmap.title == "Дорожная карта наставничества на 2024/2025 учебный год"
    assert [(item.section, item.number, item.due_dates) for item in roadmap.items] == [
        ("Этап 1. Старт", "1", dates("2024-09-10")),
        ("Этап 1. Старт", "2", dates("2024-11-30")),
        ("Этап 2. Работа", "3", ()),
    ]
    assert roadmap.items[2].continuous is True
    assert roadmap.items[1].result == "Сертификаты"
