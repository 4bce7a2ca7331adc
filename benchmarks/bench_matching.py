"""Benchmark of the matching core on a synthetic municipality.

    .venv/bin/python benchmarks/bench_matching.py [--mentees 20000 --mentors 10000 --seed 1]

Prints wall time, its split (candidates, solve, duals, pricing) and peak RSS of ``suggest``
(max_score, certified by column generation), and its total score against
  * the same call without the certificate (optimum over each mentee's top-K candidates only),
  * the greedy baseline (highest score first) on the same instance, and
  * an exact dense solver (scipy ``linear_sum_assignment`` over every admissible pair with
    mentor places expanded into slots).  The dense matrix is mentees × (slots + mentees), so
    when that does not fit in ``DENSE_CELL_LIMIT`` cells the comparison runs on a
    sub-instance (``SUB_MENTEES`` × ``SUB_MENTORS``, same generator and seed) where
    ``suggest`` is forced onto its top-K + pricing path.  On the full instance the
    certificate itself (a feasible LP dual of equal value) proves the result exact.
The last line is JSON for a bench suite; ``run_benchmark`` returns the same figures.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.pairing.matching import (  # noqa: E402
    Form,
    MenteeProfile,
    MentorProfile,
    Weights,
    build_candidates,
    greedy_baseline,
    suggest,
)

DENSE_CELL_LIMIT = 12_000_000  # ~100 MB of float64 for the dense cost matrix
SUB_MENTEES, SUB_MENTORS = 2_000, 1_000
TOPICS = [f"topic-{k}" for k in range(24)]
SLOTS = [f"{day}-{part}" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
         for part in ("am", "pm")]
# Everyone who may mentor a pupil, so the seniority rule (pupil mentors) is exercised too.
BENCH_FORM = Form("any-student", frozenset({"student", "college_student", "university_student",
                                            "teacher", "employer"}),
                  frozenset({"student"}), "Наставники всех категорий – ученик")


def synthetic_municipality(n_mentees: int, n_mentors: int, seed: int
                           ) -> tuple[list[MenteeProfile], list[MentorProfile]]:
    """Deterministic town: 60 schools, one municipality (plus 10 % guest mentors)."""
    rng = random.Random(seed)
    schools = [f"school-{k}" for k in range(max(1, min(60, n_mentees // 50)))]
    mentor_ids = [f"mentor-{k}" for k in range(n_mentors)]
    mentee_ids = [f"mentee-{k}" for k in range(n_mentees)]

    mentors = []
    teachers_by_school: dict[str, list[str]] = {}
    for mentor_id in mentor_ids:
        kind = rng.choices(["student", "college_student", "university_student", "teacher",
                            "employer"], [50, 10, 10, 20, 10])[0]
        school = rng.choice(schools)
        if kind == "student":
            grade: int | None = rng.randint(7, 11)
            age: int | None = grade + 6 + rng.randint(0, 1)
            capacity = rng.randint(1, 2)
        else:
            grade = None
            age = {"college_student": rng.randint(16, 20),
                   "university_student": rng.randint(18, 23),
                   "teacher": rng.randint(24, 63), "employer": rng.randint(25, 60)}[kind]
            capacity = rng.randint(2, 4)
        if kind == "teacher":
            teachers_by_school.setdefault(school, []).append(mentor_id)
        if rng.random() < 0.05:
            age = None
        load = capacity if rng.random() < 0.05 else rng.randint(0, capacity - 1) // 2
        preferred = tuple(rng.sample(mentee_ids, rng.randint(1, 3))) if (
            n_mentees >= 3 and rng.random() < 0.05) else ()
        mentors.append(MentorProfile(
            mentor_id, kind, school if kind in ("student", "teacher") else f"org-{kind}",
            "mun-1" if rng.random() < 0.9 else "mun-2", age, grade,
            frozenset(rng.sample(TOPICS, rng.randint(2, 5))),
            frozenset(rng.sample(SLOTS, rng.randint(3, 8))), capacity, load,
            rng.random() < 0.97, preferred))

    mentees = []
    for mentee_id in mentee_ids:
        grade = rng.choices(range(1, 12), [2, 3, 4, 6, 8, 9, 9, 8, 6, 4, 2])[0]
        age = grade + 6 + rng.randint(0, 1)
        school = rng.choice(schools)
        preferred = tuple(rng.sample(mentor_ids, rng.randint(1, 3))) if (
            n_mentors >= 3 and rng.random() < 0.15) else ()
        relatives = frozenset([rng.choice(mentor_ids)]) if (
            mentor_ids and rng.random() < 0.03) else frozenset()
        teachers = teachers_by_school.get(school, [])
        class_teacher = rng.choice(teachers) if teachers and rng.random() < 0.3 else None
        mentees.append(MenteeProfile(
            mentee_id, "student", school, "mun-1",
            None if rng.random() < 0.05 else age, None if rng.random() < 0.05 else grade,
            frozenset(rng.sample(TOPICS, rng.randint(1, 3))),
            frozenset(rng.sample(SLOTS, rng.randint(2, 6))), rng.random() < 0.97,
            preferred, relatives, class_teacher))
    # A few mutual choices, as real programmes have.
    for k in range(0, min(n_mentees, n_mentors), 97):
        mentee, mentor = mentees[k], mentors[k]
        mentees[k] = replace(mentee, preferred=(mentor.id,))
        mentors[k] = replace(mentor, preferred=(mentee.id,))
    return mentees, mentors


def dense_exact_total(mentees: list[MenteeProfile], mentors: list[MentorProfile], form: Form,
                      weights: Weights) -> float:
    """max_score optimum by linear_sum_assignment over the full, slot-expanded matrix."""
    graph = build_candidates(mentees, mentors, form, weights, positive_only=True,
                             top_k=len(mentors) + 1, exact_pair_limit=10**18)
    free = np.array([max(0, m.capacity - m.load) for m in mentors])
    slot_start = np.concatenate([[0], np.cumsum(free)])
    n, n_slots = len(mentees), int(slot_start[-1])
    # Column block [0, n_slots) are mentor places, [n_slots, n_slots + n) "stay unmatched".
    cost = np.zeros((n, n_slots + n))
    for j in np.unique(graph.cols):
        on_j = graph.cols == j
        for s in range(slot_start[j], slot_start[j + 1]):
            cost[graph.rows[on_j], s] = -graph.milli[on_j]
    rows, cols = linear_sum_assignment(cost)
    return -float(cost[rows, cols].sum()) / 1000


def run_benchmark(mentees: int = 20_000, mentors: int = 10_000, seed: int = 1,
                  repeat: bool = False) -> dict:
    weights = Weights()
    people, pool = synthetic_municipality(mentees, mentors, seed)

    started = time.perf_counter()
    best = suggest(people, pool, BENCH_FORM, weights, "max_score")
    match_seconds = time.perf_counter() - started

    warm_seconds = None
    if repeat:
        # Same call again: the first one also pays the process's cold allocator (page faults
        # on freshly mapped chunk buffers); a long-running service sees the warm figure.
        started = time.perf_counter()
        suggest(people, pool, BENCH_FORM, weights, "max_score")
        warm_seconds = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    top_k_only = suggest(people, pool, BENCH_FORM, weights, "max_score", certify=False)
    top_k_seconds = time.perf_counter() - started

    started = time.perf_counter()
    pairs = suggest(people, pool, BENCH_FORM, weights, "max_pairs")
    pairs_seconds = time.perf_counter() - started

    started = time.perf_counter()
    greedy = greedy_baseline(people, pool, BENCH_FORM, weights, "max_score")
    greedy_seconds = time.perf_counter() - started

    free_slots = sum(max(0, m.capacity - m.load) for m in pool)
    if mentees * (free_slots + mentees) <= DENSE_CELL_LIMIT:
        exact_scope = f"full instance {mentees}x{mentors}"
        ours_on_scope = best.total_score
        exact_total = dense_exact_total(people, pool, BENCH_FORM, weights)
    else:
        exact_scope = f"sub-instance {SUB_MENTEES}x{SUB_MENTORS} (top-K + pricing path forced)"
        sub_people, sub_pool = synthetic_municipality(SUB_MENTEES, SUB_MENTORS, seed)
        ours_on_scope = suggest(sub_people, sub_pool, BENCH_FORM, weights, "max_score",
                                exact_pair_limit=0).total_score
        exact_total = dense_exact_total(sub_people, sub_pool, BENCH_FORM, weights)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "mentees": mentees, "mentors": mentors, "seed": seed,
        "match_seconds": round(match_seconds, 3),
        "match_seconds_warm": warm_seconds,
        "match_split_seconds": {k: round(v, 3) for k, v in best.seconds.items()},
        "certified": best.certified, "pricing_rounds": best.pricing_rounds,
        "solves": best.solves, "priced_edges": best.priced_edges,
        "top_k_seconds": round(top_k_seconds, 3),
        "max_pairs_seconds": round(pairs_seconds, 3), "max_pairs_certified": pairs.certified,
        "greedy_seconds": round(greedy_seconds, 3),
        "candidate_edges": best.candidate_edges, "exact_graph": best.exact,
        "pairs_max_score": len(best.assignments), "pairs_max_pairs": len(pairs.assignments),
        "pairs_greedy": len(greedy.assignments),
        "total_score": best.total_score, "greedy_total_score": greedy.total_score,
        "top_k_total_score": top_k_only.total_score,
        "exact_scope": exact_scope, "exact_total_score": exact_total,
        "ours_total_on_exact_scope": ours_on_scope,
        # ≥ 1 means at least as good as the exact solver (up to float display of milli-points)
        "match_score_vs_exact": round(ours_on_scope / exact_total, 6) if exact_total else 1.0,
        "top_k_score_vs_certified": round(top_k_only.total_score / best.total_score, 6)
        if best.total_score else 1.0,
        "match_score_vs_greedy": round(best.total_score / greedy.total_score, 6)
        if greedy.total_score else 1.0,
        "peak_rss_mb": round(peak_rss_mb, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentees", type=int, default=20_000)
    parser.add_argument("--mentors", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", action="store_true", help="time a warm second call too")
    args = parser.parse_args(argv)
    f = run_benchmark(args.mentees, args.mentors, args.seed, args.repeat)
    split = ", ".join(f"{k} {v:.2f}" for k, v in f["match_split_seconds"].items())
    print(f"instance          {f['mentees']} mentees x {f['mentors']} mentors, seed {f['seed']}")
    print(f"suggest max_score {f['match_seconds']:.2f} s ({split}), {f['pairs_max_score']} pairs, "
          f"total {f['total_score']:.3f}"
          + (f"; warm repeat {f['match_seconds_warm']:.2f} s" if f["match_seconds_warm"] else ""))
    print(f"certificate       certified {f['certified']}: {f['pricing_rounds']} pricing passes over "
          f"all pairs, {f['solves']} solves, {f['priced_edges']} edges added by pricing, "
          f"{f['candidate_edges']} edges in the last graph")
    print(f"top-K only        {f['top_k_seconds']:.2f} s, total {f['top_k_total_score']:.3f} "
          f"(top-K / certified = {f['top_k_score_vs_certified']:.6f})")
    print(f"suggest max_pairs {f['max_pairs_seconds']:.2f} s, {f['pairs_max_pairs']} pairs "
          f"(certified {f['max_pairs_certified']})")
    print(f"greedy baseline   {f['greedy_seconds']:.2f} s, {f['pairs_greedy']} pairs,"
          f" total {f['greedy_total_score']:.3f} "
          f"(optimal / greedy = {f['match_score_vs_greedy']:.4f})")
    print(f"dense exact       {f['exact_scope']}: total {f['exact_total_score']:.3f},"
          f" ours {f['ours_total_on_exact_scope']:.3f} "
          f"(ours / exact = {f['match_score_vs_exact']:.6f})")
    print(f"peak RSS          {f['peak_rss_mb']:.1f} MB")
    print(json.dumps({k: f[k] for k in ("match_seconds", "match_score_vs_exact", "certified",
                                        "top_k_score_vs_certified", "match_score_vs_greedy",
                                        "peak_rss_mb")}))


if __name__ == "__main__":
    main()
