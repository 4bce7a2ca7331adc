"""Statistical disclosure control of count tables: primary and complementary suppression.

A cell counting fewer than ``min_group`` people (but some) is hidden — primary suppression. That
alone is not enough: a hidden cell equals its line's published total minus the visible cells
beside it. So whenever a line (a row or a column whose total is published, e.g. the schools of
a municipality, or the categories of a school) holds exactly one hidden cell, the smallest
other cell of that line is hidden too — complementary (secondary) suppression — until no line
holds exactly one. A line whose only cell is hidden cannot be protected by its siblings: its
total is then hidden too (``hidden_totals``).

Pure: no I/O, the same answer for the same table, so every view hides the same cells.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.auth import OrgPath

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
             min_group: int) -> Suppressed[K]:
    """The cells to hide in a table of counts of people.

    ``lines``: each a group of cells whose sum is published as a total (one line for a simple
    breakdown under its total; rows and columns for a two-way table).
    """
    groups = [list(dict.fromkeys(line)) for line in lines]
    hidden: dict[K, str] = {k: PRIMARY for k, v in values.items() if 0 < v < min_group}
    totals: set[int] = set()
    changed = True
    while changed:
        changed = False
        for index, line in enumerate(groups):
            if index in totals or sum(1 for k in line if k in hidden) != 1:
                continue
            visible = [k for k in line if k not in hidden]
            if not visible:
                totals.add(index)  # the cell is the total: the total goes too
                changed = True
                continue
            # The smallest other cell costs the reader least; a nonzero one first, since an
            # empty cell hidden beside it still leaves the reader unable to split the difference.
            pick = min(visible, key=lambda k: (values.get(k, 0) == 0, values.get(k, 0), _order(k)))
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


# --- the dashboards' tables -----------------------------------------------------------------

#: The counts of people a dashboard publishes per unit and sums up the levels.
PEOPLE = ("mentors", "mentees")
BREAKDOWNS = ("by_category", "by_form")

#: One level of the way down to a unit: its scope, its count, the counts of the units under it.
Level = tuple[str, float, Mapping[str, float]]


def protect_units(total_hidden: bool, units: Mapping[str, float], min_group: int) -> dict[str, str]:
    """The hidden units of one parent's table: primary and complementary; and when the parent's
    own total is hidden (a sibling's protection), at least one unit under it too, or the
    units would add up to it."""
    cells = dict(suppress(units, [list(units)], min_group).cells)
    shown = [k for k, v in units.items() if v and k not in cells]
    if total_hidden and not cells and shown:
        cells[min(shown, key=lambda k: (units[k], k))] = COMPLEMENTARY
    return cells


def hidden_down(chain: Sequence[Level], min_group: int) -> tuple[str | None, dict[str, str]]:
    """From the region down to a unit (``chain``, each level holding the next among its
    units): whether the unit's own count is hidden (and why), and which units under it are.
    Every view of a unit and of its parent computes the same, so they hide the same cells."""
    scope, total, units = chain[0]
    own = PRIMARY if 0 < total < min_group else None
    cells = protect_units(own is not None, units, min_group)
    for scope, total, units in chain[1:]:
        own = PRIMARY if 0 < total < min_group else cells.get(scope)
        cells = protect_units(own is not None, units, min_group)
    return own, cells


def protect_dashboard(body: dict[str, Any], hidden: Mapping[str, tuple[str | None, dict[str, str]]],
                      min_group: int) -> dict[str, Any]:
    """A rendered dashboard with its hidden counts of people replaced by ``hidden_cell``: the
    unit's own count, the units under it, and the breakdowns by category and form (whose line
    total is the unit's count)."""
    units = [dict(u) for u in body.get("units", [])]
    out = {**body, "units": units}
    for metric in PEOPLE:
        own, cells = hidden.get(metric, (None, {}))
        section = dict(out[metric])
        if own is not None:
            section["total"] = hidden_cell(own, min_group)
        for name in BREAKDOWNS:
            values = section.get(name) or {}
            # Under a hidden total no sibling can be subtracted from it: the small ones only.
            lines = [] if own is not None else [list(values)]
            found = suppress(values, lines, min_group)
            section[name] = {k: hidden_cell(found.cells[k], min_group) if k in found.cells else v
                             for k, v in values.items()}
        out[metric] = section
        for unit in units:
            if unit["scope"] in cells:
                unit[metric] = hidden_cell(cells[unit["scope"]], min_group)
    return out


def shown_count(value: Any) -> int | float:
    """A count for sorting and sums: a hidden cell counts as nothing."""
    return 0 if isinstance(value, Mapping) else value


ScopeCounts = Callable[[str], tuple[Mapping[str, float], Mapping[str, Mapping[str, float]]]]


def disclosure_of(org: OrgPath, scope_counts: ScopeCounts, min_group: int
                  ) -> dict[str, tuple[str | None, dict[str, str]]]:
    """For each count of people: whether ``org``'s own is hidden and which units under it are,
    from the counts of every level above it (``scope_counts``: a scope's own counts and its
    units' headline counts — live from the tables or from a replay)."""
    way = [OrgPath(region=org.region)]
    if org.municipality is not None:
        way.append(OrgPath(region=org.region, municipality=org.municipality))
    if org.organisation is not None:
        way.append(org)
    levels = [(str(p), *scope_counts(str(p))) for p in way]
    return {metric: hidden_down([(scope, own.get(metric, 0), {u: c.get(metric, 0)
                                                               for u, c in units.items()})
                                 for scope, own, units in levels], min_group)
            for metric in PEOPLE}
