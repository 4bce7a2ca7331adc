"""The layouts and deadline shapes named in the field, each in a small document written here."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.documents.roadmap import Period, parse_roadmap_text
from services.documents.roadmap.cadence import due_dates
from services.documents.roadmap.layout import (
    ROLE_ACTIVITY,
    ROLE_DEADLINE,
    ROLE_RESPONSIBLE,
    ROLE_RESULT,
    ROLE_SECTION,
    ROLE_STAGE_NUMBER,
    header_role,
)
from tests.unit.documents.roadmap_renderers import ACTIVITY, DEADLINE, RESPONSIBLE, RESULT

SCHOOL_2020 = Period(date(2020, 9, 1), date(2021, 8, 31))
CALENDAR_2023 = Period(date(2023, 1, 1), date(2023, 12, 31))


def dates(*texts: str) -> tuple[date, ...]:
    return tuple(date.fromisoformat(text) for text in texts)


ONE_CELL_PER_LINE = """Дорожная карта внедрения наставничества
на 2020-2021 учебный год

\t№
\tМероприятие
\tСрок исполнения
\tОтветственный исполнитель

\tПОДГОТОВИТЕЛЬНЫЙ ЭТАП

\t1.
\tНазначение куратора программы
\tсентябрь
\tДиректор

\t2
\tСоздание рабочей группы по внедрению
целевой модели наставничества
\tдо 15.10.2020
\tДиректор

\t
\t
\tдо 20.01.2021
\tЗаместитель директора

\tОСНОВНОЙ ЭТАП

\t1.
\tВстречи наставнических пар
\tв течение года
\tНаставники

\t2.
\tМониторинг программы
\tМай
\tКуратор
"""


def test_one_cell_per_line_with_tabs_blank_lines_and_restarting_numbers() -> None:
    roadmap = parse_roadmap_text(ONE_CELL_PER_LINE)
    assert roadmap.period == SCHOOL_2020
    assert [(item.section, item.number, item.activity, item.due_dates) for item in roadmap.items] == [
        ("ПОДГОТОВИТЕЛЬНЫЙ ЭТАП", "1", "Назначение куратора программы", dates("2020-09-30")),
        ("ПОДГОТОВИТЕЛЬНЫЙ ЭТАП", "2", "Создание рабочей группы по внедрению целевой модели наставничества",
         dates("2020-10-15", "2021-01-20")),
        ("ОСНОВНОЙ ЭТАП", "1", "Встречи наставнических пар", ()),
        ("ОСНОВНОЙ ЭТАП", "2", "Мониторинг программы", dates("2021-05-31")),
    ]
    # The row with an empty activity cell goes on with the item above: its date and its party.
    assert roadmap.items[1].responsible == "Директор Заместитель директора"
    assert roadmap.items[2].continuous is True


TWO_LEVEL = """План мероприятий по внедрению целевой модели наставничества на 2023 год

№ этапа\tНаименование этапа\t№\tМероприятие\tСодержание деятельности и результат\tСроки\tОтветственные
1\tОрганизационный\t1.1\t<p><b>Приказ</b> о назначении куратора</p>\t<ul><li>приказ</li></ul>\tянв.\tДиректор
\t\t1.2\tРазработка положения о наставничестве\t<ol><li>проект</li><li>положение</li></ol>\tфевр-март\tКуратор
\t\t\tи программы наставничества\t\t\t
2\tОсновной\t2.1\tЗаседания рабочей группы 1 раз в квартал\t<p>протоколы</p>\tв течение года\tКуратор
"""


def test_two_level_table_with_stage_columns_html_and_split_names() -> None:
    roadmap = parse_roadmap_text(TWO_LEVEL)
    assert roadmap.period == CALENDAR_2023
    assert [(item.section, item.number, item.activity, item.due_dates) for item in roadmap.items] == [
        ("1. Организационный", "1.1", "Приказ о назначении куратора", dates("2023-01-31")),
        ("1. Организационный", "1.2", "Разработка положения о наставничестве и программы наставничества",
         dates("2023-03-31")),
        ("2. Основной", "2.1", "Заседания рабочей группы 1 раз в квартал",
         dates("2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31")),
    ]
    assert roadmap.items[1].result == "проект положение"


ORDER = """МУНИЦИПАЛЬНОЕ БЮДЖЕТНОЕ ОБЩЕОБРАЗОВАТЕЛЬНОЕ УЧРЕЖДЕНИЕ «ШКОЛА № 9»
«9 НЧЫ МӘКТӘП» МУНИЦИПАЛЬ БЮДЖЕТ ГОМУМИ БЕЛЕМ БИРҮ УЧРЕЖДЕНИЕСЕ

ПРИКАЗ\t\tБОЕРЫК
от 28.08.2020\t\t№ 301

Об утверждении дорожной карты по внедрению наставничества на 2020-2021 учебный год

В целях реализации в 2020 году распоряжения Минпросвещения России от 25.12.2019 № Р-145

ПРИКАЗЫВАЮ:
1. Утвердить дорожную карту (приложение).
2. Контроль оставляю за собой.

Директор\t\tИ.И. Иванов

Приложение 1
к приказу от 28.08.2020 № 301

Дорожная карта

Срок исполнения\tМероприятие\tОтветственный\t№
до 25.09.2020\tНазначение куратора\tДиректор\t1
Октябрь\tФормирование базы наставников\tКуратор\t2
март\tПромежуточный мониторинг\tКуратор\t3
"""


def test_a_plan_inside_an_order_takes_the_school_year_of_the_order() -> None:
    roadmap = parse_roadmap_text(ORDER)
    assert roadmap.title == "Дорожная карта"
    assert roadmap.period == SCHOOL_2020
    assert [(item.number, item.due_dates) for item in roadmap.items] == [
        ("1", dates("2020-09-25")), ("2", dates("2020-10-31")), ("3", dates("2021-03-31")),
    ]


def test_deadlines_of_one_school_year_make_a_school_year_period() -> None:
    text = ("План работы наставников на учебный год\n\n№\tМероприятие\tСроки\n"
            "1\tВстреча\tдо 15.09.2021\n2\tОтчёт\tдо 30.05.2022\n3\tСеминар\tноябрь\n")
    roadmap = parse_roadmap_text(text)
    assert roadmap.period == Period(date(2021, 9, 1), date(2022, 8, 31))
    assert roadmap.items[2].due_dates == dates("2021-11-30")


@pytest.mark.parametrize(("deadline", "activity", "expected", "ongoing"), [
    ("1 раз в квартал", "Заседание рабочей группы", ["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"],
     True),
    ("ежеквартально", "Отчёт куратора", ["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"], True),
    ("в течение года", "Заседание рабочей группы 1 раз в квартал",
     ["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"], True),
    ("декабрь", "Ежегодный отчёт", ["2023-12-31"], False),  # "ежегодный" is no cadence word
    ("30.06.2023", "Заседание 1 раз в квартал", ["2023-06-30"], False),  # the cell's own date wins
])
def test_cadence_in_the_deadline_or_in_the_activity(deadline: str, activity: str, expected: list[str],
                                                     ongoing: bool) -> None:
    expected_dates = [date.fromisoformat(day) for day in expected]
    assert due_dates(deadline, activity, CALENDAR_2023) == (expected_dates, ongoing)


def test_an_annual_activity_repeats_a_month_without_a_year() -> None:
    period = Period(date(2022, 1, 1), date(2024, 12, 31))
    assert due_dates("декабрь", "Отчёт о наставничестве (ежегодно)", period) == (
        [date(2022, 12, 31), date(2023, 12, 31), date(2024, 12, 31)], False)
    assert due_dates("в течение 2023 года", "Совещание 1 раз в квартал", period)[0] == [
        date(2023, 3, 31), date(2023, 6, 30), date(2023, 9, 30), date(2023, 12, 31)]


def test_school_year_quarters_stay_inside_the_school_year() -> None:
    assert due_dates("ежеквартально", "Мониторинг", SCHOOL_2020)[0] == [
        date(2020, 9, 30), date(2020, 12, 31), date(2021, 3, 31), date(2021, 6, 30)]


TITLES = [(title, role) for titles, role in ((ACTIVITY, ROLE_ACTIVITY), (DEADLINE, ROLE_DEADLINE),
                                             (RESPONSIBLE, ROLE_RESPONSIBLE), (RESULT, ROLE_RESULT))
          for title in titles]


@given(st.sampled_from(TITLES), st.sampled_from(["", " ", ":", "*"]), st.booleans())
def test_column_titles_are_known_by_their_words_in_any_case(case: tuple[str, str], tail: str,
                                                             upper: bool) -> None:
    title, role = case
    written = (title.upper() if upper else title) + tail
    assert header_role(written) == role


@pytest.mark.parametrize(("title", "role"), [
    ("№ этапа", ROLE_STAGE_NUMBER), ("Наименование этапа", ROLE_SECTION), ("Этап реализации", ROLE_SECTION),
    ("Направления деятельности/ Наименование мероприятия", ROLE_ACTIVITY), ("Организационный этап", None),
])
def test_stage_columns_are_told_from_activity_columns(title: str, role: str | None) -> None:
    assert header_role(title) == role


def test_stage_rows_of_tab_exports_are_headings_not_tails_of_the_activity_above() -> None:
    text = ("Дорожная карта на 2024 год\n\n№\tМероприятие\tСрок\tОтветственный\n"
            "\tПОДГОТОВИТЕЛЬНЫЙ ЭТАП\t\t\n1\tНазначение куратора\tянварь\tДиректор\n"
            "\tОсновной этап\t\t\n1\tВстречи наставников\tпостоянно\tНаставники\n"
            "2\tОтчёт о работе наставников\tдекабрь\tКуратор\n\tи наставляемых\t\t\n")
    roadmap = parse_roadmap_text(text)
    assert [(item.section, item.number, item.activity) for item in roadmap.items] == [
        ("ПОДГОТОВИТЕЛЬНЫЙ ЭТАП", "1", "Назначение куратора"),
        ("Основной этап", "1", "Встречи наставников"),
        ("Основной этап", "2", "Отчёт о работе наставников и наставляемых"),
    ]
