"""Charts drawn on the server as inline SVG: no JavaScript, fast on an old school computer,
readable by a screen reader (each chart has a title and the figures are also in a table)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

BAR_HEIGHT = 18
LABEL_HEIGHT = 18
GAP = 10
BAR_WIDTH = 560
VALUE_WIDTH = 90


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    #: A target drawn as a mark across the bar (same units as ``value``).
    target: float | None = None


def bar_chart(title: str, bars: list[Bar], unit: str = "") -> Markup:
    """Horizontal bars scaled to the largest value or target, each under its own label line
    (long Russian titles stay whole)."""
    top = max([b.value for b in bars] + [b.target or 0 for b in bars] + [1])
    row = LABEL_HEIGHT + BAR_HEIGHT + GAP
    height = len(bars) * row + GAP
    width = BAR_WIDTH + VALUE_WIDTH
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, bar in enumerate(bars):
        y = GAP + i * row
        bar_y = y + LABEL_HEIGHT
        length = BAR_WIDTH * bar.value / top
        parts.append(f'<text x="0" y="{y + 13}" class="chart-label">{escape(shorten(bar.label))}</text>')
        for css, size in (("chart-track", float(BAR_WIDTH)), ("chart-bar", length)):
            parts.append(f'<rect x="0" y="{bar_y}" width="{size:.1f}" height="{BAR_HEIGHT}" class="{css}"/>')
        if bar.target is not None:
            x = BAR_WIDTH * bar.target / top
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bar_y - 3}" y2="{bar_y + BAR_HEIGHT + 3}" '
                         f'class="chart-target"><title>Цель: {number(bar.target)}{unit}</title></line>')
        target = f" (цель {number(bar.target)}{unit})" if bar.target is not None else ""
        parts.append(f'<text x="{BAR_WIDTH + 8}" y="{bar_y + 14}" '
                     f'class="chart-value">{number(bar.value)}{unit}</text>')
        if target:
            parts.append(f"<desc>{escape(bar.label)}: {number(bar.value)}{unit}{escape(target)}</desc>")
    parts.append("</svg>")
    return Markup("".join(parts))


def shorten(label: str, limit: int = 90) -> str:
    """Long names keep their start and their end, where a school's number is."""
    if len(label) <= limit:
        return label
    return label[:40] + "…" + label[-(limit - 41):]


def number(value: float) -> str:
    """Russian number style: thin space for thousands, a comma for decimals."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:,.1f}".replace(",", "\u202f").replace(".", ",")


# --- what the charts say: months in Russian, every month counted, names told apart ----------

MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
          "октябрь", "ноябрь", "декабрь")


def month_label(month: str) -> str:
    """``2025-09`` → «сентябрь 2025» (the nominative, as a chart's axis says it)."""
    try:
        year, number_ = (int(part) for part in month.split("-")[:2])
        return f"{MONTHS[number_ - 1]} {year}"
    except (ValueError, IndexError):
        return month


def every_month(rows: list[dict[str, Any]], key: str = "month") -> list[dict[str, Any]]:
    """The months from the first to the last, those missing added with zeros (a month without a
    meeting is a fact to see, not a gap to skip)."""
    known = {r[key]: r for r in rows if r.get(key)}
    if not known:
        return []
    first, last = min(known), max(known)
    year, month = (int(p) for p in first.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        label = f"{year:04d}-{month:02d}"
        zero = {k: 0 for k in next(iter(known.values())) if k != key}
        out.append(known.get(label, {key: label, **zero}))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


#: Long legal phrases of Russian organisations' names and how people shorten them.
ABBREVIATIONS = (
    ("средняя общеобразовательная школа", "СОШ"), ("основная общеобразовательная школа", "ООШ"),
    ("начальная общеобразовательная школа", "НОШ"),
    ("муниципальное бюджетное общеобразовательное учреждение", "МБОУ"),
    ("муниципальное автономное общеобразовательное учреждение", "МАОУ"),
    ("муниципальное казённое общеобразовательное учреждение", "МКОУ"),
    ("профессиональное образовательное учреждение", "ПОУ"),
)
#: Legal forms that open a name and say nothing about which organisation it is.
LEGAL_FORMS = {"МБОУ", "МАОУ", "МКОУ", "МОУ", "ГБОУ", "ГАОУ", "ГБПОУ", "ГАПОУ", "ГПОУ", "ПОУ",
               "МБУ", "МАУ", "МБУДО", "МАУДО", "АО", "ОАО", "ПАО", "ООО", "ЗАО", "ФГБОУ", "ФГАОУ"}


def short_name(name: str) -> str:
    """«МБОУ «Средняя общеобразовательная школа № 5»» → «СОШ № 5»."""
    text = " ".join(name.split())
    for phrase, abbreviation in ABBREVIATIONS:
        start = text.lower().find(phrase)
        if start >= 0:
            text = text[:start] + abbreviation + text[start + len(phrase):]
    words = text.split(" ")
    while len(words) > 1 and words[0].strip("«»\"") in LEGAL_FORMS:
        words = words[1:]
    text = " ".join(words)
    if text.startswith("«") and text.endswith("»") and text.count("«") == 1:
        text = text[1:-1]
    return text.strip() or name


def distinct_labels(names: list[str]) -> list[str]:
    """Short names that still tell the organisations apart: where two would read the same, both
    keep their full names."""
    short = [short_name(n) for n in names]
    return [s if short.count(s) == 1 else full for s, full in zip(short, names, strict=True)]
