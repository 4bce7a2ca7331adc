"""Complementary suppression: no hidden cell can be recovered from its line's total."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    Suppressed,
    hidden_cell,
    recoverable,
    suppress,
)


def test_one_small_school_hides_the_smallest_sibling_too() -> None:
    schools = {"a": 40, "b": 3, "c": 12, "d": 25}
    result = suppress(schools, [list(schools)], min_group=5)
    assert result.cells == {"b": PRIMARY, "c": COMPLEMENTARY}
    # 80 in total, 40 and 25 visible: 15 is all a reader learns of b and c together.
    assert recoverable(schools, [list(schools)], result) == []


def test_without_the_second_cell_the_small_one_is_recovered() -> None:
    schools = {"a": 40, "b": 3, "c": 12}
    naive = suppress(schools, [list(schools)], min_group=5)
    assert recoverable(schools, [list(schools)], naive) == []
    primary_only = Suppressed({"b": PRIMARY}, frozenset())
    assert recoverable(schools, [list(schools)], primary_only) == ["b"]


def test_a_lone_cell_hides_its_total() -> None:
    result = suppress({"only": 3}, [["only"]], min_group=5)
    assert result.cells == {"only": PRIMARY} and result.hidden_totals == {0}


def test_two_way_table_protects_rows_and_columns() -> None:
    # Schools (rows) by category (columns): each row and each column has a published total.
    table = {("s1", "student"): 30, ("s1", "teacher"): 2, ("s2", "student"): 20,
             ("s2", "teacher"): 9, ("s3", "student"): 15, ("s3", "teacher"): 11}
    rows = [[k for k in table if k[0] == s] for s in ("s1", "s2", "s3")]
    cols = [[k for k in table if k[1] == c] for c in ("student", "teacher")]
    result = suppress(table, rows + cols, min_group=5)
    assert recoverable(table, rows + cols, result) == []
    assert result.cells[("s1", "teacher")] == PRIMARY
    assert all(sum(k in result.cells for k in line) != 1 for line in rows + cols)


def test_a_hidden_cell_in_json_carries_flag_reason_and_text() -> None:
    cell = hidden_cell(COMPLEMENTARY, 5)
    assert cell["suppressed"] and cell["value"] is None
    assert cell["text"] == "скрыто: менее 5 чел." and cell["reason"] == COMPLEMENTARY


counts = st.integers(min_value=0, max_value=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(counts, min_size=1, max_size=8), st.integers(min_value=2, max_value=10))
def test_no_hidden_cell_equals_total_minus_visible_siblings_1d(values: list[int], k: int) -> None:
    table = dict(enumerate(values))
    line = [list(table)]
    result = suppress(table, line, k)
    assert all(0 < v < k for key, v in table.items() if result.cells.get(key) == PRIMARY)
    assert all(key in result.cells for key, v in table.items() if 0 < v < k)
    assert recoverable(table, line, result) == []


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=5), st.integers(min_value=1, max_value=5),
       st.data(), st.integers(min_value=2, max_value=10))
def test_no_hidden_cell_equals_total_minus_visible_siblings_2d(n_rows: int, n_cols: int,
                                                              data: st.DataObject, k: int) -> None:
    table = {(r, c): data.draw(counts) for r in range(n_rows) for c in range(n_cols)}
    rows = [[(r, c) for c in range(n_cols)] for r in range(n_rows)]
    cols = [[(r, c) for r in range(n_rows)] for c in range(n_cols)]
    result = suppress(table, rows + cols, k)
    assert all(key in result.cells for key, v in table.items() if 0 < v < k)
    assert recoverable(table, rows + cols, result) == []
