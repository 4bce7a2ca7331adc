"""Complementary suppression of the dashboards' hidden figures (``suppression`` is the rule).

A KPI share or a mean over fewer than ``min_group`` people is hidden in a unit's dashboard
(``kpi.share``, ``render._mean``). But the parent's figure sums its units' numerators and
denominators (answers and their sums for a mean): with every sibling visible, the hidden one is
the parent's minus theirs. So for every such figure, the units under each parent form a line
whose total is published, and ``hidden_down`` hides, from the region down to the unit asked
for, the smallest sibling beside a lone hidden one — and one unit under a parent whose own
figure is hidden for a sibling's sake. Each dashboard computes this from the counts of every
level above it, so the unit's own page and its parent's agree on what is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.monitoring import surveys
from services.monitoring.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    hidden_text,
    reason_text,
    suppress,
)
from shared import figures
from shared.auth import OrgPath

from .fold import FoldSettings

Counts = Mapping[str, float]
#: A scope's own counts and the counts (of the metrics asked for) of the units under it.
ScopeCounts = Callable[[str, Sequence[str]], tuple[Counts, Mapping[str, Counts]]]


@dataclass(frozen=True)
class Figure:
    """One hidden-when-small figure: where it sits in a dashboard, and from which counts its
    group of people and its own rule for hiding come."""

    kind: str  # "kpi" or "mean"
    key: tuple[str, ...]  # the KPI's code, or the mean's path in the dashboard
    people: str  # the count of people behind the figure
    present: str  # the count that says the figure has data at all (denominator, answers)

    def cell(self, counts: Counts, min_group: int) -> tuple[float, bool]:
        """(people, hidden for its own small group) at one unit."""
        people, present = counts.get(self.people, 0), counts.get(self.present, 0)
        return people, present > 0 and people < min_group


def figures_of(settings: FoldSettings) -> list[Figure]:
    found = [Figure("kpi", (i.code,), i.people or i.denominator, i.denominator)
             for i in settings.catalogue.indicators]
    found += [Figure("mean", ("satisfaction", "feedback", side), f"feedback.{side}.people",
                     f"feedback.{side}.n") for side in ("mentor", "mentee")]
    found += [Figure("mean", ("satisfaction", "survey", role), f"survey.{role}.people",
                     f"survey.{role}.n") for role in ("mentor", "mentee", "curator")]
    found += [Figure("mean", ("growth", name), f"growth.{name}.n", f"growth.{name}.n")
              for name in (*surveys.DIMENSIONS, "overall")]
    return found


def metrics_of(figures: Sequence[Figure]) -> list[str]:
    return sorted({m for f in figures for m in (f.people, f.present)})


def hidden_down(figure: Figure, levels: Sequence[tuple[str, Counts, Mapping[str, Counts]]],
                min_group: int) -> str | None:
    """Why the last level's figure is hidden (None: shown), walking from the region down.

    ``levels``: (scope, its counts, its units' counts), each next scope among the units."""
    own: str | None = None
    for index, (scope, counts, _units) in enumerate(levels):
        _, small = figure.cell(counts, min_group)
        if index == 0:
            own = PRIMARY if small else None
            continue
        parent_hidden = own is not None
        units = levels[index - 1][2]
        people = {u: figure.cell(c, min_group)[0] for u, c in units.items()}
        primary = [u for u, c in units.items() if figure.cell(c, min_group)[1]]
        cells = dict(suppress(people, [list(people)], min_group, primary).cells)
        shown = [u for u, v in people.items() if v and u not in cells]
        if parent_hidden and not cells and shown:
            # The units would add up to the parent's hidden figure: one of them goes too.
            cells[min(shown, key=lambda u: (people[u], u))] = COMPLEMENTARY
        own = PRIMARY if small else cells.get(scope)
    return own


def hidden_figures(org: OrgPath, scope_counts: ScopeCounts, settings: FoldSettings
                   ) -> dict[tuple[str, tuple[str, ...]], str]:
    """Every figure of ``org``'s dashboard that is hidden, with why."""
    figures = figures_of(settings)
    metrics = metrics_of(figures)
    way = [OrgPath(region=org.region)]
    if org.municipality is not None:
        way.append(OrgPath(region=org.region, municipality=org.municipality))
    if org.organisation is not None:
        way.append(org)
    levels = [(str(p), *scope_counts(str(p), metrics)) for p in way]
    hidden = {}
    for figure in figures:
        reason = hidden_down(figure, levels, settings.min_group)
        if reason is not None:
            hidden[(figure.kind, figure.key)] = reason
    return hidden


def _hide(item: dict[str, Any], reason: str, min_group: int, fields: Sequence[str]
          ) -> dict[str, Any]:
    text = hidden_text(min_group)
    return {**item, **dict.fromkeys(fields, text), "suppressed": True, "reason": reason,
            "explanation": reason_text(reason, min_group)}


def protect(body: dict[str, Any], hidden: Mapping[tuple[str, tuple[str, ...]], str],
            min_group: int) -> dict[str, Any]:
    """The dashboard with every hidden figure carrying no number: «скрыто: менее N чел.» in
    its place, ``suppressed`` true and the ``reason`` (primary or complementary)."""
    out = dict(body)
    kpis = []
    for k in body.get("kpis", []):
        reason = hidden.get(("kpi", (k["code"],)))
        if reason is None:
            kpis.append(k)
            continue
        kpis.append({**_hide(k, reason, min_group, ("numerator", "denominator", "percent",
                                                     "display")),
                     "value": None, "met": None, "met_display": figures.met(None),
                     "calculation": figures.NO_DATA})
    out["kpis"] = kpis
    # The headline repeats the feedback means: hidden there too, with the same text.
    sides = {f"satisfaction_{side}s": reason for (kind, key), reason in hidden.items()
             if kind == "mean" and key[:2] == ("satisfaction", "feedback") for side in key[2:]}
    if sides and "headline" in out:
        out["headline"] = [{**_hide(row, sides[row["code"]], min_group, ("display",)),
                            "value": None} if row["code"] in sides else row
                           for row in out["headline"]]
    for (kind, key), reason in hidden.items():
        if kind != "mean":
            continue
        *path, last = key
        node = out
        for part in path:  # copy the way down, so the rendered body is left as it was
            node[part] = dict(node[part])
            node = node[part]
        node[last] = {**_hide(node[last], reason, min_group, ("count",)), "mean": None}
    return out
