"""The dashboards' complementary suppression: a share or mean hidden for a small group takes the
smallest sibling with it, so the parent's figure minus the visible units never gives it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.dashboards.disclosure import Figure, hidden_figures, protect
from services.monitoring.dashboards.fold import FoldSettings
from shared.auth import OrgPath

FOLD = FoldSettings()
RATED = Figure("mean", ("satisfaction", "feedback", "mentee"), "feedback.mentee.people",
               "feedback.mentee.n")


def tree(people: Mapping[str, int]) -> dict[str, dict[str, float]]:
    """Counts per scope from the mentees who rated meetings at each school, summed upwards."""
    counts: dict[str, dict[str, float]] = {}
    for school, n in people.items():
        parts = school.split("/")
        for depth in (1, 2, 3):
            scope = "/".join(parts[:depth])
            c = counts.setdefault(scope, {})
            for metric, value in (("feedback.mentee.people", n), ("feedback.mentee.n", n),
                                  ("feedback.mentee.sum", 8 * n)):
                c[metric] = c.get(metric, 0) + value
    return counts


def reader(counts: dict[str, dict[str, float]]):  # noqa: ANN201 - the ScopeCounts callable
    def counts_with_units(scope: str, metrics: Sequence[str]):  # noqa: ANN202
        units = {s: c for s, c in counts.items() if s.rpartition("/")[0] == scope}
        return counts.get(scope, {}), units
    return counts_with_units


def hidden_at(counts: dict[str, dict[str, float]], scope: str) -> str | None:
    found = hidden_figures(OrgPath.parse(scope), reader(counts), FOLD)
    return found.get(("mean", RATED.key))


def test_a_small_school_takes_its_smallest_sibling_along() -> None:
    counts = tree({"r/m/a": 40, "r/m/b": 3, "r/m/c": 12, "r/m/d": 25, "r/n/e": 30})
    assert hidden_at(counts, "r/m/b") == "primary"
    assert hidden_at(counts, "r/m/c") == "complementary"
    assert hidden_at(counts, "r/m/a") is None and hidden_at(counts, "r/m") is None


def test_a_hidden_municipality_hides_one_of_its_schools() -> None:
    # m2 is small (primary); m1 is hidden beside it; m1's schools would add up to m1: one goes.
    counts = tree({"r/m1/a": 9, "r/m1/b": 6, "r/m2/c": 4, "r/m3/d": 50})
    assert hidden_at(counts, "r/m2") == "primary"
    assert hidden_at(counts, "r/m1") == "complementary"
    assert {hidden_at(counts, "r/m1/a"), hidden_at(counts, "r/m1/b")} == {None, "complementary"}


def test_a_hidden_figure_reads_the_same_everywhere_and_carries_no_number() -> None:
    body = {"kpis": [{"code": "x", "title": "Доля", "numerator": 3, "denominator": 4,
                      "value": 0.75, "percent": "75,0 %", "met": True, "suppressed": False}],
            "satisfaction": {"feedback": {"mentee": {"count": 3, "mean": 8.0, "suppressed": False}}}}
    shown = protect(body, {("kpi", ("x",)): "complementary",
                           ("mean", RATED.key): "primary"}, 5)
    kpi = shown["kpis"][0]
    assert kpi["percent"] == kpi["numerator"] == kpi["denominator"] == "скрыто: менее 5 чел."
    assert kpi["value"] is None and kpi["suppressed"] and kpi["reason"] == "complementary"
    mean = shown["satisfaction"]["feedback"]["mentee"]
    assert mean["mean"] is None and mean["count"] == "скрыто: менее 5 чел." and mean["suppressed"]
    assert body["satisfaction"]["feedback"]["mentee"]["mean"] == 8.0  # the body is left as it was


schools = st.dictionaries(st.sampled_from([f"r/m{i}/s{j}" for i in range(3) for j in range(4)]),
                          st.integers(min_value=0, max_value=12), min_size=1)


@settings(max_examples=200, deadline=None)
@given(schools)
def test_no_hidden_unit_is_its_parent_minus_its_visible_siblings(people: dict[str, int]) -> None:
    counts = tree(people)
    for parent in [s for s in counts if s.count("/") < 2]:
        if hidden_at(counts, parent) is not None:
            continue  # nothing to subtract from
        units = [s for s in counts if s.rpartition("/")[0] == parent]
        hidden = [u for u in units if hidden_at(counts, u) is not None]
        assert len(hidden) != 1, (parent, hidden, people)
