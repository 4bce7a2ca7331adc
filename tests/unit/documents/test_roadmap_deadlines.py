"""Deadline phrase -> due dates, one row per phrase shape."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.documents.roadmap.deadlines import (
    find_period,
    looks_like_deadline,
    month_from_word,
    parse_deadline,
)
from services.documents.roadmap.models import Period, RoadmapParseError

CALENDAR_2020_2024 = Period(date(2020, 1, 1), date(2024, 12, 31))
CALENDAR_2023 = Period(date(2023, 1, 1), date(2023, 12, 31))
SCHOOL_2020 = Period(date(2020, 9, 1), date(2021, 8, 31))


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("phrase", "period", "expected_dates", "expected_continuous"),
    [
        # single days in the usual spellings
        ("до 25.09.2023", CALENDAR_2020_2024, ["2023-09-25"], False),
        ("30.09.2023", CALENDAR_2020_2024, ["2023-09-30"], False),
        ("25 сентября 2023 г.", CALENDAR_2020_2024, ["2023-09-25"], False),
        ("не позднее 1 марта 2022 года", CALENDAR_2020_2024, ["2022-03-01"], False),
        ("до 05.03.21", CALENDAR_2020_2024, ["2021-03-05"], False),
        ("2022-11-15", CALENDAR_2020_2024, ["2022-11-15"], False),
        # months, month ranges and numeric months: last day of the (last) month
        ("Ноябрь 2020 г.", CALENDAR_2020_2024, ["2020-11-30"], False),
        ("Май-июнь 2021 г.", CALENDAR_2020_2024, ["2021-06-30"], False),
        ("сентябрь - декабрь 2023 г.", CALENDAR_2020_2024, ["2023-12-31"], False),
        ("сентябрь — декабрь 2023 года", CALENDAR_2020_2024, ["2023-12-31"], False),
        ("Сентябрь 2023 – май 2024", CALENDAR_2020_2024, ["2024-05-31"], False),
        ("с сентября по декабрь 2022 г.", CALENDAR_2020_2024, ["2022-12-31"], False),
        ("в феврале 2024 года", CALENDAR_2020_2024, ["2024-02-29"], False),
        ("ФЕВРАЛЬ 2023", CALENDAR_2020_2024, ["2023-02-28"], False),
        ("сент. 2021", CALENDAR_2020_2024, ["2021-09-30"], False),
        ("янв. 2022 г.", CALENDAR_2020_2024, ["2022-01-31"], False),
        ("09.2023", CALENDAR_2020_2024, ["2023-09-30"], False),
        # quarters, half-years, years
        ("I квартал 2023", CALENDAR_2020_2024, ["2023-03-31"], False),
        ("2 квартал 2023 г.", CALENDAR_2020_2024, ["2023-06-30"], False),
        ("IV кв. 2022", CALENDAR_2020_2024, ["2022-12-31"], False),
        ("в 3-м квартале 2021 года", CALENDAR_2020_2024, ["2021-09-30"], False),
        ("II полугодие 2022 г.", CALENDAR_2020_2024, ["2022-12-31"], False),
        ("2023 г.", CALENDAR_2020_2024, ["2023-12-31"], False),
        ("2022-2023 гг.", CALENDAR_2020_2024, ["2023-12-31"], False),
        ("2021-2022 учебный год", CALENDAR_2020_2024, ["2022-08-31"], False),
        ("2021/22 уч. год", CALENDAR_2020_2024, ["2022-08-31"], False),
        # lists: each item; a year at the end of a list serves the whole list
        ("Сентябрь 2021, январь 2022", CALENDAR_2020_2024, ["2021-09-30", "2022-01-31"], False),
        ("июнь, декабрь 2023", CALENDAR_2020_2024, ["2023-06-30", "2023-12-31"], False),
        ("май и октябрь 2022 г.", CALENDAR_2020_2024, ["2022-05-31", "2022-10-31"], False),
        (
            "До 30.06.2023, 30.06.2024, 25.12.2024",
            CALENDAR_2020_2024,
            ["2023-06-30", "2024-06-30", "2024-12-25"],
            False,
        ),
        (
            "февраль - март 2023, февраль - март 2024",
            CALENDAR_2020_2024,
            ["2023-03-31", "2024-03-31"],
            False,
        ),
        # a stated date outside the period is kept
        ("до 15 октября 2019 г.", CALENDAR_2020_2024, ["2019-10-15"], False),
        # starts are not deadlines
        ("с 01.09.2023 по 31.12.2023", CALENDAR_2020_2024, ["2023-12-31"], False),
        ("01.09.2023 - 15.09.2023", CALENDAR_2020_2024, ["2023-09-15"], False),
        ("начиная с 01.09.2023", CALENDAR_2020_2024, [], False),
        # yearly repetition
        ("Июнь Ежегодно", CALENDAR_2020_2024, [f"{y}-06-30" for y in range(2020, 2025)], False),
        ("ежегодно до 25 мая", SCHOOL_2020, ["2021-05-25"], False),
        (
            "ноябрь 2022 (далее – ежегодно)",
            CALENDAR_2020_2024,
            ["2022-11-30", "2023-11-30", "2024-11-30"],
            False,
        ),
        (
            "декабрь 2022 (с 2023 года – ежегодно)",
            CALENDAR_2020_2024,
            ["2022-12-31", "2023-12-31", "2024-12-31"],
            False,
        ),
        (
            "1 раз в год (сентябрь)",
            Period(date(2022, 1, 1), date(2023, 12, 31)),
            ["2022-09-30", "2023-09-30"],
            False,
        ),
        (
            "2 раза в год: июнь, декабрь",
            Period(date(2023, 1, 1), date(2024, 12, 31)),
            ["2023-06-30", "2023-12-31", "2024-06-30", "2024-12-31"],
            False,
        ),
        (
            "с 2023 года ежегодно в декабре",
            CALENDAR_2020_2024,
            ["2023-12-31", "2024-12-31"],
            False,
        ),
        (
            "Август-сентябрь Ежегодно Корректировка по запросам Постоянно",
            Period(date(2022, 1, 1), date(2023, 12, 31)),
            ["2022-09-30", "2023-09-30"],
            True,
        ),
        ("ежегодно", CALENDAR_2020_2024, [], False),
        # no year: school-year halves, single calendar year, otherwise ambiguous
        ("сентябрь", SCHOOL_2020, ["2020-09-30"], False),
        ("январь", SCHOOL_2020, ["2021-01-31"], False),
        ("до 25 мая", SCHOOL_2020, ["2021-05-25"], False),
        ("ноябрь, март", SCHOOL_2020, ["2020-11-30", "2021-03-31"], False),
        ("II квартал", CALENDAR_2023, ["2023-06-30"], False),
        ("сентябрь", CALENDAR_2020_2024, [], False),
        ("I полугодие", SCHOOL_2020, [], False),
        # continuous work, alone or after a first date
        ("Постоянно", CALENDAR_2020_2024, [], True),
        ("в течение всего периода", CALENDAR_2020_2024, [], True),
        ("В течение года", CALENDAR_2020_2024, [], True),
        ("в течение учебного года", SCHOOL_2020, [], True),
        ("по мере необходимости", CALENDAR_2020_2024, [], True),
        ("Постоянно (по необходимости)", CALENDAR_2020_2024, [], True),
        ("ежемесячно", CALENDAR_2020_2024, [], True),
        ("До 01.10.2022 года постоянно", CALENDAR_2020_2024, ["2022-10-01"], True),
        ("I квартал 2023 (далее – по необходимости)", CALENDAR_2020_2024, ["2023-03-31"], True),
        # unreadable: nothing guessed
        ("в течение 10 дней после приказа", CALENDAR_2020_2024, [], False),
        ("по завершению программы", CALENDAR_2020_2024, [], False),
        ("в сроки, определяемые организаторами", CALENDAR_2020_2024, [], False),
        ("31.02.2023", CALENDAR_2020_2024, [], False),
        ("", CALENDAR_2020_2024, [], False),
    ],
)
def test_parse_deadline(
    phrase: str,
    period: Period,
    expected_dates: list[str],
    expected_continuous: bool,
) -> None:
    dates, continuous = parse_deadline(phrase, period)
    assert dates == [d(text) for text in expected_dates]
    assert continuous is expected_continuous


@pytest.mark.parametrize(
    ("phrase", "period", "expected_dates", "expected_continuous"),
    [
        # a month qualified by a school year: September-December first year, January-August second
        ("апрель 2021-2022 уч. года", CALENDAR_2020_2024, ["2022-04-30"], False),
        ("октябрь 2021/22 учебного года", CALENDAR_2020_2024, ["2021-10-31"], False),
        ("до 20 мая 2020-2021 учебного года", CALENDAR_2020_2024, ["2021-05-20"], False),
        ("ноябрь, февраль 2020-2021 уч. г.", CALENDAR_2020_2024, ["2020-11-30", "2021-02-28"], False),
        # the first half of a school year is its autumn; the second and the quarters are ambiguous
        ("I полугодие 2021/2022 уч. года", CALENDAR_2020_2024, ["2021-12-31"], False),
        ("II полугодие 2021-2022 учебного года", CALENDAR_2020_2024, [], False),
        ("2 полугодие 2021-2022 уч.г.", SCHOOL_2020, [], False),
        ("III квартал 2021-2022 уч. года", CALENDAR_2020_2024, [], False),
        ("март 2020-2022 учебных годов", CALENDAR_2020_2024, [], False),  # which March?
        # several school years end with the last one
        ("в течение 2020-2022 учебных годов", CALENDAR_2020_2024, ["2022-08-31"], True),
        ("2021-2023 уч. гг.", CALENDAR_2020_2024, ["2023-08-31"], False),
        # ordinals spelled out
        ("второй квартал 2022", CALENDAR_2020_2024, ["2022-06-30"], False),
        ("в четвертом квартале 2021 г.", CALENDAR_2020_2024, ["2021-12-31"], False),
        ("Первое полугодие 2021", CALENDAR_2020_2024, ["2021-06-30"], False),
        ("во втором полугодии 2022 года", CALENDAR_2020_2024, ["2022-12-31"], False),
        ("I-II квартал 2022", CALENDAR_2020_2024, ["2022-06-30"], False),
        # a decade is a fixed part of its month: the 10th, the 20th, the last day
        ("2 декада октября 2021", CALENDAR_2020_2024, ["2021-10-20"], False),
        ("последняя декада февраля 2024 г.", CALENDAR_2020_2024, ["2024-02-29"], False),
        # a part of a span, or a moment after it, is not its end: nothing is guessed
        ("в начале 2022 года", CALENDAR_2020_2024, [], False),
        ("осень 2021", CALENDAR_2020_2024, [], False),
        ("середина марта 2022", CALENDAR_2020_2024, [], False),
        ("вторая неделя октября 2021", CALENDAR_2020_2024, [], False),
        ("первая половина 2022 года", CALENDAR_2020_2024, [], False),
        ("по итогам 2022 года", CALENDAR_2020_2024, [], False),
        ("к концу 2022 года", CALENDAR_2020_2024, ["2022-12-31"], False),
        ("до конца I квартала 2023", CALENDAR_2020_2024, ["2023-03-31"], False),
        # a date counted from is no deadline
        ("за 3 дня до 15.10.2021", CALENDAR_2020_2024, [], False),
        ("не позднее 10 рабочих дней после 01.03.2022", CALENDAR_2020_2024, [], False),
        ("после 01.03.2022", CALENDAR_2020_2024, [], False),
        # a list of years after a month or a day repeats it
        ("октябрь 2021, 2022", CALENDAR_2020_2024, ["2021-10-31", "2022-10-31"], False),
        ("март 2020, 2021, 2022 гг.", CALENDAR_2020_2024, ["2020-03-31", "2021-03-31", "2022-03-31"], False),
        ("февраль-апрель 2021, 2022", CALENDAR_2020_2024, ["2021-04-30", "2022-04-30"], False),
        ("до 15 апреля 2021 г., 2022 г.", CALENDAR_2020_2024, ["2021-04-15", "2022-04-15"], False),
        ("2021, 2022 гг.", CALENDAR_2020_2024, ["2021-12-31", "2022-12-31"], False),
        ("IV кв. 2021 г. – I кв. 2022 г.", CALENDAR_2020_2024, ["2022-03-31"], False),  # a range
        # day.month without a year: resolved like "15 апреля"
        ("до 15.04", CALENDAR_2023, ["2023-04-15"], False),
        ("до 15.04", CALENDAR_2020_2024, [], False),  # five Aprils: ambiguous
        ("до 10.01", SCHOOL_2020, ["2021-01-10"], False),
        ("15.11 и 15.04 ежегодно", SCHOOL_2020, ["2020-11-15", "2021-04-15"], False),
        ("ежегодно до 20.12", CALENDAR_2020_2024, [f"{y}-12-20" for y in range(2020, 2025)], False),
        ("с 01.10 по 31.10", CALENDAR_2023, ["2023-10-31"], False),
        ("согласно п. 2.10 плана", CALENDAR_2023, [], False),  # a clause, not 2 October
        ("в 14.30", CALENDAR_2023, [], False),  # a time
    ],
)
def test_parse_deadline_school_years_ordinals_parts_and_lists(
    phrase: str,
    period: Period,
    expected_dates: list[str],
    expected_continuous: bool,
) -> None:
    dates, continuous = parse_deadline(phrase, period)
    assert dates == [d(text) for text in expected_dates]
    assert continuous is expected_continuous


def test_without_period_only_dates_with_a_year_are_returned() -> None:
    assert parse_deadline("сентябрь, декабрь 2023, июнь ежегодно", None) == (
        [d("2023-09-30"), d("2023-12-31")],
        False,
    )


@pytest.mark.parametrize(
    ("word", "month"),
    [
        ("январь", 1),
        ("января", 1),
        ("январе", 1),
        ("ЯНВ.", 1),
        ("февр.", 2),
        ("марте", 3),
        ("мая", 5),
        ("маем", 5),
        ("июнь", 6),
        ("июля", 7),
        ("августе", 8),
        ("сент.", 9),
        ("октябрём", 10),
        ("нояб.", 11),
        ("Декабря", 12),
        ("материал", None),
        ("мартовский", None),
    ],
)
def test_month_names_in_any_case(word: str, month: int | None) -> None:
    assert month_from_word(word) == month


@pytest.mark.parametrize(
    ("title", "start", "end"),
    [
        ("Дорожная карта на 2020-2024 гг.", "2020-01-01", "2024-12-31"),
        ("Дорожная карта (2022-2024гг.)", "2022-01-01", "2024-12-31"),
        ("План на 2022 – 2024 годы", "2022-01-01", "2024-12-31"),
        ("План на 2023-2024 год", "2023-01-01", "2024-12-31"),
        ("План с 2021 по 2023 год", "2021-01-01", "2023-12-31"),
        ("План на 2020-2021 учебный год", "2020-09-01", "2021-08-31"),
        ("План на 2020/2021 уч. год", "2020-09-01", "2021-08-31"),
        ("План на 2023/24 учебный год", "2023-09-01", "2024-08-31"),
        ("План на учебный год 2022-2023", "2022-09-01", "2023-08-31"),
        ("План мероприятий на 2025 год", "2025-01-01", "2025-12-31"),
        # several school years: up to the end of the last one
        ("План на 2021-2023 учебные годы", "2021-09-01", "2023-08-31"),
        ("Дорожная карта на 2021/2022 и 2022/2023 учебные годы", "2021-09-01", "2023-08-31"),
        ("План на учебные годы 2022-2025", "2022-09-01", "2025-08-31"),
    ],
)
def test_find_period(title: str, start: str, end: str) -> None:
    assert find_period(title) == Period(d(start), d(end))


def test_find_period_ignores_titles_without_years() -> None:
    assert find_period("Дорожная карта МБОУ СОШ № 7 г. Минеральные Воды") is None


def test_period_rejects_reversed_range() -> None:
    with pytest.raises(RoadmapParseError, match="Период"):
        Period(d("2024-01-01"), d("2023-01-01"))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Июнь", True),
        ("ежегодно", True),
        ("постоянно", True),
        ("до 01.09.2023", True),
        ("Директор школы", False),
        ("Приказ", False),
    ],
)
def test_looks_like_deadline(cell: str, expected: bool) -> None:
    assert looks_like_deadline(cell) is expected


_FRAGMENTS = st.sampled_from(
    [" ", "-", "–", ",", ".", "/", "(", ")", "до", "с", "по", "и", "г.", "года", "ежегодно"]
    + ["постоянно", "январь", "мая", "сент.", "I", "IV", "квартал", "полугодие", "учебный год"]
    + ["2021", "2023", "25", "30.09.2023", "09.2023", "31.02.2023", "в течение", "раз в год"]
)


_QUALIFIED_FRAGMENTS = st.sampled_from(
    [" ", "-", ",", ".", "(", "и", "г.", "гг.", "до", "после", "за", "дней", "начало", "середина"]
    + ["первый", "второе", "квартал", "полугодие", "декада", "неделя", "уч. года", "учебных годов"]
    + ["2021", "2022-2023", "2021/22", "30.06", "1.12", "п.", "май", "сентября", "ежегодно", "3"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_QUALIFIED_FRAGMENTS, max_size=12).map(" ".join))
def test_qualified_phrases_never_fail_and_return_sorted_unique_dates(phrase: str) -> None:
    dates, _ = parse_deadline(phrase, SCHOOL_2020)
    assert dates == sorted(set(dates))


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=12).map(" ".join))
def test_parse_deadline_never_fails_and_returns_sorted_unique_dates(phrase: str) -> None:
    dates, continuous = parse_deadline(phrase, CALENDAR_2020_2024)
    assert dates == sorted(set(dates))
    assert isinstance(continuous, bool)
