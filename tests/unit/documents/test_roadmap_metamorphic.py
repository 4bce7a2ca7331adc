"""Metamorphic tests: a roadmap written out in another layout reads back the same.

Each of the three field samples is rendered into every layout of :mod:`roadmap_renderers` (a
Word table with merged stage cells, the same nested in a frame, one cell per line, tab rows with
shuffled and renamed columns, HTML in cells, a plan inside an order, a two-level stage table)
and must give the same items, deadlines and period as the original.  Then roadmaps made up from
a small grammar (no sample wording) check the same in every layout against dates computed here,
not by the parser.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.documents.roadmap import parse_roadmap_upload
from tests.unit.documents.roadmap_renderers import (
    LAYOUTS,
    SAMPLES,
    made_up_roadmap,
    measure,
    render_and_parse,
    signature,
)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("sample", SAMPLES)
def test_each_sample_reads_the_same_in_each_layout(sample: str, layout: str) -> None:
    source, parsed = render_and_parse(sample, layout)
    assert parsed.period == source.period
    assert [signature(item) for item in parsed.items] == [signature(item) for item in source.items]


def test_the_corpus_share_of_items_with_right_deadlines_is_whole() -> None:
    right, total, per_layout = measure(seeds=1)
    assert total == 64 * len(LAYOUTS)  # 15 + 21 + 28 items in each layout
    assert right == total and all(extra == 0 for _, _, extra in per_layout.values()), per_layout


# --------------------------------------------------------------------------- made-up roadmaps

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
