"""Two changes to one organisation at once (another replica's, say): neither is lost; a change
that keeps losing the race is refused as a conflict the user can read, never as a crash."""

from __future__ import annotations

from typing import Any

import pytest

from services.registry.application import RegistryService
from services.registry.commands import DeclareContingent
from shared.auth import Role
from shared.errors import DomainError
from tests.unit.registry.conftest import SCHOOL_A, Region, acting


def figures(year: str, students: int) -> DeclareContingent:
    return DeclareContingent(school_year=year, students_total=students, students_10_19=students // 2,
                             students_15_19=students // 4, teachers_total=40, young_teachers=5)


def meanwhile(registry: RegistryService, monkeypatch: pytest.MonkeyPatch, times: int,
              change: Any) -> None:
    """Right after the command reads the organisation, ``change`` is stored by someone else."""
    read = registry.events.repository.get
    left = [times]

    def read_then_overtaken(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            change(read)
        return found

    monkeypatch.setattr(registry.events.repository, "get", read_then_overtaken)


def test_a_change_overtaken_by_another_is_made_again_on_top_of_it(
        registry: RegistryService, region: Region, monkeypatch: pytest.MonkeyPatch) -> None:
    school = region.ids[SCHOOL_A]
    curator = acting(Role.CURATOR, SCHOOL_A)

    def other_replica(read: Any) -> None:
        organisation = read(school)
        organisation.declare_contingent("2024-2025", figures("2024-2025", 800).model_dump(
            exclude={"school_year"}), meta=curator.meta(SCHOOL_A))
        registry.events.save(organisation)

    meanwhile(registry, monkeypatch, 1, other_replica)
    registry.declare_contingent(curator, school, figures("2025-2026", 900))
    monkeypatch.undo()
    contingents = registry.get_organisation(curator.actor, school)["contingents"]
    assert {year: c["students_total"] for year, c in contingents.items()} == {
        "2024-2025": 800, "2025-2026": 900}


def test_a_change_that_keeps_losing_the_race_is_refused_as_a_conflict(
        registry: RegistryService, region: Region, monkeypatch: pytest.MonkeyPatch) -> None:
    school = region.ids[SCHOOL_A]
    curator = acting(Role.CURATOR, SCHOOL_A)
    years = iter(f"{2000 + n}-{2001 + n}" for n in range(100))

    def other_replica(read: Any) -> None:
        organisation = read(school)
        year = next(years)
        organisation.declare_contingent(year, figures(year, 700).model_dump(
            exclude={"school_year"}), meta=curator.meta(SCHOOL_A))
        registry.events.save(organisation)

    meanwhile(registry, monkeypatch, 100, other_replica)
    with pytest.raises(DomainError) as refused:
        registry.declare_contingent(curator, school, figures("2025-2026", 900))
    monkeypatch.undo()
    assert (refused.value.status, refused.value.code) == (409, "CONCURRENT_CHANGE")
    assert "повторите" in refused.value.message
    assert "2025-2026" not in registry.get_organisation(curator.actor, school)["contingents"]
