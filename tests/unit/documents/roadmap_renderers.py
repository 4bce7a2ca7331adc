"""Renderers for the metamorphic roadmap tests: one parsed roadmap, written out again in each
layout met in the field, must parse back to the same items and deadlines.

The renderers only use the parsed :class:`Roadmap` (title, sections, items) and their own
wording (column titles picked from the synonyms offices use, an order around the plan...), never
the samples' text layout.  Run ``python -m tests.unit.documents.roadmap_renderers`` to measure
the share of items read with the right deadlines over the whole corpus.
"""

from __future__ import annotations

import io
import random
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from services.documents.roadmap import Roadmap, RoadmapItem, parse_roadmap_file

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

    for stage, items in sections(roadmap):
        lines += [f"\t{stage_title(stage).upper()}", ""]
        for position, item in enumerate(items, start=1):
            number = f"{position}." if position % 2 else str(position)
            deadlines = _split_list(item.deadline_text)
            lines += [*cell(number), *cell(item.activity), *cell(deadlines[0]), *cell(item.responsible or ""),
                      *cell(item.result or ""), ""]
            for more in deadlines[1:]:  # the same activity, another date: its cell left empty
                lines += ["\t", "\t", *cell(more), *cell(item.responsible or ""), "\t", ""]
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
    for stage, items in sections(roadmap):
        if stage:
            lines.append(text_of([stage if role == "activity" else "" for role in roles]))
        for item in items:
            values = {"number": item.number or "", "activity": item.activity, "deadline": item.deadline_text,
                      "responsible": item.responsible or "", "result": item.result or ""}
            lines.append(text_of([values[role] for role in roles]))
    return Rendered("roadmap.txt", _encode("\n".join(lines)))


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


def order_appendix(roadmap: Roadmap, rng: random.Random) -> Rendered:
    """The plan as an appendix to an order: header in two languages, preamble, ПРИКАЗЫВАЮ,
    signatures, «Приложение … к приказу … от …», then the plan as tab rows."""
    plan = tab_rows_shuffled(roadmap, rng).data.decode("utf-8")
    return Rendered("prikaz.txt", _encode(ORDER_HEAD + "\n" + plan))


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


LAYOUTS: dict[str, Callable[[Roadmap, random.Random], Rendered]] = {
    "docx_merged_stages": docx_merged_stages,
    "docx_nested": docx_nested,
    "one_cell_per_line": one_cell_per_line,
    "tab_rows_shuffled": tab_rows_shuffled,
    "html_cells": html_cells,
    "order_appendix": order_appendix,
    "two_level": two_level,
}


def original(sample: str) -> Roadmap:
    return parse_roadmap_file(FIELD / sample)


def signature(item: RoadmapItem) -> tuple[str, tuple[date, ...], bool]:
    """What must survive any layout: the activity's words, its due dates, whether it is ongoing."""
    return re.sub(r"\s+", " ", item.activity).strip(), item.due_dates, item.continuous


def render_and_parse(sample: str, layout: str, seed: int = 0) -> tuple[Roadmap, Roadmap]:
    """The original parse and the parse of its rendering in ``layout``."""
    from services.documents.roadmap import parse_roadmap_upload

    source = original(sample)
    rendered = LAYOUTS[layout](source, random.Random(f"{sample}/{layout}/{seed}"))
    return source, parse_roadmap_upload(rendered.data, rendered.name)


def measure(seeds: int = 3) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Items read with the right deadlines (same activity, dates and ongoing flag) over the
    corpus of samples x layouts x seeds; a layout that fails to parse counts all its items wrong."""
    right = total = 0
    per_layout: dict[str, tuple[int, int]] = {}
    for layout in LAYOUTS:
        layout_right = layout_total = 0
        for sample in SAMPLES:
            for seed in range(seeds):
                source = original(sample)
                try:
                    _, parsed = render_and_parse(sample, layout, seed)
                    got = [signature(item) for item in parsed.items]
                except ValueError:
                    got = []
                expected = [signature(item) for item in source.items]
                layout_total += len(expected)
                layout_right += sum(1 for item in expected if item in got)
        per_layout[layout] = (layout_right, layout_total)
        right, total = right + layout_right, total + layout_total
    return right, total, per_layout


if __name__ == "__main__":
    right, total, per_layout = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
    for layout, (ok, count) in per_layout.items():
        print(f"{layout:22} {ok:4}/{count:<4} {ok / count:6.1%}")
    print(f"{'all layouts':22} {right:4}/{total:<4} {right / total:6.1%}")
