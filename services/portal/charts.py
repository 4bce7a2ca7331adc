"""Charts drawn on the server as inline SVG: no JavaScript, fast on an old school computer,
readable by a screen reader (each chart has a title and the figures are also in a table)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

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
