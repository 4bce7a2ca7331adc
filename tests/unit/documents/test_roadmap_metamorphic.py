"""Metamorphic tests: a roadmap written out in another layout reads back the same.

Each of the three field samples is rendered into every layout of :mod:`roadmap_renderers` (a
Word table with merged stage cells, the same nested in a frame, one cell per line, tab rows with
shuffled and renamed columns, HTML in cells, a plan inside an order, a two-level stage table)
and must give the same items, deadlines and period as the original.  Then roadmaps made up from
a small grammar (no sample wording) check the same in every layout against dates computed here,
not by the parser.
"""

from __future__ import annotations

import calendar
import random
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.documents.roadmap import Period, Roadmap, RoadmapItem, parse_roadmap_upload
from tests.unit.documents.roadmap_renderers import LAYOUTS, SAMPLES, measure, render_and_parse, signature


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("sample", SAMPLES)
def test_each_sample_reads_the_same_in_each_layout(sample: str, layout: str) -> None:
    source, parsed = render_and_parse(sample, layout)
    assert parsed.period == source.period
    assert [signature(item) for item in parsed.items] == [signature(item) for item in source.items]


def test_the_corpus_share_of_items_with_right_deadlines_is_whole() -> None:
    right, total, per_layout = measure(seeds=1)
    assert total == 64 * len(LAYOUTS)  # 15 + 21 + 28 items in each layout
    assert right == total, per_layout


# --------------------------------------------------------------------------- made-up roadmaps

MONTHS = ("Январь", "Февраль", "Март", "Апрель", "Май", "Июнь", "Июль", "Август", "Сентябрь",
          "Октябрь", "Ноябрь", "Декабрь")
GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
            "октября", "ноября", "декабря")
ROMAN = ("I", "II", "III", "IV")
VERBS = ("Проведение", "Организация", "Подготовка", "Разработка", "Обсуждение", "Утверждение", "Анализ")
OBJECTS = ("семинара для наставников", "отчёта о работе пар", "плана встреч наставников",
           "анкетирования наставляемых", "методических материалов", "конкурса «Лучший наставник»",
           "совещания рабочей группы", "базы наставников и наставляемых")
TAILS = ("", " в организации", " на сайте школы", " с участием родителей", " для молодых педагогов")
PEOPLE = ("Директор", "Заместитель директора по УВР", "Куратор программы", "Иванова А.А.",
          "Педагог-психолог Смирнова О.В.")
RESULTS = ("Приказ", "Отчёт", "Протокол заседания", "Справка", "")
STAGES = ("Организационный этап", "Основной этап", "Заключительный этап", "Нормативное обеспечение",
          "Информационное сопровождение")


def last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def some_day(rng: random.Random, period: Period) -> date:
    return period.start + timedelta(days=rng.randrange((period.end - period.start).days + 1))


def made_up_deadline(rng: random.Random, period: Period,
                     school: bool) -> tuple[str, str, tuple[date, ...], bool]:
    """(activity suffix, deadline text, due dates, ongoing) from the shapes met in the field."""
    day = some_day(rng, period)
    quarter_ends = tuple(d for y in range(period.start.year, period.end.year + 1)
                         for d in (date(y, 3, 31), date(y, 6, 30), date(y, 9, 30), date(y, 12, 31))
                         if period.contains(d))
    shapes = ["day", "day_words", "month", "month_range", "quarter", "ongoing", "later_yearly",
              "quarterly_activity"] + (["bare_month"] if school else [])
    shape = rng.choice(shapes)
    if shape == "day":
        return "", rng.choice(("до {:%d.%m.%Y}", "{:%d.%m.%Y}")).format(day), (day,), False
    if shape == "day_words":
        return "", f"до {day.day} {GENITIVE[day.month - 1]} {day.year} г.", (day,), False
    if shape == "month":
        return "", f"{MONTHS[day.month - 1]} {day.year} г.", (last_day(day.year, day.month),), False
    if shape == "month_range":
        first = rng.randrange(1, day.month) if day.month > 1 else None
        if first is None:
            return "", f"{MONTHS[0]} {day.year} года", (last_day(day.year, 1),), False
        text = f"{MONTHS[first - 1]}-{MONTHS[day.month - 1].lower()} {day.year} г."
        return "", text, (last_day(day.year, day.month),), False
    if shape == "quarter":
        end = rng.choice(quarter_ends) if quarter_ends else None
        if end is None:
            return "", "постоянно", (), True
        return "", f"{ROMAN[end.month // 3 - 1]} квартал {end.year} г.", (end,), False
    if shape == "ongoing":
        return "", rng.choice(("постоянно", "в течение года", "в течение всего периода")), (), True
    if shape == "later_yearly":
        first = last_day(day.year, day.month)
        repeated = tuple(d for y in range(day.year, period.end.year + 1)
                         if (d := last_day(y, day.month)) <= period.end)
        start = MONTHS[day.month - 2] if day.month > 1 else None
        text = f"{start}-{MONTHS[day.month - 1].lower()}" if start else MONTHS[day.month - 1]
        return "", f"{text} {day.year} г., далее обновление 1 раз в год", (first, *repeated[1:]), False
    if shape == "quarterly_activity":
        return " 1 раз в квартал", "в течение года", quarter_ends, True
    return "", MONTHS[day.month - 1], (last_day(day.year, day.month),), False  # bare month, school year


def made_up_roadmap(rng: random.Random) -> Roadmap:
    if school := rng.random() < 0.5:
        year = rng.randint(2019, 2027)
        period = Period(date(year, 9, 1), date(year + 1, 8, 31))
        span = f"на {year}-{year + 1} учебный год"
    else:
        year = rng.randint(2019, 2027)
        last = year + rng.randint(0, 2)
        period = Period(date(year, 1, 1), date(last, 12, 31))
        span = f"на {year} год" if last == year else f"на {year}-{last} годы"
    title = f"Дорожная карта по реализации программы наставничества МБОУ «СОШ № {rng.randint(1, 60)}» {span}"
    items = []
    for stage_number, stage in enumerate(rng.sample(STAGES, rng.randint(1, 4)), start=1):
        for position in range(1, rng.randint(2, 6)):
            suffix, deadline, days, ongoing = made_up_deadline(rng, period, school)
            activity = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}{suffix}"
            items.append(RoadmapItem(
                activity=activity, deadline_text=deadline, due_dates=tuple(sorted(set(days))),
                continuous=ongoing, section=f"{ROMAN[stage_number - 1]}. {stage}",
                number=f"{stage_number}.{position}", responsible=rng.choice(PEOPLE),
                result=rng.choice(RESULTS) or None))
    return Roadmap(title=title, period=period, items=tuple(items))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.sampled_from(list(LAYOUTS)))
def test_made_up_roadmaps_read_back_with_the_dates_computed_here(rng: random.Random, layout: str) -> None:
    roadmap = made_up_roadmap(rng)
    rendered = LAYOUTS[layout](roadmap, rng)
    parsed = parse_roadmap_upload(rendered.data, rendered.name)
    assert parsed.period == roadmap.period
    assert [signature(item) for item in parsed.items] == [signature(item) for item in roadmap.items]


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_column_order_and_titles_do_not_matter(rng: random.Random) -> None:
    roadmap = made_up_roadmap(rng)
    readings = {
        tuple(signature(item) for item in parse_roadmap_upload(
            LAYOUTS["tab_rows_shuffled"](roadmap, random.Random(seed)).data, "r.txt").items)
        for seed in range(4)
    }
    assert len(readings) == 1
