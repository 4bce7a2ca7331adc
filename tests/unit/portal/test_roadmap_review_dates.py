"""The review form's deadlines: dd.mm.yyyy, several separated by commas; anything else refused
in Russian, naming what was typed."""

from __future__ import annotations

import pytest

from services.portal.pages.roadmaps import format_dates, parse_dates


def test_several_dates_read_sorted_and_once() -> None:
    assert parse_dates("20.11.2025, 1.3.2026; 20.11.2025,") == ["2025-11-20", "2026-03-01"]
    assert parse_dates("  ") == []
    assert format_dates(["2025-11-20", "2026-03-01"]) == "20.11.2025, 01.03.2026"


@pytest.mark.parametrize("text", ["31.02.2025", "ноябрь 2025", "2025-11-20", "20.11.25"])
def test_a_date_not_so_written_is_refused_in_russian(text: str) -> None:
    with pytest.raises(ValueError, match=f"Срок «{text}» не похож на дату"):
        parse_dates(text)
