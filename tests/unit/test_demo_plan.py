"""The demo region's plan and its school year: deterministic, complete, and within the rules."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import date, datetime

import pytest

from services.demo import SCALES, plan_groups, plan_region
from services.demo_activity import formation_date, pair_script, school_year_label, school_year_of
from services.pairing.domain import NEXT_KINDS

TODAY = date(2026, 11, 24)


def test_the_same_seed_plans_the_same_region_and_another_seed_another() -> None:
    first, again = plan_region(7, "small", TODAY), plan_region(7, "small", TODAY)
    assert asdict(first) == asdict(again)
    other = plan_region(8, "small", TODAY)
    assert asdict(other) != asdict(first)
    names = {row["ФИО"] for m in first.municipalities for o in m.organisations for row in o.mentees}
    other_names = {row["ФИО"] for m in other.municipalities for o in m.organisations for row in o.mentees}
    assert names != other_names


@pytest.mark.parametrize("scale", ["small", "municipality"])
def test_each_scale_plans_its_counts(scale: str) -> None:
    n_municipalities, n_schools, n_people = SCALES[scale]
    plan = plan_region(1, scale, TODAY)  # type: ignore[arg-type]
    assert len(plan.municipalities) == n_municipalities
    for municipality in plan.municipalities:
        schools = [o for o in municipality.organisations if o.kind == "school"]
        assert len(schools) == n_schools
        assert all(len(o.mentors) + len(o.mentees) == n_people for o in schools)
    assert plan.people == n_municipalities * n_schools * n_people
    assert plan.school_year == "2025-2026"


def test_the_region_scale_is_sixty_municipalities_and_explicit_counts_override() -> None:
    plan = plan_region(1, "region", TODAY, people=3)
    assert len(plan.municipalities) == SCALES["region"][0]
    assert {len(m.organisations) for m in plan.municipalities} == {SCALES["region"][1] + 1}  # + employer
    small = plan_region(1, "small", TODAY, municipalities=2, schools=5, people=30)
    assert len(small.municipalities) == 2 and small.people == 2 * 5 * 30


def test_names_are_unique_within_an_organisation() -> None:
    plan = plan_region(3, "municipality", TODAY)
    for municipality in plan.municipalities:
        for org in municipality.organisations:
            names = [row["ФИО"] for row in org.mentors + org.mentees]
            assert len(names) == len(set(names)), org.code


def test_every_minor_has_a_guardian_who_consented() -> None:
    plan = plan_region(5, "small", TODAY, people=60)
    minors = 0
    for municipality in plan.municipalities:
        for org in municipality.organisations:
            for row in org.mentors + org.mentees:
                born = datetime.strptime(row["Дата рождения"], "%d.%m.%Y").date()
                if (TODAY - born).days < 18 * 365:
                    minors += 1
                    assert row["ФИО законного представителя"], row
                    assert row["Согласие законного представителя"] == "да", row
                assert row["Согласие на обработку ПД"] == "да"
    assert minors > 0


def test_the_plans_groups_keep_the_pairings_hard_rules() -> None:
    plan = plan_region(11, "small", TODAY)
    for municipality in plan.municipalities:
        rows = {f"{municipality.code}/{o.code}/{role}/{i}": row
                for o in municipality.organisations
                for role, people in (("mentor", o.mentors), ("mentee", o.mentees))
                for i, row in enumerate(people)}
        groups = plan_groups(municipality)
        assert groups and groups == plan_groups(municipality)
        mentees = [m for g in groups for m in g.mentees]
        assert len(mentees) == len(set(mentees))  # nobody in two pairs
        load = Counter()
        for group in groups:
            mentor = rows[group.mentor]
            assert mentor["Категория"] == "обучающийся"  # the student–student form
            assert all(m.split("/")[1] == group.school for m in group.mentees)
            for mentee in group.mentees:
                # the pairing compares grades when both are known, and every demo pupil has one
                assert int(mentor["Класс"]) > int(rows[mentee]["Класс"])
            load[group.mentor] += len(group.mentees)
        assert all(n <= int(rows[m]["Кол-во наставляемых"]) for m, n in load.items())


def test_the_school_year_is_the_last_one_already_over() -> None:
    assert school_year_of(date(2026, 11, 24)) == (date(2025, 9, 1), date(2026, 5, 31))
    assert school_year_of(date(2026, 3, 1)) == (date(2024, 9, 1), date(2025, 5, 31))
    assert school_year_of(date(2026, 6, 1)) == (date(2025, 9, 1), date(2026, 5, 31))
    assert school_year_label(date(2026, 5, 31)) == "2024-2025"


@pytest.mark.parametrize("today", [date(2026, 11, 24), date(2026, 6, 1), date(2027, 2, 28)])
def test_a_pairs_year_follows_the_methodology_and_lies_in_the_past(today: date) -> None:
    start, end = school_year_of(today)
    fates = Counter()
    for n in range(200):
        formed = formation_date(42, f"school-{n % 7}", today)
        script = pair_script(42, f"m/school/mentor/{n}", 1 + n % 3, formed, today)
        assert script == pair_script(42, f"m/school/mentor/{n}", 1 + n % 3, formed, today)
        fates[script.fate] += 1
        assert start <= formed < script.meetings[0].on <= end < today
        previous = None
        for meeting in script.meetings:
            assert meeting.kind in NEXT_KINDS[previous]
            previous = meeting.kind
        dates = [m.on for m in script.meetings]
        assert dates == sorted(dates)
        assert (script.meetings[-1].kind == "final") == (script.fate == "completed")
        assert all(1 <= f.satisfaction <= 10 and 1 <= f.meeting_number <= len(script.meetings)
                   and 0 <= f.member <= 1 + n % 3 for f in script.feedback)
        assert len(script.entry) == len(script.exit_gain) == 1 + n % 3
        assert (script.dissolve_reason is not None) == (script.fate == "dissolved")
    assert fates["completed"] > fates["dissolved"] > 0 and set(fates) == {"completed", "dissolved"}
