"""Column generation: solve the candidate graph, price what it left out, add the pairs that could
improve it, and again, until pricing proves the matching optimal over every admissible pair
(the method and its proof are described in ``pricing``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .candidates import CandidateGraph
from .pricing import Pricer, best_per_row, dual_potentials

DEFAULT_PER_ROW = 20  # pairs a mentee may bring into the graph per round
DEFAULT_MAX_ROUNDS = 60
DEFAULT_KEEP_MILLI = 2_000  # edges whose reduced cost is below −2 points leave the graph
DEFAULT_POOL_PER_ROW = 30  # nearly useful pairs per mentee a full pass keeps for later rounds


@dataclass(frozen=True)
class Certification:
    """What column generation did.  ``certified``: the matching is optimal over every
    admissible pair, proved by a feasible dual with the same objective value."""

    chosen: np.ndarray  # (n, 2) local (row, col) indices of the chosen pairs
    certified: bool
    passes: int  # pricing passes over all mentee × mentor pairs
    solves: int  # graphs solved (each followed by pricing, of the pool or of all pairs)
    added_edges: int  # pairs pricing brought into the graph, over all rounds
    graph_edges: int  # edges of the last graph solved
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


Solver = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def certified_matching(graph: CandidateGraph, capacity: np.ndarray, solve: Solver, *,
                       positive_only: bool, offset: int, per_row: int = DEFAULT_PER_ROW,
                       max_rounds: int = DEFAULT_MAX_ROUNDS,
                       keep_milli: int | None = DEFAULT_KEEP_MILLI,
                       pool_per_row: int = DEFAULT_POOL_PER_ROW,
                       workers: int | None = None) -> Certification:
    """Column generation from the candidate graph until pricing proves the matching optimal.

    ``capacity``: free places per encoded column; ``solve(rows, cols, milli)`` returns the
    indices of an optimal matching's edges (values milli + ``offset``, see
    ``pairs_first_offset``).  A pass over all pairs is the expensive step, so each one also
    keeps every mentee's ``pool_per_row`` nearly useful pairs (reduced cost above
    −``keep_milli``) in a pool, and later rounds price that pool first: a full pass runs
    again only when the pool has nothing left to offer, and the last one is the proof.
    Graph edges whose reduced cost falls below −``keep_milli`` leave the graph (matched ones
    never do), so re-solves stay small; None keeps every edge and skips the pool's slack.
    """
    enc = graph.encoding
    if enc is None:
        raise ValueError("the candidate graph carries no encoding to price with")
    seconds = {"solve": 0.0, "duals": 0.0, "pricing": 0.0}
    n_workers = workers or min(4, len(os.sched_getaffinity(0)))
    slack = keep_milli or 0
    rows = np.searchsorted(graph.row_ids, graph.rows)
    cols = np.searchsorted(graph.col_ids, graph.cols)
    milli = graph.milli.astype(np.int64)
    pool = (rows[:0], cols[:0], milli[:0])
    started = time.perf_counter()
    kept = (rows, cols, milli) if graph.row_cut is not None else None
    pricer = Pricer(enc, positive_only, offset, n_workers, kept, graph.row_cut, graph.col_cut)
    seconds["pricing"] += time.perf_counter() - started
    added = solves = passes = 0
    picked = np.zeros(0, dtype=np.int64)
    for solves in range(1, max_rounds + 1):
        started = time.perf_counter()
        picked = solve(rows, cols, milli) if len(rows) else picked
        seconds["solve"] += time.perf_counter() - started

        started = time.perf_counter()
        duals = dual_potentials(rows, cols, milli + offset, capacity, picked, enc.n_rows)
        seconds["duals"] += time.perf_counter() - started
        if duals is None:  # the solver's answer is not optimal on its own graph
            raise RuntimeError("no dual matches the solver's matching")
        u, v = duals

        started = time.perf_counter()
        pool_rows, pool_cols, pool_milli = pool
        pool_reduced = pool_milli + offset - u[pool_rows] - v[pool_cols]
        violated = pool_reduced > 0
        new_rows, new_cols, new_milli, _ = best_per_row(
            pool_rows[violated], pool_cols[violated], pool_milli[violated],
            pool_reduced[violated], per_row)
        if not len(new_rows):  # the pool is priced out: only a pass over all pairs can tell
            passes += 1
            found_rows, found_cols, found_milli, found_reduced = pricer.price(
                u, v, pool_per_row, slack)
            pool = _merge_pool(pool, (found_rows, found_cols, found_milli))
            violated = found_reduced > 0
            new_rows, new_cols, new_milli, _ = best_per_row(
                found_rows[violated], found_cols[violated], found_milli[violated],
                found_reduced[violated], per_row)
        seconds["pricing"] += time.perf_counter() - started
        if not len(new_rows):
            return Certification(np.stack([rows[picked], cols[picked]], axis=1), True,
                                 passes, solves, added, len(rows), seconds)
        # Dropping edges could in principle cycle; past half the rounds every edge stays.
        if keep_milli is not None and solves <= max_rounds // 2:
            useful = milli + offset - u[rows] - v[cols] >= -keep_milli
            useful[picked] = True
            rows, cols, milli = rows[useful], cols[useful], milli[useful]
        rows = np.concatenate([rows, new_rows])
        cols = np.concatenate([cols, new_cols])
        milli = np.concatenate([milli, new_milli])
        added += len(new_rows)
    # Out of rounds: the last solve is optimal on its graph, but not proved so on all pairs.
    started = time.perf_counter()
    picked = solve(rows, cols, milli)
    seconds["solve"] += time.perf_counter() - started
    return Certification(np.stack([rows[picked], cols[picked]], axis=1), False, passes,
                         solves, added, len(rows), seconds)


def _merge_pool(pool: tuple[np.ndarray, np.ndarray, np.ndarray],
                found: tuple[np.ndarray, np.ndarray, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of two sets of scored pairs, each pair once."""
    rows, cols, milli = (np.concatenate([a, b]) for a, b in zip(pool, found, strict=True))
    _, first = np.unique(rows * (int(cols.max(initial=0)) + 1) + cols, return_index=True)
    return rows[first], cols[first], milli[first]
