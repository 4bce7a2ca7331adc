"""Renderers for the metamorphic roadmap tests: one parsed roadmap, written out again in each
layout met in the field, must parse back to the same items and deadlines.

The renderers only use the parsed :class:`Roadmap` (title, sections, items) and their own
wording (column titles picked from the synonyms offices use, an order around the plan...), never
the samples' text layout.  Run ``python -m tests.unit.documents.roadmap_renderers`` to measure
the share of items read with the right deadlines over the whole corpus.
"""

from __future__ import annotations

import calendar
import csv
import io
import random
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from services.documents.roadmap import Period, Roadmap, RoadmapItem, parse_roadmap_file, parse_roadmap_upload

FIELD = Path(__file__).resolve().parents[2] / "fixtures" / "roadmaps" / "field"
SAMPLES = ("mineralnye-vody-school7-2022-2024.txt", "smolensk-2022-2024.txt", "spassky-ct-2023-2024.txt")

# Column titles as offices write them; each layout picks its own.
NUMBER = ("№ п/п", "№", "N п/п")
ACTIVITY = ("Мероприятие", "Наименование мероприятия", "Содержание мероприятия", "Мероприятия")
DEADLINE = ("Срок реализации", "Сроки", "Срок исполнения", "Сроки проведения")
RESPONSIBLE = ("Ответственный", "Ответственные", "Ответственный исполнитель")
RESULT = ("Результат", "Ожидаемый результат/вид документа", "Содержание деятельности и результат")


@dataclass(frozen=True)
class Rendered:
    """A rendered document: its bytes and the file name it is uploaded under."""

    name: str
    data: bytes


def sections(roadmap: Roadmap) -> list[tuple[str | None, list[RoadmapItem]]]:
    """Items grouped by section, in document order."""
    grouped: list[tuple[str | None, list[RoadmapItem]]] = []
    for item in roadmap.items:
        if not grouped or grouped[-1][0] != item.section:
            grouped.append((item.section, []))
        grouped[-1][1].append(item)
    return grouped


def stage_title(section: str | None) -> str:
    """The section's words without its own number ("I. Нормативное ..." -> "Нормативное ...")."""
    return re.sub(r"^(?:[IVXLC]+|\d+(?:\.\d+)*)[.)]?\s+", "", section or "Мероприятия")


def text_of(roadmap_row: list[str]) -> str:
    return "\t".join(roadmap_row)


def _encode(text: str) -> bytes:
    return text.encode("utf-8")


# --------------------------------------------------------------------------- text layouts


def one_cell_per_line(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """Every cell on a line of its own opening with a tab, rows apart by a blank line, long cells
    wrapped onto lines without the tab, stages as one-cell rows, numbering restarting per stage
    (with and without the dot), a list of dates split into continuation rows with no activity."""
    header = [rng.choice(NUMBER), rng.choice(ACTIVITY), rng.choice(DEADLINE), rng.choice(RESPONSIBLE),
              rng.choice(RESULT)]
    lines = [*roadmap.title.split(" на "), "", *(f"\t{title}" for title in header), ""]
    lines[1:1] = []  # the title stays as written above; the split keeps it on several lines

    def cell(text: str) -> list[str]:
        wrapped = textwrap.wrap(text, 60) or [""]
        return [f"\t{wrapped[0]}", *wrapped[1:]]

    groups = sections(roadmap)
    for index, (stage, items) in enumerate(groups):
        if index and index == len(groups) // 2:  # a page broke: Word repeats the header block
            lines += [*(f"\t{title}" for title in header), ""]
        lines += [f"\t{stage_title(stage).upper()}", ""]
        for position, item in enumerate(items, start=1):
            number = f"{position}." if position % 2 else str(position)
            deadlines = _split_list(item.deadline_text)
            lines += [*cell(number), *cell(item.activity), *cell(deadlines[0]), *cell(item.responsible or ""),
                      *cell(item.result or ""), ""]
            for more in deadlines[1:]:  # the same activity, another date: its cell left empty
                lines += ["\t", "\t", *cell(more), "\tКуратор программы", "\t", ""]
    return Rendered("roadmap.txt", _encode("\n".join(lines)))


def _split_list(deadline: str) -> list[str]:
    """Plain comma lists of full dates ("До 30.06.2023, 30.06.2024") go on separate rows."""
    parts = [part.strip() for part in deadline.split(",")]
    if len(parts) > 1 and all(re.fullmatch(r"(?:[Дд]о\s+)?\d{2}\.\d{2}\.\d{4}", part) for part in parts):
        return parts
    return [deadline]


def tab_rows_shuffled(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """Tab-separated rows with the columns in a random order under renamed titles."""
    roles = ["number", "activity", "deadline", "responsible", "result"]
    rng.shuffle(roles)
    titles = {"number": rng.choice(NUMBER), "activity": rng.choice(ACTIVITY),
              "deadline": rng.choice(DEADLINE), "responsible": rng.choice(RESPONSIBLE),
              "result": rng.choice(RESULT)}
    lines = [roadmap.title, "", text_of([titles[role] for role in roles])]
    restart = rng.random() < 0.5  # some offices number 1, 2, 3 again in each stage
    for stage, items in sections(roadmap):
        if stage:  # a heading typed in the first cell only, or in the activity column
            in_first = rng.random() < 0.5
            row = [stage if role == "activity" else "" for role in roles]
            lines.append(stage if in_first else text_of(row))
        for position, item in enumerate(items, start=1):
            number = f"{position}." if restart else item.number or ""
            values = {"number": number, "activity": item.activity, "deadline": item.deadline_text,
                      "responsible": item.responsible or "", "result": item.result or ""}
            lines.append(text_of([values[role] for role in roles]))
    return Rendered("roadmap.txt", _encode("\n".join(lines)))


def excel_tab_text(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """A table kept in Excel and saved as tab-delimited text: a cell holding line breaks (a long
    activity, a list of parties) is quoted with its quotes doubled; Windows line ends, CP1251."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\r\n")
    writer.writerow([roadmap.title])
    writer.writerow([rng.choice(NUMBER), rng.choice(ACTIVITY) + "\n(содержание)", rng.choice(DEADLINE),
                     rng.choice(RESPONSIBLE), rng.choice(RESULT)])
    for stage, items in sections(roadmap):
        if stage:
            writer.writerow([stage, "", "", "", ""])
        for item in items:
            activity = "\n".join(textwrap.wrap(item.activity, 50, break_on_hyphens=False))
            writer.writerow([item.number or "", activity, item.deadline_text,
                             "\n".join(re.split(r",\s+", item.responsible or "")), item.result or ""])
    return Rendered("roadmap.txt", buffer.getvalue().encode("cp1251", errors="replace"))


def _html_list(text: str) -> str:
    """"Intro: - one; - two." as a paragraph and a list, the way rich-text exports keep it."""
    head, *points = re.split(r"\s+(?=-\s)", text)
    if not points:
        return f"<p>{text}</p>"
    return f"<p>{head}</p> <ul style=\"list-style-type: none\">" + "".join(
        f"<li>{point}</li>" for point in points) + "</ul>"


def html_cells(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """Tab rows whose cells are HTML fragments: paragraphs, lists, bold stage rows."""
    header = [rng.choice(NUMBER), rng.choice(ACTIVITY), rng.choice(DEADLINE), rng.choice(RESULT),
              rng.choice(RESPONSIBLE)]
    lines = [f"<p><b>{roadmap.title}</b></p>", "", text_of(header)]
    for stage, items in sections(roadmap):
        if stage:
            lines.append(text_of([f"<p><b>{stage}</b></p>", "", "", "", ""]))
        for item in items:
            lines.append(text_of([
                f"{item.number}." if item.number else "", _html_list(item.activity),
                f"<p>{item.deadline_text}</p>", _html_list(item.result or ""),
                f"<ol><li>{item.responsible}</li></ol>" if item.responsible else "",
            ]))
    return Rendered("roadmap.txt", _encode("\n".join(lines)))


ORDER_HEAD = """МУНИЦИПАЛЬНОЕ БЮДЖЕТНОЕ ОБЩЕОБРАЗОВАТЕЛЬНОЕ УЧРЕЖДЕНИЕ «СРЕДНЯЯ ШКОЛА № 4»
«4 НЧЕ УРТА ГОМУМИ БЕЛЕМ БИРҮ МӘКТӘБЕ» МУНИЦИПАЛЬ БЮДЖЕТ ГОМУМИ БЕЛЕМ БИРҮ УЧРЕЖДЕНИЕСЕ

ПРИКАЗ                                         БОЕРЫК

от 29.08.2023                                  № 214-од

Об утверждении плана мероприятий по внедрению наставничества

В соответствии с распоряжением Министерства просвещения Российской Федерации от 25.12.2019
№ Р-145, в целях организации наставничества в 2023 году и в последующие годы

ПРИКАЗЫВАЮ:

1. Утвердить план мероприятий (приложение 1).
2. Назначить куратором заместителя директора Петрову И.И. в срок до 01.09.2023.
3. Контроль за исполнением приказа оставляю за собой.

Директор                      подпись                      А.Б. Сидоров

С приказом ознакомлены:       Петрова И.И. 29.08.2023

Приложение 1
к приказу МБОУ «СШ № 4»
от 29.08.2023 № 214-од
"""


_PERIOD_WORDS = re.compile(
    r"\s*\(?(?:на\s+)?(?:\d{4}\s*[-–/]\s*)?\d{4}\s*(?:гг?\.|годы|год|учебн\w*\s+год\w*)?\)?\s*$")


def order_appendix(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """The plan as an appendix to an order: header in two languages, preamble, ПРИКАЗЫВАЮ,
    signatures, «Приложение … к приказу … от …», then the plan as tab rows.  The period is named
    only in the order's heading; the plan's own heading above the table names none."""
    span = _PERIOD_WORDS.search(roadmap.title)
    assert span is not None, roadmap.title  # every roadmap here ends its title with its period
    period = span.group().strip(" ()")
    period = period if period.startswith("на ") else f"на {period}"
    bare = Roadmap(title=roadmap.title[: span.start()], period=roadmap.period, items=roadmap.items)
    plan = tab_rows_shuffled(bare, rng).data.decode("utf-8")
    head = ORDER_HEAD.replace("по внедрению наставничества\n", f"по внедрению наставничества {period}\n", 1)
    return Rendered("prikaz.txt", _encode(head + "\n" + plan))


def two_level(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """A stage («№ этапа», «Наименование этапа») over several activity rows, its cells empty below
    (a merged cell flattened); a long activity name split over two rows; HTML lists in cells."""
    header = ["№ этапа", "Наименование этапа", rng.choice(NUMBER), rng.choice(ACTIVITY),
              "Содержание деятельности и результат", rng.choice(DEADLINE), rng.choice(RESPONSIBLE)]
    lines = [roadmap.title, "", text_of(header)]
    for stage_number, (stage, items) in enumerate(sections(roadmap), start=1):
        for position, item in enumerate(items):
            stage_cells = [str(stage_number), stage_title(stage)] if position == 0 else ["", ""]
            words = item.activity.split()
            split = len(words) > 8 and not item.activity.startswith("<")
            first = " ".join(words[: len(words) // 2]) if split else item.activity
            first = first if split else _html_list(first)
            lines.append(text_of([*stage_cells, item.number or "", first, _html_list(item.result or ""),
                                  item.deadline_text, item.responsible or ""]))
            if split:
                lines.append(text_of(["", "", "", " ".join(words[len(words) // 2 :]), "", "", ""]))
    return Rendered("roadmap.txt", _encode("\n".join(lines)))


# --------------------------------------------------------------------------- DOCX


def _repeat_as_header(row: object) -> None:
    properties = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    properties.append(marker)


def _fill(cells: list[object], values: list[str]) -> None:
    for cell, value in zip(cells, values, strict=True):
        cell.text = value  # type: ignore[attr-defined]


def _docx_document(roadmap: Roadmap, rng: random.Random, nested: bool) -> bytes:
    document = docx.Document()
    for line in ("УТВЕРЖДАЮ", "Директор ____________ А.Б. Сидоров", ""):
        document.add_paragraph(line)
    heading = document.add_paragraph()
    heading.add_run(roadmap.title).bold = True
    header = ["Этап", rng.choice(NUMBER), rng.choice(ACTIVITY), rng.choice(DEADLINE), rng.choice(RESPONSIBLE),
              rng.choice(RESULT)]
    groups = sections(roadmap)
    count = 1 + sum(len(items) for _, items in groups) + 1  # one header repeated as a physical row
    host = document
    if nested:  # offices lay a page out with a one-cell table and put the plan inside it
        frame = document.add_table(rows=1, cols=1)
        host = frame.cell(0, 0)
    table = host.add_table(rows=count, cols=len(header))
    _fill(table.rows[0].cells, header)
    _repeat_as_header(table.rows[0])
    index = 1
    repeat_at = count // 2
    for stage, items in groups:
        first = index
        for item in items:
            if index == repeat_at:  # the header once more where a page broke (kept as a real row)
                _fill(table.rows[index].cells, header)
                index += 1
            row = table.rows[index].cells
            _fill(row[1:], [item.number or "", "", item.deadline_text, item.responsible or "",
                            item.result or ""])
            points = re.split(r"\s+(?=-\s)", item.activity)
            row[2].text = points[0]
            for point in points[1:]:
                row[2].add_paragraph(point)
            index += 1
        if index - 1 > first or first != repeat_at:
            top = table.cell(first + (1 if first == repeat_at else 0), 0)
            merged = top.merge(table.cell(index - 1, 0)) if index - 1 > first else top
            merged.text = stage_title(stage)
    if index < count:  # the repeated header was never reached (tiny roadmaps)
        _fill(table.rows[index].cells, header)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_merged_stages(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """A Word table: the stage column merged vertically over its activities, the header row
    marked to repeat on each page and also repeated as a real row, activities as paragraphs."""
    return Rendered("roadmap.docx", _docx_document(roadmap, rng, nested=False))


def docx_nested(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """The same table nested inside a one-cell layout table."""
    return Rendered("roadmap.docx", _docx_document(roadmap, rng, nested=True))


def docx_heading_rows(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """A Word table with the columns in a random order, each stage a bold row of one cell merged
    across the whole width, and the responsible parties as separate paragraphs of their cell."""
    roles = ["number", "activity", "deadline", "responsible", "result"]
    rng.shuffle(roles)
    titles = {"number": rng.choice(NUMBER), "activity": rng.choice(ACTIVITY),
              "deadline": rng.choice(DEADLINE), "responsible": rng.choice(RESPONSIBLE),
              "result": rng.choice(RESULT)}
    document = docx.Document()
    document.add_paragraph(roadmap.title)
    table = document.add_table(rows=1, cols=len(roles))
    _fill(table.rows[0].cells, [titles[role] for role in roles])
    for stage, items in sections(roadmap):
        if stage:
            cells = table.add_row().cells
            merged = cells[0].merge(cells[-1])
            merged.paragraphs[0].add_run(stage).bold = True
        for item in items:
            cells = table.add_row().cells
            values = {"number": item.number or "", "activity": item.activity, "deadline": item.deadline_text,
                      "responsible": "", "result": item.result or ""}
            _fill(cells, [values[role] for role in roles])
            people = cells[roles.index("responsible")]
            for position, person in enumerate(re.split(r",\s+", item.responsible or "")):
                if position:
                    people.add_paragraph(person)
                else:
                    people.text = person
    buffer = io.BytesIO()
    document.save(buffer)
    return Rendered("roadmap.docx", buffer.getvalue())


LAYOUTS: dict[str, Callable[[Roadmap, random.Random], Rendered]] = {
    "docx_heading_rows": docx_heading_rows,
    "docx_merged_stages": docx_merged_stages,
    "docx_nested": docx_nested,
    "one_cell_per_line": one_cell_per_line,
    "tab_rows_shuffled": tab_rows_shuffled,
    "excel_tab_text": excel_tab_text,
    "html_cells": html_cells,
    "order_appendix": order_appendix,
    "two_level": two_level,
}


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



# --------------------------------------------------------------------------- measuring


def original(sample: str) -> Roadmap:
    return parse_roadmap_file(FIELD / sample)


def signature(item: RoadmapItem) -> tuple[str, tuple[date, ...], bool]:
    """What must survive any layout: the activity's words, its due dates, whether it is ongoing."""
    return re.sub(r"\s+", " ", item.activity).strip(), item.due_dates, item.continuous


def render_and_parse(sample: str, layout: str, seed: int = 0) -> tuple[Roadmap, Roadmap]:
    """The original parse and the parse of its rendering in ``layout``."""
    source = original(sample)
    rendered = LAYOUTS[layout](source, random.Random(f"{sample}/{layout}/{seed}"))
    return source, parse_roadmap_upload(rendered.data, rendered.name)


def measure(seeds: int = 3) -> tuple[int, int, dict[str, tuple[int, int, int]]]:
    """Items read with the right deadlines (same activity, dates and ongoing flag) over the
    corpus of samples x layouts x seeds, counted as a multiset so that a duplicate is no match;
    a layout that fails to parse counts all its items wrong.  Per layout: right, total, and
    spurious items (read but not in the original)."""
    right = total = 0
    per_layout: dict[str, tuple[int, int, int]] = {}
    for layout in LAYOUTS:
        layout_right = layout_total = spurious = 0
        for sample in SAMPLES:
            for seed in range(seeds):
                try:
                    source, parsed = render_and_parse(sample, layout, seed)
                    got = Counter(signature(item) for item in parsed.items)
                except ValueError:
                    source, got = original(sample), Counter()
                expected = Counter(signature(item) for item in source.items)
                matched = sum((expected & got).values())
                layout_total += sum(expected.values())
                layout_right += matched
                spurious += sum(got.values()) - matched
        per_layout[layout] = (layout_right, layout_total, spurious)
        right, total = right + layout_right, total + layout_total
    return right, total, per_layout


def measure_made_up(roadmaps: int = 100) -> tuple[int, int]:
    """The same share over made-up roadmaps (each in every layout), against the dates the
    generator computed itself."""
    right = total = 0
    for seed in range(roadmaps):
        roadmap = made_up_roadmap(random.Random(seed))
        expected = Counter(signature(item) for item in roadmap.items)
        for layout in LAYOUTS:
            rendered = LAYOUTS[layout](roadmap, random.Random(seed))
            try:
                parsed = parse_roadmap_upload(rendered.data, rendered.name)
                got = Counter(signature(item) for item in parsed.items)
            except ValueError:
                got = Counter()
            right += sum((expected & got).values())
            total += sum(expected.values())
    return right, total


if __name__ == "__main__":
    right, total, per_layout = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    for layout, (ok, count, extra) in per_layout.items():
        print(f"{layout:22} {ok:4}/{count:<4} {ok / count:6.1%}  spurious items: {extra}")
    print(f"{'samples, all layouts':22} {right:4}/{total:<4} {right / total:6.1%}")
    right, total = measure_made_up(int(sys.argv[2]) if len(sys.argv) > 2 else 100)
    print(f"{'made-up, all layouts':22} {right:4}/{total:<4} {right / max(total, 1):6.1%}")
