"""Candidate generation: admissible pairs with their integer scores, vectorised with numpy.

Scoring 20,000 × 10,000 pairs one by one in Python would take minutes, so profiles are encoded
as arrays (request/competency and availability sets as 64-bit bitsets, organisations and
municipalities as integer codes, ages and grades as integers) and the pair score matrix is
computed in row chunks.  Every criterion goes through a lookup table built by the scalar
functions of ``scoring``, so an edge's score equals ``score_pair(...).total_milli``
exactly.  Sparse per-pair facts (preferences, conflicts of interest, same person) are applied
by scatter.

Per mentee we keep every admissible pair when the instance is small (``exact``), otherwise the
``top_k`` best-scoring admissible mentors with free places, per mentor its ``top_l``
best-scoring such mentees, plus every admissible pair the pair's preferences name, so a named
choice is never lost to the cut.  Top-K alone sends every mentee's list to the same popular
mentors; the per-mentor lists give each mentor its best mentees too, so the first LP dual is
already close and column generation needs fewer rounds.  The scores of the weakest kept pair
of each mentee's and each mentor's list (``CandidateGraph.row_cut``, ``col_cut``) bound every
left-out pair, which lets pricing skip most pairs.  The encoding stays on the graph
(``CandidateGraph.encoding``) so ``pricing`` can score left-out pairs later
(``EncodedInstance.pair_scores``) without encoding the profiles again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .domain import Exclusion, Form, MenteeProfile, MentorProfile, Weights
from .encoding import CHUNK_ELEMENTS, MISSING_SCORE, EncodedInstance
from .scoring import mentee_exclusion, mentor_exclusion

DEFAULT_TOP_K = 40
DEFAULT_TOP_L = 10
DEFAULT_EXACT_PAIR_LIMIT = 4_000_000
NO_CUT = -(1 << 62)  # row_cut / col_cut: no admissible pair of this row (column) was left out


@dataclass(frozen=True)
class CandidateGraph:
    rows: np.ndarray  # int64 indices into the mentees sequence
    cols: np.ndarray  # int64 indices into the mentors sequence
    milli: np.ndarray  # int64 pair scores in milli-points
    mentee_exclusions: dict[int, Exclusion]  # mentees excluded whatever the mentor
    admissible: np.ndarray  # per mentee: admissible mentors ignoring capacity
    admissible_free: np.ndarray  # per mentee: admissible mentors with a free place
    positive_free: np.ndarray  # per mentee: those of them with a positive score
    exact: bool  # every admissible (and, if positive_only, positive) pair is an edge
    # Mentees and mentors the hard rules that ignore the partner left in (the encoding's rows
    # and columns, ascending indices into the input sequences), and their array form.
    row_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    col_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    encoding: EncodedInstance | None = None
    # Top-K path only, per encoded row and column: every admissible pair with a free place (and
    # a positive score if positive_only) that is not an edge scores at most row_cut[row] and
    # at most col_cut[col] (NO_CUT: the row or column kept every such pair; col_cut None: no
    # per-mentor lists, top_l = 0).  Both are scores of kept pairs, computed by the exact
    # scorer over every pair.
    row_cut: np.ndarray | None = None
    col_cut: np.ndarray | None = None


def check_unique_ids(mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile]) -> None:
    for side, people in (("mentee", mentees), ("mentor", mentors)):
        ids = [p.id for p in people]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate {side} ids")


class _ColumnTop:
    """Running top-L rows of every column, fed chunk by chunk (from several threads).

    A chunk offers only its entries at or above the column's ``threshold``: the L-th best
    score kept so far, never above the column's final L-th best, so no entry of the final
    top-L is missed.  Ties are broken by the lower row whatever the order of the chunks, so
    the result does not depend on the threads' timing.
    """

    def __init__(self, n_cols: int, top_l: int) -> None:
        self.n_cols, self.top_l = n_cols, top_l
        self.threshold = np.full(n_cols, MISSING_SCORE + 1, dtype=np.int32)  # any valid score
        empty = np.zeros(0, dtype=np.int64)
        self.kept: tuple[np.ndarray, np.ndarray, np.ndarray] = (empty, empty, empty)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.merge_at = max(1 << 16, 2 * top_l * n_cols)
        self.lock = threading.Lock()

    def offer(self, masked: np.ndarray, r0: int) -> None:
        at = np.flatnonzero(masked >= self.threshold[None, :])  # 2-D nonzero is far slower
        r, c = np.divmod(at, self.n_cols)
        entry = (r + r0, c, masked.ravel()[at].astype(np.int64))
        with self.lock:
            self.pending.append(entry)
            self.pending_size += len(r)
            if self.pending_size >= self.merge_at:
                self._merge()

    def _merge(self) -> None:
        rows, cols, values = (np.concatenate([self.kept[k], *(p[k] for p in self.pending)])
                              for k in range(3))
        self.pending, self.pending_size = [], 0
        if not len(rows):
            return
        # Column ascending, score descending, row ascending, as one int64 key when it fits.
        low = int(values.min())
        value_bits = (int(values.max()) - low).bit_length()
        row_bits = int(rows.max()).bit_length()
        col_bits = int(cols.max()).bit_length()
        if col_bits + value_bits + row_bits <= 62:
            key = (cols << (value_bits + row_bits)) | ((int(values.max()) - values) << row_bits)
            order = np.argsort(key | rows)
        else:
            order = np.lexsort((rows, -values, cols))
        rows, cols, values = rows[order], cols[order], values[order]
        first = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
        rank = np.arange(len(cols)) - np.repeat(first, np.diff(np.r_[first, len(cols)]))
        best = rank < self.top_l
        rows, cols, values = rows[best], cols[best], values[best]
        self.kept = (rows, cols, values)
        last = rank[best] == self.top_l - 1  # the L-th best of a column that has L entries
        threshold = self.threshold.copy()
        threshold[cols[last]] = values[last]
        self.threshold = threshold  # one reference swap: readers see the old or the new array

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Kept (rows, cols, scores) and each column's cut (L-th best score, or NO_CUT)."""
        with self.lock:
            self._merge()
        rows, cols, values = self.kept
        full = np.bincount(cols, minlength=self.n_cols) == self.top_l
        # The last merge set a full column's threshold to its L-th best score.
        return rows, cols, values, np.where(full, self.threshold.astype(np.int64), NO_CUT)


def build_candidates(mentees: Sequence[MenteeProfile], mentors: Sequence[MentorProfile],
                     form: Form, weights: Weights, *, positive_only: bool,
                     top_k: int = DEFAULT_TOP_K, top_l: int = DEFAULT_TOP_L,
                     exact_pair_limit: int = DEFAULT_EXACT_PAIR_LIMIT,
                     workers: int | None = None) -> CandidateGraph:
    """Admissible pairs with a free place (and a positive score if ``positive_only``).

    Every such pair when the instance is small (``exact``); otherwise each mentee's ``top_k``
    best, each mentor's ``top_l`` best (0: none) and every pair somebody named.
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    if top_l < 0:
        raise ValueError("top_l must not be negative")
    check_unique_ids(mentees, mentors)
    exclusions = {i: e for i, m in enumerate(mentees) if (e := mentee_exclusion(m, form))}
    row_ids = np.array([i for i in range(len(mentees)) if i not in exclusions], dtype=np.int64)
    col_ids = np.array([j for j, m in enumerate(mentors) if mentor_exclusion(m, form) is None],
                       dtype=np.int64)
    n_rows, n_cols = len(row_ids), len(col_ids)
    counts = [np.full(len(mentees), -1, dtype=np.int64) for _ in range(3)]
    for c in counts:
        c[row_ids] = 0
    exact = n_cols <= top_k or n_rows * n_cols <= exact_pair_limit
    empty = np.zeros(0, dtype=np.int64)
    if n_rows == 0 or n_cols == 0:
        return CandidateGraph(empty, empty, empty, exclusions, *counts, exact=True)

    enc = EncodedInstance([mentees[i] for i in row_ids], [mentors[j] for j in col_ids], form, weights)
    step = max(1, CHUNK_ELEMENTS // n_cols)
    keep = min(top_k, n_cols)
    column_top = _ColumnTop(n_cols, top_l) if not exact and top_l > 0 else None

    def run(r0: int) -> tuple[np.ndarray, ...]:
        r1 = min(r0 + step, n_rows)
        total, admissible = enc.chunk(r0, r1)
        free = admissible & enc.free[None, :]
        positive = free & (total > 0)
        chosen = positive if positive_only else free
        if exact:
            r, c = np.nonzero(chosen)
            cut = empty
        else:
            masked = np.where(chosen, total, MISSING_SCORE)
            part = np.argpartition(masked, n_cols - keep, axis=1)[:, n_cols - keep:]
            values = np.take_along_axis(masked, part, axis=1)
            ok = values != MISSING_SCORE
            # A row whose K best are all chosen pairs may have left some out, none better.
            cut = np.where(ok.all(axis=1), values.min(axis=1).astype(np.int64), np.int64(NO_CUT))
            r = np.broadcast_to(np.arange(r1 - r0)[:, None], part.shape)[ok]
            c = part[ok]
            # A pair somebody explicitly named survives the top-K cut.
            lo, hi = np.searchsorted(enc.bonus_rows, [r0, r1])
            br, bc = enc.bonus_rows[lo:hi] - r0, enc.bonus_cols[lo:hi]
            named = chosen[br, bc]
            key = np.unique(np.concatenate([r * n_cols + c, br[named] * n_cols + bc[named]]))
            r, c = key // n_cols, key % n_cols
            if column_top is not None:
                column_top.offer(masked, r0)
        return (r + r0, c, total[r, c].astype(np.int64), admissible.sum(1), free.sum(1),
                positive.sum(1), cut)

    starts = range(0, n_rows, step)
    n_workers = workers or min(4, len(os.sched_getaffinity(0)))
    if n_workers > 1 and len(starts) > 1:
        # numpy releases the GIL in these kernels, so threads use both cores.
        with ThreadPoolExecutor(n_workers) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(s) for s in starts]

    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    milli = np.concatenate([p[2] for p in parts])
    for k, c in enumerate(counts):
        c[row_ids] = np.concatenate([p[3 + k] for p in parts])
    if exact:
        return CandidateGraph(row_ids[rows], col_ids[cols], milli, exclusions, *counts,
                              exact=True, row_ids=row_ids, col_ids=col_ids, encoding=enc)
    row_cut = np.concatenate([p[6] for p in parts]).astype(np.int64)
    col_cut = None
    if column_top is not None:
        top_rows, top_cols, top_milli, col_cut = column_top.result()
        key, first = np.unique(np.concatenate([rows * n_cols + cols, top_rows * n_cols + top_cols]),
                               return_index=True)
        rows, cols = key // n_cols, key % n_cols
        milli = np.concatenate([milli, top_milli])[first]
    return CandidateGraph(row_ids[rows], col_ids[cols], milli, exclusions, *counts, exact=False,
                          row_ids=row_ids, col_ids=col_ids, encoding=enc,
                          row_cut=row_cut, col_cut=col_cut)
