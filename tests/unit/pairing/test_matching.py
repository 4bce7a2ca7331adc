"""Matching core: hard rules, explainable scores, optimality, stability, groups, reasons."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from services.pairing.matching import (
    CATEGORIES,
    DEFAULT_FORMS,
    DEFAULT_WEIGHTS,
    EXCLUSION_REASONS,
    UNMATCHED_REASONS,
    Exclusion,
    Form,
    MenteeProfile,
    MentorProfile,
    Score,
    Weights,
    build_candidates,
    check_hard_rules,
    greedy_baseline,
    score_pair,
    stable_matching,
    suggest,
)
from services.pairing.matching.candidates import NO_CUT, CandidateGraph
from services.pairing.matching.domain import NO_CAPACITY
from services.pairing.matching.pricing import Pricer, dual_potentials, pairs_first_offset
from services.pairing.matching.solvers import available_backends, max_weight_b_matching

BACKENDS = available_backends()  # scipy always; ortools too when installed
TOPICS = ["math", "physics", "art", "code", "sport"]
SLOTS = ["mon", "tue", "wed", "thu"]
IDS = [f"p{k}" for k in range(9)]  # shared pool: the same person may appear on both sides
MIXED = Form("mixed", frozenset({"student", "teacher"}), frozenset({"student", "teacher"}))
FORMS = [DEFAULT_FORMS["student-student"], DEFAULT_FORMS["teacher-student"], MIXED]


def mentee(id: str = "e1", category: str = "student", **kw: object) -> MenteeProfile:
    base: dict[str, object] = dict(organisation="s1", municipality="m1", age=12, grade=6,
                                   requests=frozenset({"math"}), availability=frozenset({"mon"}),
                                   consent=True)
    base.update(kw)
    return MenteeProfile(id, category, **base)  # type: ignore[arg-type]


def mentor(id: str = "t1", category: str = "student", **kw: object) -> MentorProfile:
    base: dict[str, object] = dict(organisation="s1", municipality="m1", age=15, grade=9,
                                   competencies=frozenset({"math"}),
                                   availability=frozenset({"mon"}), capacity=1, load=0,
                                   consent=True)
    base.update(kw)
    return MentorProfile(id, category, **base)  # type: ignore[arg-type]


# --- strategies -------------------------------------------------------------------------

maybe_age = st.one_of(st.none(), st.integers(7, 40))
maybe_grade = st.one_of(st.none(), st.integers(1, 11))
consent = st.sampled_from([True, True, True, True, False])
small_set = lambda items: st.frozensets(st.sampled_from(items), max_size=len(items))  # noqa: E731


@st.composite
def instances(draw: st.DrawFn, max_mentees: int = 6, max_mentors: int = 4
              ) -> tuple[list[MenteeProfile], list[MentorProfile], Form]:
    mentee_ids = draw(st.lists(st.sampled_from(IDS), max_size=max_mentees, unique=True))
    mentor_ids = draw(st.lists(st.sampled_from(IDS), max_size=max_mentors, unique=True))
    people = [MenteeProfile(
        i, draw(st.sampled_from(["student", "student", "teacher"])),
        draw(st.sampled_from(["s1", "s2"])), draw(st.sampled_from(["m1", "m2"])),
        draw(maybe_age), draw(maybe_grade), draw(small_set(TOPICS)), draw(small_set(SLOTS)),
        draw(consent),
        tuple(draw(st.lists(st.sampled_from(mentor_ids), max_size=3))) if mentor_ids else (),
        draw(small_set(mentor_ids)) if mentor_ids else frozenset(),
        draw(st.one_of(st.none(), st.sampled_from(mentor_ids))) if mentor_ids else None,
    ) for i in mentee_ids]
    pool = [MentorProfile(
        j, draw(st.sampled_from(["student", "student", "teacher", "employer"])),
        draw(st.sampled_from(["s1", "s2"])), draw(st.sampled_from(["m1", "m2"])),
        draw(maybe_age), draw(maybe_grade), draw(small_set(TOPICS)), draw(small_set(SLOTS)),
        draw(st.integers(0, 3)), draw(st.integers(0, 2)), draw(consent),
        tuple(draw(st.lists(st.sampled_from(mentee_ids), max_size=3))) if mentee_ids else (),
    ) for j in mentor_ids]
    return people, pool, draw(st.sampled_from(FORMS))


weight = st.floats(-20, 40, allow_nan=False).map(lambda x: round(x, 4))
weights_strategy = st.one_of(st.just(DEFAULT_WEIGHTS), st.builds(
    Weights, requests_vs_competencies=weight, same_organisation=weight,
    same_municipality=weight, age_gap=weight, grade_gap=weight, availability_overlap=weight,
    mentee_prefers=weight, mentor_prefers=weight, mutual_choice=weight))
objectives = st.sampled_from(["max_score", "max_pairs"])
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
LEAN = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- reference implementations ----------------------------------------------------------

def brute_force(people: list[MenteeProfile], pool: list[MentorProfile], form: Form,
                weights: Weights, objective: str,
                allowed: set[tuple[str, str]] | None = None) -> tuple[int, int]:
    """(pairs, total milli) of the best assignment, by enumerating all of them."""
    options = []
    for e in people:
        row = [None]
        for m in pool:
            s = score_pair(e, m, form, weights)
            if not isinstance(s, Score) or (allowed is not None and (e.id, m.id) not in allowed):
                continue
            if objective == "max_pairs" or s.total_milli > 0:
                row.append((m.id, s.total_milli))
        options.append(row)
    free = {m.id: m.capacity - m.load for m in pool}
    best_key: tuple[int, ...] | None = None
    best = (0, 0)
    for combo in itertools.product(*options):
        used = Counter(c[0] for c in combo if c is not None)
        if any(n > free[j] for j, n in used.items()):
            continue
        pairs, total = sum(used.values()), sum(c[1] for c in combo if c is not None)
        key = (pairs, total) if objective == "max_pairs" else (total,)
        if best_key is None or key > best_key:
            best_key, best = key, (pairs, total)
    return best


def assert_valid(people: list[MenteeProfile], pool: list[MentorProfile], form: Form,
                 weights: Weights, assignments: list, unmatched: list) -> None:
    """Invariants every result must satisfy, whatever produced it."""
    by_id = {m.id: m for m in pool}
    people_by_id = {e.id: e for e in people}
    assigned = [a.mentee_id for a in assignments]
    assert len(assigned) == len(set(assigned)), "a mentee was assigned twice"
    missing = [u.mentee_id for u in unmatched]
    assert sorted(assigned + missing) == sorted(e.id for e in people)
    for a in assignments:
        e, m = people_by_id[a.mentee_id], by_id[a.mentor_id]
        assert check_hard_rules(e, m, form) is None
        assert e.consent and m.consent
        assert e.category in form.mentee_categories and m.category in form.mentor_categories
        assert m.id not in e.relatives and m.id != e.class_teacher and m.id != e.id
        if e.category == m.category == "student":
            assert (m.grade > e.grade) if (e.grade is not None and m.grade is not None) \
                else (m.age is not None and e.age is not None and m.age > e.age)
        assert a.score == score_pair(e, m, form, weights)
    for mentor_id, n in Counter(a.mentor_id for a in assignments).items():
        assert n <= by_id[mentor_id].capacity - by_id[mentor_id].load
    for u in unmatched:
        assert u.code and u.reason_ru
        assert u.code in UNMATCHED_REASONS or u.code in EXCLUSION_REASONS


# --- domain and configuration -----------------------------------------------------------

def test_default_forms_cover_the_required_forms() -> None:
    expected = {
        "student-student": ({"student"}, {"student"}),
        "teacher-teacher": ({"teacher"}, {"teacher", "young_teacher"}),
        "college-student": ({"college_student", "university_student"}, {"student"}),
        "employer-student": ({"employer"}, {"student"}),
        "teacher-student": ({"teacher"}, {"student"}),
        "student-teacher": ({"student"}, {"teacher", "young_teacher"}),
        "college-college": ({"college_student", "university_student"},
                            {"college_student", "university_student"}),
        "employer-college": ({"employer"}, {"college_student", "university_student"}),
        "experienced-young-teacher": ({"teacher"}, {"young_teacher"}),
        "teacher-peer": ({"teacher"}, {"teacher"}),
    }
    for code, (mentors, mentees) in expected.items():
        form = DEFAULT_FORMS[code]
        assert (form.mentor_categories, form.mentee_categories) == (mentors, mentees)
        assert form.title_ru
    assert {"parent", "partner", "graduate"} <= CATEGORIES


def test_profiles_validate_their_input() -> None:
    with pytest.raises(ValueError):
        mentee(category="pupil")
    with pytest.raises(TypeError):
        mentee(requests="math")
    with pytest.raises(ValueError):
        mentor(capacity=-1)
    with pytest.raises(ValueError):
        Weights(age_gap_ideal=(5, 1))
    with pytest.raises(ValueError):
        Weights(mutual_choice=float("nan"))
    assert mentee(requests=["math", "math"]).requests == frozenset({"math"})
    with pytest.raises(ValueError):
        suggest([mentee(), mentee()], [mentor()], MIXED)
    with pytest.raises(ValueError):
        suggest([mentee()], [mentor()], MIXED, objective="fastest")  # type: ignore[arg-type]


# --- hard rules -------------------------------------------------------------------------

@pytest.mark.parametrize(("e", "m", "code"), [
    (mentee(consent=False), mentor(), "NO_CONSENT"),
    (mentee(), mentor(consent=False), "NO_CONSENT"),
    (mentee(category="teacher"), mentor(), "CATEGORY_NOT_ALLOWED"),
    (mentee(), mentor(category="employer"), "CATEGORY_NOT_ALLOWED"),
    (mentee(), mentor(capacity=2, load=2), "NO_CAPACITY"),
    (mentee(relatives=frozenset({"t1"})), mentor(), "CONFLICT_OF_INTEREST"),
    (mentee(class_teacher="t1"), mentor(), "CONFLICT_OF_INTEREST"),
    (mentee(grade=9), mentor(grade=9, age=20), "MENTOR_NOT_SENIOR"),  # grade decides
    (mentee(grade=None, age=14), mentor(grade=None, age=14), "MENTOR_NOT_SENIOR"),
    (mentee(grade=None, age=None), mentor(), "SENIORITY_UNKNOWN"),
    (mentee(id="p1"), mentor(id="p1"), "SAME_PERSON"),
])
def test_each_hard_rule_excludes_with_code_and_russian_reason(
        e: MenteeProfile, m: MentorProfile, code: str) -> None:
    result = score_pair(e, m, DEFAULT_FORMS["student-student"])
    assert isinstance(result, Exclusion)
    assert result.code == code
    assert result.reason_ru.startswith(EXCLUSION_REASONS[code])
    assert any("а" <= ch <= "я" for ch in result.reason_ru.lower())
    assert not re.search(r"[a-z]{3,}", result.reason_ru)  # no code («teacher») among the words


def test_seniority_rule_applies_to_pupils_only() -> None:
    assert isinstance(score_pair(mentee(grade=9), mentor(grade=10, age=10),
                                 DEFAULT_FORMS["student-student"]), Score)
    # A pupil mentoring a teacher (reverse mentorship) need not be older.
    assert isinstance(score_pair(mentee(category="teacher", age=40, grade=None), mentor(),
                                 DEFAULT_FORMS["student-teacher"]), Score)


@given(instances(), weights_strategy)
@SETTINGS
def test_explanation_criteria_sum_to_total(case: tuple, weights: Weights) -> None:
    people, pool, form = case
    for e, m in itertools.product(people, pool):
        s = score_pair(e, m, form, weights)
        if isinstance(s, Score):
            assert sum(round(c.points * 1000) for c in s.criteria) == round(s.total * 1000)
            assert s.total_milli == round(s.total * 1000)
            assert all(c.points != 0 and c.label_ru for c in s.criteria)
            assert len({c.code for c in s.criteria}) == len(s.criteria)
        else:
            assert s == check_hard_rules(e, m, form)


def test_explanation_names_the_reasons() -> None:
    e = mentee(requests=frozenset({"math", "art"}), preferred=("t1",))
    s = score_pair(e, mentor(preferred=("e1",)), DEFAULT_FORMS["student-student"])
    assert isinstance(s, Score)
    codes = {c.code: c.points for c in s.criteria}
    assert codes == {"REQUESTS_MATCH": 15.0, "SAME_ORGANISATION": 10.0,
                     "SAME_MUNICIPALITY": 5.0, "AGE_GAP": 5.0, "GRADE_GAP": 5.0,
                     "AVAILABILITY_OVERLAP": 10.0, "MENTEE_PREFERS": 15.0,
                     "MENTOR_PREFERS": 15.0, "MUTUAL_CHOICE": 100.0}
    assert s.total == 180.0


@given(instances(max_mentees=7, max_mentors=6), weights_strategy)
@SETTINGS
def test_vectorised_scores_equal_score_pair(case: tuple, weights: Weights) -> None:
    people, pool, form = case
    for positive_only in (False, True):
        graph = build_candidates(people, pool, form, weights, positive_only=positive_only)
        assert graph.exact
        edges = {(people[i].id, pool[j].id): s for i, j, s in
                 zip(graph.rows.tolist(), graph.cols.tolist(), graph.milli.tolist(),
                     strict=True)}
        expected = {}
        for i, e in enumerate(people):
            admissible = free = 0
            for m in pool:
                s = score_pair(e, m, form, weights)
                rule = check_hard_rules(e, m, form)
                admissible += rule is None or rule.code == NO_CAPACITY
                if isinstance(s, Score):
                    free += 1
                    if not positive_only or s.total_milli > 0:
                        expected[(e.id, m.id)] = s.total_milli
            if i in graph.mentee_exclusions:
                assert graph.admissible[i] == -1
            else:
                assert (graph.admissible[i], graph.admissible_free[i]) == (admissible, free)
        assert edges == expected
        if graph.encoding is not None:  # the per-pair scorer pricing uses agrees too
            r, c = (a.ravel() for a in np.meshgrid(np.arange(len(graph.row_ids)),
                                                   np.arange(len(graph.col_ids)), indexing="ij"))
            milli, admissible = graph.encoding.pair_scores(r, c)
            for k in range(len(r)):
                e, m = people[graph.row_ids[r[k]]], pool[graph.col_ids[c[k]]]
                rule = check_hard_rules(e, m, form)
                assert admissible[k] == (rule is None or rule.code == NO_CAPACITY)
                if admissible[k]:
                    s = score_pair(e, m.__class__(**{**vars(m), "load": 0, "capacity": 1}),
                                   form, weights)
                    assert isinstance(s, Score) and milli[k] == s.total_milli


# --- optimality -------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("objective", ["max_score", "max_pairs"])
@given(case=instances(), weights=weights_strategy)
@SETTINGS
def test_suggest_is_optimal_against_brute_force(case: tuple, weights: Weights, objective: str,
                                                backend: str) -> None:
    people, pool, form = case
    result = suggest(people, pool, form, weights, objective, backend=backend)  # type: ignore
    assert result.exact
    pairs, total = brute_force(people, pool, form, weights, objective)
    got = sum(a.score.total_milli for a in result.assignments)
    assert round(result.total_score * 1000) == got
    assert got == total
    if objective == "max_pairs":
        assert len(result.assignments) == pairs
    else:
        assert all(a.score.total_milli > 0 for a in result.assignments)  # never forced
    assert_valid(people, pool, form, weights, result.assignments, result.unmatched)


@given(case=instances(max_mentees=6, max_mentors=5), objective=objectives,
       top_l=st.sampled_from([0, 1, 2, 10]))
@SETTINGS
def test_top_k_path_is_optimal_over_its_candidate_graph(case: tuple, objective: str,
                                                        top_l: int) -> None:
    people, pool, form = case
    kwargs = dict(top_k=2, top_l=top_l, exact_pair_limit=0)
    result = suggest(people, pool, form, DEFAULT_WEIGHTS, objective, certify=False,  # type: ignore
                     **kwargs)
    graph = build_candidates(people, pool, form, DEFAULT_WEIGHTS,
                             positive_only=objective == "max_score", **kwargs)
    allowed = {(people[i].id, pool[j].id) for i, j in zip(graph.rows, graph.cols, strict=True)}
    eligible = [m for m in pool if m.consent and m.category in form.mentor_categories]
    active = [e for e in people if e.consent and e.category in form.mentee_categories]
    assert result.exact == result.certified == (len(eligible) <= 2 or not active)
    if not graph.exact:
        _assert_top_k_cuts(people, pool, form, DEFAULT_WEIGHTS, graph, objective == "max_score",
                           top_k=2, top_l=top_l)
    _, total = brute_force(people, pool, form, DEFAULT_WEIGHTS, objective, allowed)
    assert sum(a.score.total_milli for a in result.assignments) == total
    assert_valid(people, pool, form, DEFAULT_WEIGHTS, result.assignments, result.unmatched)


def _assert_top_k_cuts(people: list[MenteeProfile], pool: list[MentorProfile], form: Form,
                       weights: Weights, graph: CandidateGraph, positive_only: bool, top_k: int,
                       top_l: int) -> None:
    """Every edge is among its mentee's K best, its mentor's L best or named; every left-out
    pair that could be an edge scores at most its row's and its column's cut, and a cut is
    the score of a kept pair (NO_CUT when nothing was left out)."""
    pairs = zip(graph.rows.tolist(), graph.cols.tolist(), strict=True)
    edges = dict(zip(pairs, graph.milli.tolist(), strict=True))
    chosen = {}
    for i, e in enumerate(people):
        for j, m in enumerate(pool):
            s = score_pair(e, m, form, weights)
            if isinstance(s, Score) and (not positive_only or s.total_milli > 0):
                chosen[(i, j)] = s.total_milli
    assert set(edges) <= set(chosen) and all(edges[k] == chosen[k] for k in edges)
    assert graph.row_cut is not None and (graph.col_cut is None) == (top_l == 0)
    row_of = {int(i): k for k, i in enumerate(graph.row_ids)}
    col_of = {int(j): k for k, j in enumerate(graph.col_ids)}
    for (i, j), score in chosen.items():
        in_row = sorted((s for (a, _), s in chosen.items() if a == i), reverse=True)
        in_col = sorted((s for (_, b), s in chosen.items() if b == j), reverse=True)
        named = pool[j].id in people[i].preferred or people[i].id in pool[j].preferred
        if (i, j) in edges:  # no more than K (L) pairs of the row (column) score higher
            assert named or in_row.index(score) < top_k or in_col.index(score) < top_l
        else:  # left out: bounded by both cuts, and never a named pair
            assert not named
            assert score <= graph.row_cut[row_of[i]]
            assert graph.col_cut is None or score <= graph.col_cut[col_of[j]]
    for cuts, ids, line in ((graph.row_cut, graph.row_ids, 0), (graph.col_cut, graph.col_ids, 1)):
        for k, cut in enumerate([] if cuts is None else cuts.tolist()):
            kept = [s for pair, s in edges.items() if pair[line] == ids[k]]
            if cut == NO_CUT:  # nothing of this row (column) was left out
                assert all(pair in edges for pair in chosen if pair[line] == ids[k])
            else:
                assert cut in kept


def _dense_optimum(people: list[MenteeProfile], pool: list[MentorProfile], form: Form) -> int:
    """max_score optimum via linear_sum_assignment with mentor places expanded to slots."""
    slots = [j for j, m in enumerate(pool) for _ in range(max(0, m.capacity - m.load))]
    cost = np.zeros((len(people), len(slots) + len(people)))
    for i, e in enumerate(people):
        for k, j in enumerate(slots):
            s = score_pair(e, pool[j], form)
            if isinstance(s, Score) and s.total_milli > 0:
                cost[i, k] = -s.total_milli
    r, c = linear_sum_assignment(cost)
    return -int(cost[r, c].sum())


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_agree_with_dense_solver_on_a_contested_instance(backend: str) -> None:
    rng = np.random.default_rng(7)
    people = [mentee(f"e{i}", organisation=f"s{rng.integers(3)}", grade=int(rng.integers(1, 8)),
                     age=None, requests=frozenset(rng.choice(TOPICS, 2, replace=False)),
                     availability=frozenset(rng.choice(SLOTS, 2, replace=False)))
              for i in range(60)]
    pool = [mentor(f"t{j}", organisation=f"s{rng.integers(3)}", grade=int(rng.integers(5, 12)),
                   competencies=frozenset(rng.choice(TOPICS, 2, replace=False)),
                   availability=frozenset(rng.choice(SLOTS, 3, replace=False)),
                   capacity=int(rng.integers(1, 3)))
            for j in range(20)]
    form = DEFAULT_FORMS["student-student"]
    result = suggest(people, pool, form, backend=backend)  # type: ignore[arg-type]
    assert round(result.total_score * 1000) == _dense_optimum(people, pool, form)
    assert_valid(people, pool, form, DEFAULT_WEIGHTS, result.assignments, result.unmatched)
    greedy = greedy_baseline(people, pool, form)
    assert greedy.total_score <= result.total_score


def test_max_pairs_trades_score_for_coverage() -> None:
    # e1 fits t1 well (65) and t2 poorly (5); e2 can only take t1 (50).  The best total is
    # e1–t1 alone (65 > 5 + 50); the most pairs is e1–t2 plus e2–t1.
    e1 = mentee("e1", requests=frozenset({"math", "art"}))
    e2 = mentee("e2", requests=frozenset({"code"}), organisation="s9", municipality="m9",
                relatives=frozenset({"t2"}))
    t1 = mentor("t1", competencies=frozenset({"math", "art", "code"}))
    t2 = mentor("t2", competencies=frozenset(), availability=frozenset(), organisation="s9",
                municipality="m9", age=None, grade=7)
    form = DEFAULT_FORMS["student-student"]
    by_score = suggest([e1, e2], [t1, t2], form, objective="max_score")
    assert [(a.mentee_id, a.mentor_id) for a in by_score.assignments] == [("e1", "t1")]
    assert by_score.total_score == 65.0
    by_pairs = suggest([e1, e2], [t1, t2], form, objective="max_pairs")
    assert {(a.mentee_id, a.mentor_id) for a in by_pairs.assignments} == {("e1", "t2"),
                                                                          ("e2", "t1")}
    assert by_pairs.total_score == 55.0
    greedy = greedy_baseline([e1, e2], [t1, t2], form, objective="max_pairs")
    assert len(greedy.assignments) == 1  # highest score first takes e1–t1 and gets stuck


def test_mutual_choice_beats_anything_else() -> None:
    chooser = mentee("e1", requests=frozenset({"art"}), availability=frozenset({"sun"}),
                     organisation="s7", municipality="m7", preferred=("t1",))
    perfect = mentee("e2", requests=frozenset({"math"}))
    t1 = mentor("t1", preferred=("e1",))
    form = DEFAULT_FORMS["student-student"]
    for objective in ("max_score", "max_pairs"):
        result = suggest([perfect, chooser], [t1], form, objective=objective)  # type: ignore
        assert [(a.mentee_id, a.mentor_id) for a in result.assignments] == [("e1", "t1")]
        assert "MUTUAL_CHOICE" in {c.code for c in result.assignments[0].score.criteria}
        assert [u.code for u in result.unmatched] == ["NOT_SELECTED"]


@given(instances(max_mentees=7, max_mentors=6))
@SETTINGS
def test_default_weights_rank_every_mutual_pair_above_every_other_pair(case: tuple) -> None:
    people, pool, form = case
    mutual, other = [], []
    for e, m in itertools.product(people, pool):
        s = score_pair(e, m, form)
        if isinstance(s, Score):
            is_mutual = m.id in e.preferred and e.id in m.preferred
            (mutual if is_mutual else other).append(s.total)
    if mutual and other:
        assert min(mutual) > max(other)


# --- groups and reasons -----------------------------------------------------------------

def test_mentor_with_capacity_three_forms_a_group() -> None:
    people = [mentee(f"e{k}") for k in range(4)]
    pool = [mentor("t1", capacity=3), mentor("t2", capacity=1, load=1)]
    result = suggest(people, pool, DEFAULT_FORMS["student-student"])
    assert len(result.groups["t1"]) == 3
    assert set(result.groups["t1"]) <= {e.id for e in people}
    assert [u.code for u in result.unmatched] == ["NOT_SELECTED"]
    single = suggest(people[:1], [mentor("t3")], DEFAULT_FORMS["student-student"])
    assert single.groups == {}  # capacity 1 is a pair, not a group


def test_every_kind_of_unmatched_has_its_own_reason() -> None:
    form = DEFAULT_FORMS["student-student"]
    people = [
        mentee("no-consent", consent=False),
        mentee("wrong-form", category="teacher"),
        mentee("conflict", relatives=frozenset({"t1"}), class_teacher="t3"),
        mentee("junior-only", grade=11),  # every mentor is in a lower grade
        mentee("full", relatives=frozenset({"t1"})),  # only t3 is admissible, and t3 is full
        mentee("a"),
        mentee("b"),  # a and b compete for t1's single place
    ]
    pool = [mentor("t1"), mentor("t2", consent=False), mentor("t3", capacity=1, load=1)]
    result = suggest(people, pool, form)
    reasons = {u.mentee_id: u.code for u in result.unmatched}
    winner = result.assignments[0].mentee_id
    assert [a.mentor_id for a in result.assignments] == ["t1"] and winner in {"a", "b"}
    assert reasons == {"no-consent": "NO_CONSENT", "wrong-form": "CATEGORY_NOT_ALLOWED",
                       "conflict": "NO_ADMISSIBLE_MENTOR", "junior-only": "NO_ADMISSIBLE_MENTOR",
                       "full": "ALL_MENTORS_FULL", ({"a", "b"} - {winner}).pop(): "NOT_SELECTED"}
    for u in result.unmatched:
        assert u.reason_ru == (UNMATCHED_REASONS.get(u.code) or u.reason_ru)
        assert any("а" <= ch <= "я" for ch in u.reason_ru.lower())

    zero = Weights(requests_vs_competencies=0, same_organisation=0, same_municipality=0,
                   age_gap=0, grade_gap=0, availability_overlap=0)
    result = suggest([mentee("e1")], [mentor("t1")], form, zero, "max_score")
    assert [u.code for u in result.unmatched] == ["NO_POSITIVE_SCORE"]
    assert len(suggest([mentee("e1")], [mentor("t1")], form, zero, "max_pairs").assignments) == 1


@pytest.mark.parametrize("solver", ["suggest", "greedy", "stable"])
@given(case=instances(max_mentees=8, max_mentors=6), weights=weights_strategy,
       objective=objectives, top_k=st.integers(1, 6))
@SETTINGS
def test_results_never_break_hard_rules_or_capacities(solver: str, case: tuple,
                                                     weights: Weights, objective: str,
                                                     top_k: int) -> None:
    people, pool, form = case
    limit = 0 if top_k < 6 else 10**6  # exercise both the top-K and the exact path
    if solver == "suggest":
        result = suggest(people, pool, form, weights, objective,  # type: ignore[arg-type]
                         top_k=top_k, exact_pair_limit=limit)
    elif solver == "greedy":
        result = greedy_baseline(people, pool, form, weights, objective,  # type: ignore
                                 top_k=top_k, exact_pair_limit=limit)
    else:
        result = stable_matching(people, pool, form, weights, top_k=top_k,
                                 exact_pair_limit=limit)
    assert_valid(people, pool, form, weights, result.assignments, result.unmatched)
    assert result.total_score == sum(a.score.total_milli for a in result.assignments) / 1000
    for mentor_id, members in result.groups.items():
        assert [a.mentee_id for a in result.assignments if a.mentor_id == mentor_id] == \
            list(members)
        assert next(m for m in pool if m.id == mentor_id).capacity > 1


# --- stable matching --------------------------------------------------------------------

def _rank_key(named: tuple[str, ...], other_id: str, milli: int) -> tuple:
    rank = named.index(other_id) if other_id in named else len(named) + 10**6
    return (rank, -milli, other_id)


@given(case=instances(max_mentees=8, max_mentors=5), weights=weights_strategy)
@SETTINGS
def test_stable_matching_has_no_blocking_pair(case: tuple, weights: Weights) -> None:
    people, pool, form = case
    result = stable_matching(people, pool, form, weights)
    assert result.exact
    assert_valid(people, pool, form, weights, result.assignments, result.unmatched)
    partner = {a.mentee_id: a.mentor_id for a in result.assignments}
    held: dict[str, list[str]] = {}
    for a in result.assignments:
        held.setdefault(a.mentor_id, []).append(a.mentee_id)
    people_by_id = {e.id: e for e in people}
    scores = {(e.id, m.id): s.total_milli for e in people for m in pool
              if isinstance(s := score_pair(e, m, form, weights), Score)}
    for (e_id, m_id), milli in scores.items():
        e, m = people_by_id[e_id], next(x for x in pool if x.id == m_id)
        current = partner.get(e_id)
        if current == m_id:
            continue
        if current is not None and _rank_key(e.preferred, current, scores[(e_id, current)]) \
                < _rank_key(e.preferred, m_id, milli):
            continue  # the mentee prefers its own mentor
        mine = held.get(m_id, [])
        has_room = len(mine) < m.capacity - m.load
        prefers_e = any(_rank_key(m.preferred, e_id, milli)
                        < _rank_key(m.preferred, other, scores[(other, m_id)]) for other in mine)
        assert not (has_room or prefers_e), f"blocking pair {e_id}–{m_id}"


def test_stable_matching_respects_both_sides_choices() -> None:
    form = DEFAULT_FORMS["student-student"]
    e1 = mentee("e1", preferred=("t2", "t1"))
    e2 = mentee("e2", preferred=("t2", "t1"))
    t1 = mentor("t1", preferred=("e1", "e2"))
    t2 = mentor("t2", preferred=("e2", "e1"))
    result = stable_matching([e1, e2], [t1, t2], form)
    assert {(a.mentee_id, a.mentor_id) for a in result.assignments} == {("e1", "t1"),
                                                                       ("e2", "t2")}
    crowded = stable_matching([e1, e2, mentee("e3")], [t1], form)
    assert {u.mentee_id: u.code for u in crowded.unmatched} == {"e2": "REJECTED",
                                                               "e3": "REJECTED"}


# --- certified optimality (column generation) -------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@given(case=instances(max_mentees=6, max_mentors=5), weights=weights_strategy,
       objective=objectives, top_k=st.integers(1, 2))
@LEAN
def test_certified_top_k_path_equals_the_brute_force_optimum(
        case: tuple, weights: Weights, objective: str, top_k: int, backend: str) -> None:
    """With a deliberately tiny K, pricing must bring in every pair the optimum needs."""
    people, pool, form = case
    result = suggest(people, pool, form, weights, objective, top_k=top_k,  # type: ignore
                     exact_pair_limit=0, backend=backend)  # type: ignore[arg-type]
    assert result.certified and result.exact
    pairs, total = brute_force(people, pool, form, weights, objective)
    assert sum(a.score.total_milli for a in result.assignments) == total
    if objective == "max_pairs":
        assert len(result.assignments) == pairs
    else:
        assert all(a.score.total_milli > 0 for a in result.assignments)
    assert_valid(people, pool, form, weights, result.assignments, result.unmatched)


def _contested(n_mentees: int, n_mentors: int, seed: int
               ) -> tuple[list[MenteeProfile], list[MentorProfile]]:
    rng = np.random.default_rng(seed)
    people = [mentee(f"e{i}", organisation=f"s{rng.integers(3)}", grade=int(rng.integers(1, 8)),
                     age=None, requests=frozenset(rng.choice(TOPICS, 2, replace=False)),
                     availability=frozenset(rng.choice(SLOTS, 2, replace=False)),
                     preferred=(f"t{rng.integers(n_mentors)}",) if i % 7 == 0 else (),
                     relatives=frozenset({f"t{rng.integers(n_mentors)}"}) if i % 5 == 0
                     else frozenset())
              for i in range(n_mentees)]
    pool = [mentor(f"t{j}", organisation=f"s{rng.integers(3)}", grade=int(rng.integers(5, 12)),
                   competencies=frozenset(rng.choice(TOPICS, 2, replace=False)),
                   availability=frozenset(rng.choice(SLOTS, 3, replace=False)),
                   capacity=int(rng.integers(1, 4)), load=int(rng.integers(0, 2)),
                   preferred=(f"e{rng.integers(n_mentees)}",) if j % 4 == 0 else ())
            for j in range(n_mentors)]
    return people, pool


@pytest.mark.parametrize("backend", BACKENDS)
def test_certified_result_equals_the_dense_scipy_optimum(backend: str) -> None:
    people, pool = _contested(80, 25, seed=3)
    form = DEFAULT_FORMS["student-student"]
    top_k_only = suggest(people, pool, form, top_k=1, top_l=0, exact_pair_limit=0,
                         certify=False, backend=backend)  # type: ignore[arg-type]
    result = suggest(people, pool, form, top_k=1, top_l=0, exact_pair_limit=0,
                     backend=backend)  # type: ignore[arg-type]
    optimum = _dense_optimum(people, pool, form)
    assert round(top_k_only.total_score * 1000) < optimum  # K = 1 alone falls short ...
    assert round(result.total_score * 1000) == optimum  # ... pricing closes the gap
    assert result.certified and result.pricing_rounds >= 2 and result.priced_edges > 0
    for top_l in (1, 3):  # with each mentor's best mentees kept too: the same optimum
        also = suggest(people, pool, form, top_k=1, top_l=top_l, exact_pair_limit=0,
                       backend=backend)  # type: ignore[arg-type]
        assert also.certified and round(also.total_score * 1000) == optimum
    assert set(result.seconds) >= {"candidates", "solve", "duals", "pricing"}
    assert_valid(people, pool, form, DEFAULT_WEIGHTS, result.assignments, result.unmatched)
    for mentor_id, members in result.groups.items():  # groups still come with the result
        assert len(members) <= next(m for m in pool if m.id == mentor_id).capacity


@given(case=instances(max_mentees=7, max_mentors=6), weights=weights_strategy,
       objective=objectives, data=st.data())
@LEAN
def test_pricing_bound_never_underestimates_a_reduced_cost(case: tuple, weights: Weights,
                                                          objective: str,
                                                          data: st.DataObject) -> None:
    """The bound decides which pairs are scored exactly: it must never rule out a violator."""
    people, pool, form = case
    graph = build_candidates(people, pool, form, weights, positive_only=False)
    enc = graph.encoding
    if enc is None or not enc.free.any():
        return
    offset = pairs_first_offset(weights, enc.n_rows) if objective == "max_pairs" else 0
    assert offset is not None
    pricer = Pricer(enc, objective == "max_score", offset, workers=1)
    dual = st.integers(0, 2 * offset + 200_000)
    u = np.array(data.draw(st.lists(dual, min_size=enc.n_rows, max_size=enc.n_rows)))
    v = np.array(data.draw(st.lists(dual, min_size=enc.n_cols, max_size=enc.n_cols)))
    pricer.price(u, v, per_row=1)  # fills the dual columns of the bound
    bound = pricer._bound(np.arange(enc.n_rows), len(pricer.free_cols))
    for r in range(enc.n_rows):
        for f, c in enumerate(pricer.free_cols):
            milli, admissible = enc.pair_scores(np.array([r]), np.array([c]))
            if admissible[0]:
                assert bound[r, f] >= milli[0] + offset - u[r] - v[c] + 1
    rows, cols, milli, reduced = pricer.price(u, v, per_row=2)
    assert (reduced > 0).all() and np.bincount(rows).max(initial=0) <= 2
    assert (milli + offset - u[rows] - v[cols] == reduced).all()



@st.composite
def open_instances(draw: st.DrawFn) -> tuple[list[MenteeProfile], list[MentorProfile], Form]:
    """Like ``instances``, but everyone consents, fits the form and mentors have room, so most
    pairs are admissible and a top-K graph leaves many out."""
    people, pool, _ = draw(instances(max_mentees=8, max_mentors=7))
    people = [replace(e, consent=True, category="student", relatives=frozenset())
              for e in people]
    pool = [replace(m, consent=True, category=draw(st.sampled_from(["student", "teacher"])),
                    capacity=m.load + draw(st.integers(1, 2))) for m in pool]
    return people, pool, MIXED


@given(case=open_instances(), weights=weights_strategy, objective=objectives,
       top_k=st.integers(1, 2), top_l=st.integers(0, 2), slack=st.sampled_from([0, 5_000]),
       data=st.data())
@SETTINGS
def test_pricing_with_cuts_misses_no_violating_pair(case: tuple, weights: Weights,
                                                     objective: str, top_k: int, top_l: int,
                                                     slack: int, data: st.DataObject) -> None:
    """Pricing a top-K graph skips pairs by its cuts: it must still return every pair above
    −slack (room permitting), find a violator whenever one exists, and report exact figures."""
    people, pool, form = case
    positive_only = objective == "max_score"
    graph = build_candidates(people, pool, form, weights, positive_only=positive_only,
                             top_k=top_k, top_l=top_l, exact_pair_limit=0)
    enc = graph.encoding
    if graph.exact or enc is None or not enc.free.any():
        return
    offset = pairs_first_offset(weights, enc.n_rows) if objective == "max_pairs" else 0
    assert offset is not None
    kept = (np.searchsorted(graph.row_ids, graph.rows), np.searchsorted(graph.col_ids, graph.cols),
            graph.milli)
    pricer = Pricer(enc, positive_only, offset, 1, kept, graph.row_cut, graph.col_cut)
    # Duals around the scores (and around the offset for max_pairs), so some pairs violate.
    dual = st.integers(0, 80_000).map(lambda x: x + data.draw(st.sampled_from([0, offset])))
    u = np.array(data.draw(st.lists(dual, min_size=enc.n_rows, max_size=enc.n_rows)))
    v = np.array(data.draw(st.lists(dual, min_size=enc.n_cols, max_size=enc.n_cols)))
    expected = {}
    for r in range(enc.n_rows):
        for c in np.flatnonzero(enc.free).tolist():
            score = score_pair(people[graph.row_ids[r]], pool[graph.col_ids[c]], form, weights)
            if not isinstance(score, Score) or (positive_only and score.total_milli <= 0):
                continue
            if (reduced := score.total_milli + offset - u[r] - v[c]) > -slack:
                expected[(r, c)] = (score.total_milli, reduced)
    # Enough room per mentee: every pair above −slack comes back, with its exact figures.
    rows, cols, milli, reduced = pricer.price(u, v, per_row=enc.n_cols, slack=slack)
    got = {(r, c): (m, red) for r, c, m, red in zip(rows.tolist(), cols.tolist(),
                                                    milli.tolist(), reduced.tolist(), strict=True)}
    assert len(got) == len(rows) and got == expected
    # One pair per mentee: still a violator whenever one exists.
    rows, cols, milli, reduced = pricer.price(u, v, per_row=1, slack=slack)
    assert any(red > 0 for _, red in expected.values()) == bool((reduced > 0).any())
    assert np.bincount(rows).max(initial=0) <= 1
    assert all(expected[(r, c)] == (m, red) for r, c, m, red in zip(
        rows.tolist(), cols.tolist(), milli.tolist(), reduced.tolist(), strict=True))

@given(st.data())
@LEAN
def test_dual_potentials_certify_optimal_matchings_only(data: st.DataObject) -> None:
    n_rows, n_cols = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n_rows - 1), st.integers(0, n_cols - 1)),
                               min_size=1, max_size=15, unique=True))
    rows, cols = (np.array(x) for x in zip(*pairs, strict=True))
    values = np.array(data.draw(st.lists(st.integers(1, 50), min_size=len(pairs),
                                         max_size=len(pairs))))
    capacity = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n_cols,
                                           max_size=n_cols)))
    picked = max_weight_b_matching(rows, cols, values, capacity, "scipy")
    duals = dual_potentials(rows, cols, values, capacity, picked, n_rows)
    assert duals is not None
    u, v = duals
    assert (u >= 0).all() and (v >= 0).all() and (u[rows] + v[cols] >= values).all()
    assert u.sum() + (capacity * v).sum() == values[picked].sum()
    if len(picked) > 1:  # dropping the cheapest pair leaves a worse matching, with no dual
        worse = np.delete(picked, np.argmin(values[picked]))
        assert dual_potentials(rows, cols, values, capacity, worse, n_rows) is None
