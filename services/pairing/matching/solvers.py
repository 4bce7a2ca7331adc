"""Optimal assignment under capacities, stable matching and the greedy baseline.

The optimum is a maximum-weight bipartite b-matching, solved exactly by one of two backends:
  * "ortools" — min-cost flow (``SimpleMinCostFlow``, C++): source → mentee (capacity 1) →
    mentor (cost −score) → sink (capacity = free places), with a zero-cost source → sink
    bypass so leaving a mentee out is always feasible.  ~1 s on 20k mentees × 40 candidates.
    Optional dependency (pin ``ortools==9.15.6755``);
  * "scipy" — minimum-cost full matching with scipy's sparse LAPJVsp
    (``min_weight_full_bipartite_matching``) where each mentor with f free places becomes
    min(f, candidate count) identical slot columns and each mentee gets a private "stay
    unmatched" column.  Same optimum, no extra dependency, but ~10× slower on large
    contested instances (about 8 s for 20k × 10k).  Costs are shifted to be >= 1 because the
    sparse solver treats a stored 0 as "no edge"; a constant per row does not change the
    optimum because every row is matched exactly once.
"auto" uses ortools when it is installed.

Costs are integers: scores in milli-points (see ``scoring``).

Objectives:
  * ``max_score`` — maximise the sum of scores; only pairs with a positive score are edges,
    so no pair is ever forced in.
  * ``max_pairs`` — maximise the number of pairs, then the score (lexicographic).  ortools:
    a max-flow fixes the largest pair count k, then a min-cost flow of exactly k units picks
    the best score.  scipy: every edge is worth BIG + score with
    BIG > n × (score spread) + |min score|; magnitudes are checked to stay below 2**53, where
    float64 costs are exact.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from .candidates import (
    DEFAULT_EXACT_PAIR_LIMIT,
    DEFAULT_TOP_K,
    DEFAULT_TOP_L,
    CandidateGraph,
    build_candidates,
)
from .column_generation import DEFAULT_MAX_ROUNDS, DEFAULT_PER_ROW, certified_matching
from .domain import (
    ALL_MENTORS_FULL,
    DEFAULT_WEIGHTS,
    NO_ADMISSIBLE_MENTOR,
    NO_POSITIVE_SCORE,
    NOT_SELECTED,
    REJECTED,
    UNMATCHED_REASONS,
    Assignment,
    Form,
    MenteeProfile,
    MentorProfile,
    Objective,
    Score,
    StableMatching,
    Suggestion,
    Unmatched,
    Weights,
)
from .pricing import pairs_first_offset
from .scoring import score_pair

_OBJECTIVES = ("max_score", "max_pairs")
Backend = Literal["auto", "ortools", "scipy"]


def _ortools_graph() -> Any:
    try:
        from ortools.graph.python import max_flow, min_cost_flow
    except ImportError:  # optional dependency: the scipy path gives the same optimum, slower
        return None
    return max_flow, min_cost_flow


def available_backends() -> tuple[str, ...]:
    return ("ortools", "scipy") if _ortools_graph() is not None else ("scipy",)


def max_weight_b_matching(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                          capacity: np.ndarray, backend: Backend = "auto",
                          pairs_first: bool = False) -> np.ndarray:
    """Indices of the edges in a maximum-total-value matching.

    ``rows``/``cols`` are compact 0-based node ids; each row is used at most once, column c
    at most ``capacity[c]`` times.  Edges must be unique (row, col) pairs with integer values
    of any sign.  Without ``pairs_first`` an edge is used only if it raises the total (so pass
    only edges that may be chosen); with it the matching has maximum cardinality first and
    maximum total among those.  ``backend``: "ortools" (flows, C++), "scipy" (sparse LAPJVsp
    on slot-expanded columns) or "auto" (ortools when installed).  Both are exact.
    """
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    rows, cols, values = (np.asarray(a, dtype=np.int64) for a in (rows, cols, values))
    capacity = np.asarray(capacity, dtype=np.int64)
    if backend not in ("auto", "ortools", "scipy"):
        raise ValueError(f"unknown backend {backend!r}")
    graph = _ortools_graph() if backend in ("auto", "ortools") else None
    if backend == "ortools" and graph is None:
        raise RuntimeError("ortools is not installed")
    if graph is not None:
        return _solve_with_flows(*graph, rows, cols, values, capacity, pairs_first)
    if pairs_first:
        values = _lexicographic_values(values, int(rows.max()) + 1)
    return _solve_sparse_lap(rows, cols, values, capacity)


def _solve_with_flows(max_flow: Any, min_cost_flow: Any, rows: np.ndarray, cols: np.ndarray,
                      values: np.ndarray, capacity: np.ndarray,
                      pairs_first: bool) -> np.ndarray:
    """source → mentee (1) → mentor (edge, cost −value) → sink (free places).

    max_score: a zero-cost source → sink bypass carries every unmatched mentee, so leaving
    one out is always feasible and costs nothing.  max_pairs: a max-flow first finds the
    largest number of pairs k, then a min-cost flow of exactly k units without the bypass
    picks the best score among those — lexicographic without a big-M constant, which keeps
    costs small and the cost-scaling solver fast.
    """
    n_rows, n_cols, n_edges = int(rows.max()) + 1, len(capacity), len(rows)
    source, sink = n_rows + n_cols, n_rows + n_cols + 1
    tails = np.concatenate([np.full(n_rows, source), rows, n_rows + np.arange(n_cols)])
    heads = np.concatenate([np.arange(n_rows), n_rows + cols, np.full(n_cols, sink)])
    caps = np.concatenate([np.ones(n_rows + n_edges, dtype=np.int64), capacity])
    costs = np.concatenate([np.zeros(n_rows, dtype=np.int64), -values,
                            np.zeros(n_cols, dtype=np.int64)])
    if pairs_first:
        counter = max_flow.SimpleMaxFlow()
        counter.add_arcs_with_capacity(tails, heads, caps)
        if counter.solve(source, sink) != counter.OPTIMAL:
            raise RuntimeError("max flow failed")
        units = counter.optimal_flow()
    else:
        units = n_rows
        tails, heads = np.append(tails, source), np.append(heads, sink)
        caps, costs = np.append(caps, n_rows), np.append(costs, 0)
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = units, -units
    solver.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed: {status}")
    edge_arcs = np.arange(n_rows, n_rows + n_edges)
    return np.nonzero(solver.flows(edge_arcs) > 0)[0]


def _solve_sparse_lap(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                      capacity: np.ndarray) -> np.ndarray:
    n_rows = int(rows.max()) + 1
    degree = np.bincount(cols, minlength=len(capacity))
    # More slots than candidates can never be filled; fewer slots shrinks the graph.
    slots = np.minimum(capacity, degree)
    slot_start = np.concatenate([[0], np.cumsum(slots)])
    n_slots = int(slot_start[-1])

    per_edge = slots[cols]
    edge_of = np.repeat(np.arange(len(rows)), per_edge)
    within = np.arange(len(edge_of)) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    slot = slot_start[cols[edge_of]] + within
    top = int(values.max()) + 1
    cost = np.concatenate([top - values[edge_of], np.full(n_rows, top)]).astype(np.float64)
    r = np.concatenate([rows[edge_of], np.arange(n_rows)])
    c = np.concatenate([slot, n_slots + np.arange(n_rows)])
    graph = csr_matrix((cost, (r, c)), shape=(n_rows, n_slots + n_rows))
    matched_rows, matched_cols = min_weight_full_bipartite_matching(graph)
    real = matched_cols < n_slots
    matched_rows, matched_slots = matched_rows[real], matched_cols[real]

    # Map (row, slot) back to the edge: slots of one column are interchangeable.
    slot_owner = np.repeat(np.arange(len(slots)), slots)
    key_edges = rows * len(capacity) + cols
    order = np.argsort(key_edges)
    wanted = matched_rows * len(capacity) + slot_owner[matched_slots]
    return order[np.searchsorted(key_edges, wanted, sorter=order)]


def _lexicographic_values(milli: np.ndarray, n_rows: int) -> np.ndarray:
    """Edge values for max_pairs on the scipy path: one more pair always outweighs any score
    difference."""
    lo, hi = int(milli.min()), int(milli.max())
    big = n_rows * (hi - min(lo, 0)) + abs(min(lo, 0)) + 1
    if big * max(n_rows, 1) + hi >= 2 ** 53:
        raise ValueError("instance too large for an exact lexicographic objective")
    return milli + big


def _finish(objective: Objective, graph: CandidateGraph, mentees: Sequence[MenteeProfile],
            mentors: Sequence[MentorProfile], form: Form, weights: Weights,
            chosen: list[tuple[int, int]], not_chosen: str = NOT_SELECTED,
            ) -> tuple[list[Assignment], dict[str, tuple[str, ...]], list[Unmatched], float]:
    assignments = []
    by_mentor: dict[int, list[str]] = {}
    matched = set()
    for i, j in sorted(chosen):
        score = score_pair(mentees[i], mentors[j], form, weights)
        if not isinstance(score, Score):  # the candidate graph only holds admissible pairs
            raise AssertionError(f"inadmissible pair chosen: {score.code}")
        assignments.append(Assignment(mentees[i].id, mentors[j].id, score))
        by_mentor.setdefault(j, []).append(mentees[i].id)
        matched.add(i)
    groups = {mentors[j].id: tuple(ids) for j, ids in sorted(by_mentor.items())
              if mentors[j].capacity > 1}
    unmatched = []
    for i, mentee in enumerate(mentees):
        if i in matched:
            continue
        if i in graph.mentee_exclusions:
            excl = graph.mentee_exclusions[i]
            unmatched.append(Unmatched(mentee.id, excl.code, excl.reason_ru))
            continue
        if graph.admissible[i] == 0:
            code = NO_ADMISSIBLE_MENTOR
        elif graph.admissible_free[i] == 0:
            code = ALL_MENTORS_FULL
        elif objective == "max_score" and graph.positive_free[i] == 0:
            code = NO_POSITIVE_SCORE
        else:
            code = not_chosen
        unmatched.append(Unmatched(mentee.id, code, UNMATCHED_REASONS[code]))
    total = sum(a.score.total_milli for a in assignments) / 1000
    return assignments, groups, unmatched, total


def _check(objective: str) -> None:
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective must be one of {_OBJECTIVES}")


def suggest(mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile], form: Form,
            weights: Weights = DEFAULT_WEIGHTS, objective: Objective = "max_score", *,
            top_k: int = DEFAULT_TOP_K, top_l: int = DEFAULT_TOP_L,
            exact_pair_limit: int = DEFAULT_EXACT_PAIR_LIMIT,
            workers: int | None = None, backend: Backend = "auto", certify: bool = True,
            pricing_per_row: int = DEFAULT_PER_ROW,
            max_pricing_rounds: int = DEFAULT_MAX_ROUNDS) -> Suggestion:
    """Optimal pairs for ``objective`` under mentors' free places.

    Exact over all admissible pairs when ``len(mentees) * len(mentors) <= exact_pair_limit``
    (or a mentor pool no larger than ``top_k``).  Beyond that the solver starts from the
    candidate graph of each mentee's ``top_k`` best mentors, each mentor's ``top_l`` best
    mentees and every named preference and,
    with ``certify``, adds left-out pairs by column generation (``pricing``) until an
    LP dual proves the matching optimal over every admissible pair (``Suggestion.certified``,
    ``exact``).  Without ``certify`` it is the optimum over the candidate graph only.
    """
    _check(objective)
    started = time.perf_counter()
    graph = build_candidates(mentees, mentors, form, weights,
                             positive_only=objective == "max_score", top_k=top_k, top_l=top_l,
                             exact_pair_limit=exact_pair_limit, workers=workers)
    seconds = {"candidates": time.perf_counter() - started}
    pairs_first = objective == "max_pairs"
    offset = pairs_first_offset(weights, len(graph.row_ids)) if pairs_first else 0
    if graph.exact or not certify or offset is None or graph.encoding is None:
        started = time.perf_counter()
        chosen: list[tuple[int, int]] = []
        if len(graph.rows):
            _, rows = np.unique(graph.rows, return_inverse=True)
            col_nodes, cols = np.unique(graph.cols, return_inverse=True)
            capacity = np.array([mentors[j].capacity - mentors[j].load for j in col_nodes])
            picked = max_weight_b_matching(rows, cols, graph.milli, capacity, backend,
                                           pairs_first=pairs_first)
            chosen = list(zip(graph.rows[picked].tolist(), graph.cols[picked].tolist(),
                              strict=True))
        seconds["solve"] = time.perf_counter() - started
        assignments, groups, unmatched, total = _finish(objective, graph, mentees, mentors,
                                                        form, weights, chosen)
        return Suggestion(objective, assignments, groups, unmatched, total, graph.exact,
                          len(graph.rows), certified=graph.exact, seconds=seconds)

    capacity = np.array([max(0, mentors[j].capacity - mentors[j].load) for j in graph.col_ids],
                        dtype=np.int64)

    def solve(rows: np.ndarray, cols: np.ndarray, milli: np.ndarray) -> np.ndarray:
        return max_weight_b_matching(rows, cols, milli, capacity, backend, pairs_first)

    proof = certified_matching(graph, capacity, solve, positive_only=not pairs_first,
                               offset=offset, per_row=pricing_per_row,
                               max_rounds=max_pricing_rounds, workers=workers)
    chosen = list(zip(graph.row_ids[proof.chosen[:, 0]].tolist(),
                      graph.col_ids[proof.chosen[:, 1]].tolist(), strict=True))
    assignments, groups, unmatched, total = _finish(objective, graph, mentees, mentors, form,
                                                    weights, chosen)
    return Suggestion(objective, assignments, groups, unmatched, total, proof.certified,
                      proof.graph_edges, certified=proof.certified,
                      pricing_rounds=proof.passes, solves=proof.solves,
                      priced_edges=proof.added_edges,
                      seconds={**seconds, **proof.seconds})


def greedy_baseline(mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile],
                    form: Form, weights: Weights = DEFAULT_WEIGHTS,
                    objective: Objective = "max_score", *, top_k: int = DEFAULT_TOP_K,
                    top_l: int = DEFAULT_TOP_L, exact_pair_limit: int = DEFAULT_EXACT_PAIR_LIMIT,
                    workers: int | None = None) -> Suggestion:
    """Highest score first on the same candidate graph.  For benchmark comparison only:
    it is not optimal for either objective."""
    _check(objective)
    graph = build_candidates(mentees, mentors, form, weights,
                             positive_only=objective == "max_score", top_k=top_k, top_l=top_l,
                             exact_pair_limit=exact_pair_limit, workers=workers)
    order = np.lexsort((graph.cols, graph.rows, -graph.milli))
    left = {}
    taken = set()
    chosen = []
    for e in order.tolist():
        i, j = int(graph.rows[e]), int(graph.cols[e])
        if i in taken:
            continue
        free = left.setdefault(j, mentors[j].capacity - mentors[j].load)
        if free > 0:
            left[j] = free - 1
            taken.add(i)
            chosen.append((i, j))
    assignments, groups, unmatched, total = _finish(objective, graph, mentees, mentors, form,
                                                    weights, chosen)
    return Suggestion(objective, assignments, groups, unmatched, total, False, len(graph.rows))


def preference_orders(graph: CandidateGraph, mentees: Sequence[MenteeProfile],
                      mentors: Sequence[MentorProfile]
                      ) -> tuple[dict[int, list[int]], dict[int, dict[int, int]]]:
    """Strict rankings over the candidate edges.

    A mentee ranks the mentors it named first (in its order), then the rest by score, then by
    id; a mentor ranks mentees the same way.  Returns each mentee's proposal list (best
    first) and, per mentor, each candidate mentee's rank position (0 is best).
    """
    inf = float("inf")
    mentee_pref = [{m: k for k, m in reversed(list(enumerate(p.preferred)))} for p in mentees]
    mentor_pref = [{m: k for k, m in reversed(list(enumerate(p.preferred)))} for p in mentors]
    by_mentee: dict[int, list[tuple[tuple[float, int, str], int]]] = {}
    by_mentor: dict[int, list[tuple[tuple[float, int, str], int]]] = {}
    for i, j, s in zip(graph.rows.tolist(), graph.cols.tolist(), graph.milli.tolist(),
                       strict=True):
        by_mentee.setdefault(i, []).append(
            ((mentee_pref[i].get(mentors[j].id, inf), -s, mentors[j].id), j))
        by_mentor.setdefault(j, []).append(
            ((mentor_pref[j].get(mentees[i].id, inf), -s, mentees[i].id), i))
    lists = {i: [j for _, j in sorted(items)] for i, items in by_mentee.items()}
    ranks = {j: {i: pos for pos, (_, i) in enumerate(sorted(items))}
             for j, items in by_mentor.items()}
    return lists, ranks


def stable_matching(mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile],
                    form: Form, weights: Weights = DEFAULT_WEIGHTS, *,
                    top_k: int = DEFAULT_TOP_K, top_l: int = 0,
                    exact_pair_limit: int = DEFAULT_EXACT_PAIR_LIMIT,
                    workers: int | None = None) -> StableMatching:
    """Mentee-proposing deferred acceptance with capacities (Gale–Shapley, hospitals form).

    Every admissible pair with a free place is acceptable to both sides; rankings come from
    ``preference_orders``.  The result has no blocking pair among the candidate edges, which
    are all admissible pairs whenever the instance is within ``exact_pair_limit``; it is the
    mentee-optimal stable matching.
    """
    graph = build_candidates(mentees, mentors, form, weights, positive_only=False,
                             top_k=top_k, top_l=top_l, exact_pair_limit=exact_pair_limit,
                             workers=workers)
    lists, ranks = preference_orders(graph, mentees, mentors)
    next_choice = dict.fromkeys(lists, 0)
    held: dict[int, list[tuple[int, int]]] = {}  # mentor -> max-heap of (-rank, mentee)
    free_mentees = sorted(lists, reverse=True)  # pop() takes mentees in input order
    proposals = 0
    while free_mentees:
        i = free_mentees.pop()
        if next_choice[i] >= len(lists[i]):
            continue  # every mentor it finds acceptable has rejected it
        j = lists[i][next_choice[i]]
        next_choice[i] += 1
        proposals += 1
        heap = held.setdefault(j, [])
        heapq.heappush(heap, (-ranks[j][i], i))
        if len(heap) > mentors[j].capacity - mentors[j].load:
            free_mentees.append(heapq.heappop(heap)[1])  # the worst-ranked held mentee
    chosen = [(i, j) for j, heap in held.items() for _, i in heap]
    assignments, groups, unmatched, total = _finish(
        "max_pairs", graph, mentees, mentors, form, weights, chosen, not_chosen=REJECTED)
    return StableMatching(assignments, groups, unmatched, total, graph.exact, proposals)
