"""Statistical disclosure control of count tables: primary and complementary suppression.

A cell counting fewer than ``min_group`` people (but some) is hidden — primary suppression. That
alone is not enough: a hidden cell equals its line's published total minus the visible cells
beside it. So whenever a line (a row or a column whose total is published, e.g. the schools of
a municipality, or the categories of a school) holds exactly one hidden cell, the smallest
other cell of that line is hidden too — complementary (secondary) suppression — until no line
holds exactly one. A line whose only cell with people in it is hidden cannot be protected by its
siblings: its total is then hidden too (``hidden_totals``).

Pure: no I/O, the same answer for the same table, so every view hides the same cells.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def hidden_text(min_group: int) -> str:
    """What every view shows in place of a hidden cell."""
    return f"скрыто: менее {min_group} чел."


def reason_text(reason: str, min_group: int) -> str:
    if reason == PRIMARY:
        return f"в группе менее {min_group} чел."
    return (f"скрыто вместе с соседней ячейкой, в которой менее {min_group} чел., "
            "чтобы её нельзя было вычислить из итога")


@dataclass(frozen=True)
class Suppressed(Generic[K]):
    cells: dict[K, str]  # hidden cell -> PRIMARY or COMPLEMENTARY
    hidden_totals: frozenset[int]  # indexes of lines whose published total must be hidden too


def _order(key: Any) -> str:
    return repr(key)


def suppress(values: Mapping[K, int | float], lines: Sequence[Iterable[K]],
             min_group: int, primary: Iterable[K] | None = None) -> Suppressed[K]:
    """The cells to hide in a table of counts of people.

    ``lines``: each a group of cells whose sum is published as a total (one line for a simple
    breakdown under its total; rows and columns for a two-way table). ``primary``: the cells
    hidden for their own small group, when the caller's rule is not just ``0 < value < N``.
    """
    groups = [list(dict.fromkeys(line)) for line in lines]
    hidden: dict[K, str] = (
        {k: PRIMARY for k, v in values.items() if 0 < v < min_group} if primary is None
        else dict.fromkeys(primary, PRIMARY))
    totals: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, line in enumerate(groups):
            if index in totals or sum(1 for k in line if k in hidden) != 1:
                continue
            # Only a cell with people in it protects: an empty one, hidden, would still read
            # as nobody to whoever knows the unit had no such group.
            visible = [k for k in line if k not in hidden and values.get(k, 0)]
            if not visible:
                totals.add(index)  # the cell is the total: the total goes too
                changed = True
                continue
            # The smallest other cell costs the reader least.
            pick = min(visible, key=lambda k: (values.get(k, 0), _order(k)))
            hidden[pick] = COMPLEMENTARY
            changed = True
    return Suppressed(hidden, frozenset(totals))


def recoverable(values: Mapping[K, int | float], lines: Sequence[Iterable[K]],
                result: Suppressed[K]) -> list[K]:
    """Hidden cells a reader recovers by differencing: the only hidden cell of a line whose
    total is published equals that total minus the visible cells. Empty when protected."""
    found: list[K] = []
    for index, line in enumerate(lines):
        cells = list(dict.fromkeys(line))
        inside = [k for k in cells if k in result.cells]
        if index not in result.hidden_totals and len(inside) == 1:
            total = sum(values.get(k, 0) for k in cells)
            derived = total - sum(values.get(k, 0) for k in cells if k not in result.cells)
            if derived == values.get(inside[0], 0):
                found.append(inside[0])
    return found


def hidden_cell(reason: str, min_group: int) -> dict[str, Any]:
    """A hidden cell in JSON: no number, a flag, the reason and the text every view shows."""
    return {"value": None, "suppressed": True, "reason": reason,
            "text": hidden_text(min_group), "explanation": reason_text(reason, min_group)}


