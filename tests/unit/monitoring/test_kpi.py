"""KPIs of a small region computed by hand: three schools and three employers in one municipality,
one school and an employer in another; shares at school, municipal and regional level."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.monitoring import kpi
from services.monitoring.dashboards import DashboardFold, rolled_counts
from services.monitoring.kpi import Share
from shared import figures as fmt
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.events import MenteeRegistered, MentorRegistered

CONTINGENTS = {
    "demo/m1/s1": {"students_10_19": 400, "students_15_19": 150, "young_teachers": 10,
                   "enterprises": 0, "students_total": 520, "teachers_total": 40},
    "demo/m1/s2": {"students_10_19": 250, "students_15_19": 90, "young_teachers": 4,
                   "enterprises": 0, "students_total": 300, "teachers_total": 25},
    # A rural school of three pupils aged 10–19: every share over them is suppressed.
    "demo/m1/s3": {"students_10_19": 3, "students_15_19": 3, "young_teachers": 0,
                   "enterprises": 0, "students_total": 5, "teachers_total": 4},
    # The municipality declares the enterprises of its territory; no school does.
    "demo/m1": {"students_10_19": 0, "students_15_19": 0, "young_teachers": 0, "enterprises": 20,
                "students_total": 0, "teachers_total": 0},
    "demo/m2/s4": {"students_10_19": 100, "students_15_19": 40, "young_teachers": 6,
                   "enterprises": 0, "students_total": 130, "teachers_total": 12},
    "demo/m2": {"students_10_19": 0, "students_15_19": 0, "young_teachers": 0, "enterprises": 10,
                "students_total": 0, "teachers_total": 0},
}
COUNTS = {
    "demo/m1/s1": {"mentees.students_10_19": 290, "mentors.students_15_19": 12,
                   "mentees.young_teachers": 7},
    "demo/m1/s2": {"mentees.students_10_19": 160, "mentors.students_15_19": 9,
                   "mentees.young_teachers": 3},
    "demo/m1/s3": {"mentees.students_10_19": 2, "mentors.students_15_19": 1},
    "demo/m1/e1": {"enterprises.providing_mentors": 1},
    "demo/m1/e2": {"enterprises.providing_mentors": 1},
    "demo/m1/e3": {"enterprises.providing_mentors": 1},
    "demo/m2/s4": {"mentees.students_10_19": 50, "mentors.students_15_19": 2,
                   "mentees.young_teachers": 6},
    "demo/m2/e4": {"enterprises.providing_mentors": 1},
}


@pytest.fixture(scope="module")
def catalogue() -> kpi.Catalogue:
    return kpi.load_catalogue()


def by_code(shares: list[Share]) -> dict[str, Share]:
    return {s.code: s for s in shares}


def rolled_up(counts: dict[str, dict[str, int]], contingents: dict[str, dict[str, int]]
              ) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Per-organisation counts rolled up the way the dashboards do it: (scope → figures, scope
    → level)."""
    fold = DashboardFold()
    for table, prefix in ((counts, ""), (contingents, kpi.CONTINGENT_PREFIX)):
        for path, figures in table.items():
            org = OrgPath.parse(path)
            for name, value in figures.items():
                fold.deltas[(org.region, org.municipality, org.organisation)][prefix + name] += value
    totals, where = rolled_counts(fold)
    return totals, {scope: level for scope, (level, _parent) in where.items()}


def kpis_by_level(catalogue: kpi.Catalogue, level: str) -> dict[str, list[Share]]:
    totals, levels = rolled_up(COUNTS, CONTINGENTS)
    return {scope: kpi.shares(catalogue, {m: int(v) for m, v in figures.items()})
            for scope, figures in sorted(totals.items()) if levels[scope] == level}


def test_default_catalogue_has_the_five_kpis_of_the_target_model_and_the_trained_mentors(
        catalogue: kpi.Catalogue) -> None:
    assert [i.code for i in catalogue.indicators] == [
        "students_mentees", "students_mentors", "young_teachers_mentees", "enterprises_mentors",
        "participants_satisfied", "mentors_trained"]
    trained = catalogue.get("mentors_trained")
    assert (trained.numerator, trained.denominator) == ("mentors.trained", "mentors")
    first = catalogue.get("students_mentees")
    assert (first.numerator, first.denominator, first.target) == (
        "mentees.students_10_19", "contingent.students_10_19", 0.70)
    assert catalogue.settings.min_group == 5
    assert catalogue.settings.satisfaction_threshold == 8
    assert {i.numerator for i in catalogue.indicators} <= kpi.FIGURE_NAMES


def test_school_level_shares(catalogue: kpi.Catalogue) -> None:
    schools = kpis_by_level(catalogue, "organisation")
    s1, s2, s3 = (by_code(schools[f"demo/m1/s{n}"]) for n in (1, 2, 3))

    # 290 of 400 = 72.5 % ≥ 70 %
    assert (s1["students_mentees"].numerator, s1["students_mentees"].denominator) == (290, 400)
    assert s1["students_mentees"].value == 0.725
    assert s1["students_mentees"].percent == "72,5 %"
    assert s1["students_mentees"].met is True
    # 160 of 250 = 64 % < 70 %
    assert s2["students_mentees"].value == 0.64 and s2["students_mentees"].met is False
    # exactly on target counts as met: 7 of 10 young teachers = 70 %
    assert s1["young_teachers_mentees"].value == 0.7 and s1["young_teachers_mentees"].met is True
    # 12 of 150 = 8 % of students 15–19 mentor, 9 of 90 = 10 %
    assert s1["students_mentors"].percent == "8,0 %"
    assert s2["students_mentors"].percent == "10,0 %" and s2["students_mentors"].met is True

    # four young teachers and three pupils are groups too small to show
    for hidden in (s2["young_teachers_mentees"], s3["students_mentees"], s3["students_mentors"]):
        assert hidden.suppressed
        assert (hidden.numerator, hidden.denominator, hidden.value, hidden.met) == (
            None, None, None, None)
        assert hidden.percent == "скрыто: менее 5 чел."
        assert hidden.to_json()["numerator"] == "<5" and hidden.to_json()["denominator"] == "<5"

    # no young teachers at s3 at all: no share, nothing hidden
    empty = s3["young_teachers_mentees"]
    assert not empty.suppressed and empty.value is None and empty.percent == "—"
    # employers have no contingent of their own
    assert by_code(schools["demo/m1/e1"])["enterprises_mentors"].denominator == 0


def test_municipal_level_sums_numerators_and_denominators(catalogue: kpi.Catalogue) -> None:
    municipalities = kpis_by_level(catalogue, "municipality")
    assert sorted(municipalities) == ["demo/m1", "demo/m2"]
    m1 = by_code(municipalities["demo/m1"])

    # 290 + 160 + 2 over 400 + 250 + 3: the suppressed school still counts in the total
    students = m1["students_mentees"]
    assert (students.numerator, students.denominator) == (452, 653)
    assert students.value == 0.6922 and students.percent == "69,2 %" and students.met is False
    # not the mean of the school shares (72.5 % and 64 % would average 68.25 %)
    assert students.value != round((0.725 + 0.64) / 2, 4)

    mentors = m1["students_mentors"]
    assert (mentors.numerator, mentors.denominator, mentors.percent) == (22, 243, "9,1 %")
    young = m1["young_teachers_mentees"]
    assert (young.numerator, young.denominator, young.percent) == (10, 14, "71,4 %")
    assert young.met is True
    enterprises = m1["enterprises_mentors"]
    assert (enterprises.numerator, enterprises.denominator, enterprises.value) == (3, 20, 0.15)
    assert enterprises.met is True



def test_regional_level(catalogue: kpi.Catalogue) -> None:
    regions = kpis_by_level(catalogue, "region")
    assert list(regions) == ["demo"]
    region = by_code(regions["demo"])
    # 502 of 753 is exactly two thirds
    students = region["students_mentees"]
    assert (students.numerator, students.denominator) == (502, 753)
    assert students.value == 0.6667 and students.percent == "66,7 %" and students.met is False
    young = region["young_teachers_mentees"]
    assert (young.numerator, young.denominator, young.percent) == (16, 20, "80,0 %")
    enterprises = region["enterprises_mentors"]
    assert (enterprises.numerator, enterprises.denominator, enterprises.percent) == (4, 30, "13,3 %")
    # no survey yet anywhere: no share, not a zero
    assert region["participants_satisfied"].value is None


def test_percent_rounds_half_up_exactly() -> None:
    assert fmt.share(1, 16) == "6,3 %"  # 6.25: banker's rounding would give 6,2
    assert fmt.share(1, 8) == "12,5 %"
    assert fmt.share(1, 3) == "33,3 %"
    assert fmt.share(2, 3) == "66,7 %"
    assert fmt.share(0, 7) == "0,0 %"
    assert fmt.share(0, 0) == "—"
    assert fmt.share(1, 3, suppressed=True, min_group=5) == "скрыто: менее 5 чел."
    assert fmt.number(12345) == "12\u202f345" and fmt.number(2.25, 1) == "2,3"


def test_a_numerator_above_its_denominator_is_a_data_problem_not_a_share() -> None:
    indicator = kpi.load_catalogue().get("students_mentees")
    stale = kpi.share(indicator, {indicator.numerator: 27, indicator.denominator: 22})
    assert stale.value is None and stale.met is None  # never «122,7 %», never «нет»
    shown = stale.to_json()
    assert shown["display"] == "нет данных: контингент нужно обновить"
    assert shown["data_problem"] == "contingent_stale" and shown["met_display"] == "—"
    empty = kpi.share(indicator, {}).to_json()
    assert (empty["display"], empty["met_display"], empty["calculation"]) == ("—", "—", "—")


def test_region_adds_its_own_indicator_and_changes_settings(tmp_path: Path) -> None:
    overlay = tmp_path / "region.toml"
    overlay.write_text(
        '[settings]\nmin_group = 3\n\n'
        '[[indicator]]\ncode = "students_mentees"\ntitle = "Доля наставляемых 10–19 лет"\n'
        'numerator = "mentees.students_10_19"\ndenominator = "contingent.students_10_19"\n'
        'target = 0.5\n\n'
        '[[indicator]]\ncode = "teachers_mentees"\ntitle = "Доля педагогов-наставляемых"\n'
        'numerator = "mentees.young_teachers"\ndenominator = "contingent.teachers_total"\n',
        encoding="utf-8")
    catalogue = kpi.load_catalogue(overlay)
    assert [i.code for i in catalogue.indicators][-1] == "teachers_mentees"
    assert len(catalogue.indicators) == 7  # the default six and the region's own
    schools = kpis_by_level(catalogue, "organisation")
    # target lowered to 50 %: s2's 64 % now meets it
    assert by_code(schools["demo/m1/s2"])["students_mentees"].met is True
    # with groups of 3 allowed, s3's three pupils show: 2 of 3
    s3 = by_code(schools["demo/m1/s3"])["students_mentees"]
    assert not s3.suppressed and (s3.numerator, s3.denominator, s3.percent) == (2, 3, "66,7 %")
    # the new indicator, without a target, over all teachers: 7 of 40
    own = by_code(schools["demo/m1/s1"])["teachers_mentees"]
    assert (own.numerator, own.denominator, own.target, own.met) == (7, 40, None, None)


@pytest.mark.parametrize("overlay, field", [
    ({"indicator": [{"code": "x", "title": "Показатель", "numerator": "a",
                     "denominator": "contingent.pupils"}]}, "denominator"),
    ({"indicator": [{"code": "x", "title": "Показатель", "numerator": "a",
                     "denominator": "b", "target": 1.5}]}, "target"),
    ({"settings": {"min_group": 0}}, "min_group"),
])
def test_invalid_region_catalogue_is_refused_with_russian_message(
        overlay: dict[str, object], field: str) -> None:
    with pytest.raises(DomainError) as caught:
        kpi.load_catalogue().extended(overlay)
    assert caught.value.code == "INVALID_INDICATOR_CATALOGUE"
    assert caught.value.status == 422
    assert caught.value.message == "Каталог показателей заполнен с ошибками"
    assert any(field in d["field"] for d in caught.value.details)


def test_duplicate_codes_are_refused() -> None:
    item = {"code": "x", "title": "Показатель", "numerator": "a", "denominator": "b"}
    with pytest.raises(DomainError, match="дважды"):
        kpi.parse_catalogue({"indicator": [item, item]})


def mentee(category: str, birth_year: int, grade: int | None = None) -> MenteeRegistered:
    return MenteeRegistered(organisation_id=uuid4(), category=category, grade=grade,
                            birth_year=birth_year, minor=birth_year > 2007)


def mentor(category: str, birth_year: int) -> MentorRegistered:
    return MentorRegistered(organisation_id=uuid4(), category=category, birth_year=birth_year)


def test_which_counts_a_registered_person_adds_to() -> None:
    year = "2025/2026"  # ages are those reached in 2025
    assert kpi.mentee_figures(mentee("student", 2013, 7), year) == ("mentees.students_10_19",)
    assert kpi.mentee_figures(mentee("student", 2015, 4), year) == ("mentees.students_10_19",)
    assert kpi.mentee_figures(mentee("student", 2016, 3), year) == ()  # 9 years old
    assert kpi.mentee_figures(mentee("college_student", 2006), year) == ("mentees.students_10_19",)
    assert kpi.mentee_figures(mentee("college_student", 2005), year) == ()  # 20
    assert kpi.mentee_figures(mentee("young_teacher", 1995), year) == ("mentees.young_teachers",)
    assert kpi.mentee_figures(mentee("young_teacher", 1990), year) == ()  # 35
    assert kpi.mentor_figures(mentor("student", 2010), year) == ("mentors.students_15_19",)
    assert kpi.mentor_figures(mentor("student", 2011), year) == ()  # 14
    assert kpi.mentor_figures(mentor("university_student", 2006), year) == ()
    assert kpi.mentor_figures(mentor("teacher", 1980), year) == ()


# --- property: roll-ups are sums of their parts ---------------------------------------------

NAMES = ["mentees.students_10_19", "contingent.students_10_19"]
paths = st.builds(
    lambda m, o: f"r/m{m}" + (f"/o{o}" if o is not None else ""),
    st.integers(0, 3), st.none() | st.integers(0, 5))
figure_tables = st.dictionaries(
    st.one_of(st.just("r"), paths),
    st.fixed_dictionaries({name: st.integers(0, 40) for name in NAMES}),
    max_size=25)


@given(figure_tables, st.integers(1, 8))
def test_rolled_up_figures_are_the_sums_of_their_children(
        figures: dict[str, dict[str, int]], min_group: int) -> None:
    totals, levels = rolled_up(figures, {})
    municipal = {scope: t for scope, t in totals.items() if levels[scope] == "municipality"}
    for unit, rolled in municipal.items():
        children = [v for p, v in figures.items() if p == unit or p.startswith(unit + "/")]
        for name in NAMES:
            assert rolled.get(name, 0) == sum(child[name] for child in children)
    if any(any(f.values()) for f in figures.values()):
        for name in NAMES:
            # the region is its own figures plus its municipalities' totals
            assert totals["r"].get(name, 0) == figures.get("r", {}).get(name, 0) + sum(
                rolled.get(name, 0) for rolled in municipal.values())

    indicator = kpi.Indicator(code="x", title="Показатель", numerator=NAMES[0],
                              denominator=NAMES[1], target=0.7)
    for rolled in municipal.values():
        result = kpi.share(indicator, {m: int(v) for m, v in rolled.items()}, min_group)
        denominator = int(rolled.get(NAMES[1], 0))
        assert result.suppressed == (0 < denominator < min_group)
        if not result.suppressed:
            assert (result.numerator, result.denominator) == (rolled.get(NAMES[0], 0), denominator)
