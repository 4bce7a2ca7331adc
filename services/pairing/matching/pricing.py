"""A proof of optimality for the top-K path: LP duals, pricing and column generation.

Keeping only each mentee's K best mentors by raw score is not enough on a large contested
municipality: the schools with more pupils than mentor places must send pupils to mentors far
down their lists, and the optimum over the top-K graph falls several per cent short.  Column
generation closes that gap and proves the result optimal over every admissible pair.

The b-matching LP
    max Σ w_e x_e   s.t.  Σ_{e ∋ i} x_e ≤ 1 (mentee i),  Σ_{e ∋ j} x_e ≤ b_j (mentor j),  x ≥ 0
has integral optima (its matrix is totally unimodular); its dual is
    min Σ u_i + Σ b_j v_j   s.t.  u_i + v_j ≥ w_ij for every admissible pair,  u, v ≥ 0.
By weak duality, a matching M and a dual (u, v) with w(M) = Σ u + Σ b v prove M optimal over
every pair whose dual constraint holds.  So, in rounds:
  1. solve the candidate graph exactly (``max_weight_b_matching``);
  2. read a dual off the optimal matching (``dual_potentials``: shortest paths in its residual
     graph, vectorised Bellman–Ford), which satisfies every constraint of the graph's edges;
  3. price the pairs left out of the graph (``Pricer``): one with w_ij > u_i + v_j (a positive
     reduced cost) could still improve the matching, so each mentee's best such pairs join
     the graph, edges far from being useful leave it, and we go back to 1.
When pricing finds nothing, the dual is feasible for the whole instance: the matching is the
exact optimum, certified, and ``column_generation.certified_matching`` says so.

Pricing must look at every mentee × mentor pair (200 million in a large municipality), so it
never scores them all exactly: a block of pairs gets an upper bound on w_ij − u_i − v_j from
one matrix product (request and time-slot overlaps are linear in one-hot vectors; only their
rounding to milli-points is not, which a margin of 2 covers), a table per mentee class (age
and grade gaps, seniority) and two equality tests (organisation, municipality).  Only pairs
whose bound is positive are scored exactly (``EncodedInstance.pair_scores``), which near the
optimum is a tiny fraction.  Hard rules hold for every added pair because the exact scorer is
the one that builds the candidate graph: inadmissible pairs never join it.

max_pairs (most pairs first, then the best total) is the same LP with values BIG + w, BIG larger
than any difference of totals, so one more pair always outweighs any score.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .candidates import NO_CUT, EncodedInstance
from .domain import Weights
from .scoring import to_milli

# Rounding of the two share criteria to whole milli-points moves each by at most 0.5; the float
# matrix product adds far less than 0.5 more, since every magnitude stays below 2**53.
BOUND_MARGIN = 2.0
BLOCK_ELEMENTS = 1 << 19  # float64 pairs per pricing block: 4 MB, the matrix product's output
CLASS_TABLE_LIMIT = 1 << 25  # mentee classes × mentors above this: bound gaps by their maximum


def score_range(weights: Weights) -> tuple[int, int]:
    """Lowest and highest score any pair can get, in milli-points (each criterion is a weight
    times a fraction in [0, 1], rounded once)."""
    points = [to_milli(getattr(weights, name), 1.0) for name in (
        "requests_vs_competencies", "same_organisation", "same_municipality", "age_gap",
        "grade_gap", "availability_overlap", "mentee_prefers", "mentor_prefers",
        "mutual_choice")]
    return sum(min(0, p) for p in points), sum(max(0, p) for p in points)


def pairs_first_offset(weights: Weights, n_rows: int) -> int | None:
    """BIG for the max_pairs values BIG + w: more than any gap between two totals, so an extra
    pair always wins.  None when the totals would leave float64's exact integers."""
    lo, hi = score_range(weights)
    big = n_rows * (hi - lo) + 1
    return big if (big + hi) * (n_rows + 1) < 2 ** 53 else None


def dual_potentials(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
                    capacity: np.ndarray, picked: np.ndarray, n_rows: int
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """The dual (u, v) of an optimal matching with the largest mentee values u, or None when
    the matching is not optimal on these edges.

    Complementary slackness fixes u_i = w_ij − v_j on a matched edge, u_i = 0 for an unmatched
    mentee and v_j = 0 for a mentor with a free place; feasibility asks u_i + v_j ≥ w_ij on
    every edge and u, v ≥ 0.  Starting from v = 0 and raising each mentor's v_j to the most an
    adjacent mentee would gain by moving (w_ij − u_i) is Bellman–Ford on the residual graph of
    the flow, one vectorised sweep over the edges per step: v only grows, u only shrinks, and
    it settles after as many steps as the longest alternating path.  A u_i below 0 means a
    negative cycle, i.e. a better matching exists.
    """
    n_cols = len(capacity)
    by_col = np.argsort(cols, kind="stable")
    edge_rows, edge_cols, edge_values = rows[by_col], cols[by_col], values[by_col]
    starts = np.flatnonzero(np.r_[True, edge_cols[1:] != edge_cols[:-1]]) if len(cols) else \
        np.zeros(0, dtype=np.int64)
    present = edge_cols[starts]
    partner = np.full(n_rows, -1, dtype=np.int64)
    partner[rows[picked]] = cols[picked]
    matched = partner >= 0
    matched_value = np.zeros(n_rows, dtype=np.int64)
    matched_value[rows[picked]] = values[picked]
    safe_partner = np.maximum(partner, 0)

    v = np.zeros(n_cols, dtype=np.int64)
    while True:
        u = np.where(matched, matched_value - v[safe_partner], 0)
        if (u < 0).any():
            return None
        raised = np.zeros(n_cols, dtype=np.int64)
        if len(starts):
            raised[present] = np.maximum(0, np.maximum.reduceat(
                edge_values - u[edge_rows], starts))
        if np.array_equal(raised, v):
            break
        v = raised
    load = np.bincount(cols[picked], minlength=n_cols)
    if (v[load < capacity] != 0).any():
        return None  # a mentor with a free place would be worth something: not optimal
    if int(u.sum() + (capacity * v).sum()) != int(values[picked].sum()):
        return None
    return u, v


class Pricer:
    """Finds the admissible pairs with a positive reduced cost w_ij + offset − u_i − v_j.

    ``kept``: the top-K candidate graph's edges (local rows, cols, scores) with its
    ``row_cut`` and ``col_cut`` (``CandidateGraph``): every other admissible pair with a free
    place scores at most min(row_cut_i, col_cut_j), so its reduced cost is at most
    min(row_cut_i, col_cut_j) + offset − u_i − v_j.  Kept pairs are priced from their known
    scores; of the others only the columns with v_j below row_cut_i + offset − u_i can matter
    to row i, so with the free mentors sorted by v each row reads a prefix of them (rows with
    similar prefixes share a block).  Without ``kept`` every pair goes through the bound.
    """

    def __init__(self, enc: EncodedInstance, positive_only: bool, offset: int,
                 workers: int, kept: tuple[np.ndarray, ...] | None = None,
                 row_cut: np.ndarray | None = None, col_cut: np.ndarray | None = None) -> None:
        self.enc, self.positive_only, self.offset, self.workers = enc, positive_only, offset, workers
        self.free_cols = np.flatnonzero(enc.free)
        weights = enc.weights
        # Row features · column features = the request and time-slot points before rounding
        # (weight × 1000 / |mentee's set| per shared item); two more columns carry −u_i and
        # −v_j, filled in per pass.
        row_parts, col_parts = [], []
        for weight, left, right in (
                (weights.requests_vs_competencies, enc.req_bits, enc.comp_bits),
                (weights.availability_overlap, enc.av_m, enc.av_M)):
            if weight == 0:
                continue
            left_hot, right_hot = _one_hot(left), _one_hot(right[self.free_cols])
            sizes = left_hot.sum(axis=1)  # |mentee's set|, the share's denominator
            shared = left_hot.any(axis=0) & right_hot.any(axis=0)  # items that can match
            scale = np.divide(weight * 1000.0, sizes, out=np.zeros(len(sizes)), where=sizes > 0)
            row_parts.append(left_hot[:, shared] * scale[:, None])
            col_parts.append(right_hot[:, shared].T)
        n_free = len(self.free_cols)
        row_parts.append(np.zeros((enc.n_rows, 2)))
        col_parts.append(np.ones((2, n_free)))
        self.row_features = np.ascontiguousarray(np.hstack(row_parts))
        self.col_features = np.ascontiguousarray(np.vstack(col_parts))

        # Age/grade points and seniority depend on the mentee only through its class.
        classes, representatives = enc.mentee_classes()
        if len(representatives) * n_free <= CLASS_TABLE_LIMIT:
            table = np.zeros((len(representatives), enc.n_cols))
            gap = enc.gap_points(representatives)
            if gap is not None:
                table += gap
            admissible = np.ones(table.shape, dtype=bool)
            enc.apply_seniority(admissible, representatives)
            table[~admissible] = -np.inf
            self.class_of_row, self.class_table = classes, table[:, self.free_cols]
        else:  # too many classes to tabulate: the largest gap points bound them all
            self.class_of_row = np.zeros(enc.n_rows, dtype=np.int64)
            self.class_table = np.full((1, n_free), float(max(0, int(enc.gap_table.max()))))

        self.org_free, self.mun_free = enc.org_M[self.free_cols], enc.mun_M[self.free_cols]
        free_position = np.full(enc.n_cols, -1, dtype=np.int64)
        free_position[self.free_cols] = np.arange(n_free)
        on_free = free_position[enc.bonus_cols] >= 0
        self.bonus_rows = enc.bonus_rows[on_free]
        self.bonus_free_cols = free_position[enc.bonus_cols[on_free]]
        self.bonus_milli = enc.bonus_milli[on_free].astype(np.float64)
        self.bonus_starts = np.searchsorted(self.bonus_rows, np.arange(enc.n_rows + 1))

        self.kept = kept is not None
        if kept is not None:
            if row_cut is None:
                raise ValueError("kept pairs need their row cuts")
            rows, cols, milli = (np.asarray(a, dtype=np.int64) for a in kept)
            if (free_position[cols] < 0).any():
                raise ValueError("a kept pair has no free place")
            order = np.lexsort((cols, rows))
            self.kept_rows, self.kept_cols, self.kept_milli = rows[order], cols[order], milli[order]
            self.kept_free_cols = free_position[self.kept_cols]
            self.kept_starts = np.searchsorted(self.kept_rows, np.arange(enc.n_rows + 1))
            self.row_cut = np.asarray(row_cut, dtype=np.int64)
            # No column cuts (top_l = 0): a column bounds nothing, as if its cut were +inf.
            self.col_cut = None if col_cut is None else \
                np.asarray(col_cut, dtype=np.int64)[self.free_cols]
        # Set per pass by _prepare: the float type of the bound, its margin, typed copies, the
        # order of the free columns (ascending v) and, per row and column, the cut's terms.
        self.dtype: type[np.floating] = np.float64
        self.margin = BOUND_MARGIN
        self.typed: tuple[np.ndarray, ...] = ()
        self.order = np.arange(n_free)
        self.position = np.arange(n_free)
        self.sorted_v = np.zeros(n_free, dtype=np.int64)
        self.tighten = False
        self.cut_terms: tuple[np.ndarray, ...] = ()

    def _prepare(self, u: np.ndarray, v: np.ndarray) -> None:
        """Put −(u_i − offset) and −v_j into the bound, pick its float type and order the free
        columns for the pass.

        float32 halves the pass; its rounding error grows with the magnitudes summed, so the
        margin grows with them too, and float64 takes over once that margin would pass one
        point (max_pairs' offsets are in the billions).  The cut's bound is a difference of
        two integers, exact in either type while both stay below 2**23 (2**52)."""
        n_free = len(self.free_cols)
        self.row_features[:, -2] = -(u.astype(np.float64) - self.offset)
        self.row_features[:, -1] = 1.0
        self.col_features[-2, :] = 1.0
        self.col_features[-1, :] = -v[self.free_cols].astype(np.float64)
        terms = self.row_features.shape[1] + 8
        largest = (np.abs(self.row_features).sum(axis=1).max(initial=0.0)
                   + np.abs(self.col_features[-1]).max(initial=0.0)
                   + np.abs(self.class_table[np.isfinite(self.class_table)]).max(initial=0.0)
                   + abs(float(self.enc.w_org)) + abs(float(self.enc.w_mun))
                   + np.abs(self.bonus_milli).max(initial=0.0))
        float32_error = 4 * terms * 2.0 ** -24 * largest
        free_v = v[self.free_cols].astype(np.int64)
        cut_size = 0
        if self.kept:
            # Columns that kept every pair they could add need no pricing beyond kept pairs.
            open_cols = np.arange(n_free) if self.col_cut is None else \
                np.flatnonzero(self.col_cut > NO_CUT)
            self.order = open_cols[np.argsort(free_v[open_cols], kind="stable")]
            has_row_cut = self.row_cut > NO_CUT
            row_reach = np.where(has_row_cut, self.row_cut + self.offset - u, 0)
            col_reach = np.zeros(len(self.order), dtype=np.int64) if self.col_cut is None else \
                self.col_cut[self.order] + self.offset - free_v[self.order]
            cut_size = max(int(np.abs(row_reach).max(initial=0)),
                           int(np.abs(col_reach).max(initial=0)),
                           int(np.abs(u).max(initial=0)), int(np.abs(free_v).max(initial=0)))
        self.dtype = np.float32 if float32_error < 1000 and cut_size < 2 ** 23 else np.float64
        self.margin = BOUND_MARGIN + (float32_error if self.dtype == np.float32 else 1.0)
        self.row_features[:, -2] += self.margin
        row_features, col_features, class_table, bonus_milli = (
            a.astype(self.dtype) for a in (self.row_features, self.col_features,
                                           self.class_table, self.bonus_milli))
        self.position = np.full(n_free, -1, dtype=np.int64)
        self.position[self.order] = np.arange(len(self.order))
        self.sorted_v = free_v[self.order]
        self.typed = (row_features, np.ascontiguousarray(col_features[:, self.order]),
                      np.ascontiguousarray(class_table[:, self.order]), bonus_milli,
                      self.org_free[self.order], self.mun_free[self.order])
        self.tighten = self.kept and cut_size < 2 ** 52
        if self.tighten:
            reach = np.where(has_row_cut, row_reach, -np.inf).astype(self.dtype)
            self.cut_terms = (reach, self.sorted_v.astype(self.dtype),
                              None if self.col_cut is None else col_reach.astype(self.dtype),
                              u.astype(self.dtype))

    def _bound(self, rows: np.ndarray, width: int) -> np.ndarray:
        """Upper bound on the reduced cost of ``rows`` against the first ``width`` free mentors
        in the pass's order (``self.order``); −inf on kept pairs, which are priced apart."""
        enc = self.enc
        row_features, col_features, class_table, bonus_milli, org, mun = self.typed
        block = row_features[rows] @ col_features[:, :width]
        block += class_table[self.class_of_row[rows], :width]
        for weight, mentee_code, mentor_code in ((enc.w_org, enc.org_m, org),
                                                 (enc.w_mun, enc.mun_m, mun)):
            if weight:
                np.add(block, self.dtype(weight), out=block,
                       where=mentee_code[rows, None] == mentor_code[None, :width])
        owner, at = _ranges(self.bonus_starts, rows)
        if len(at):
            position = self.position[self.bonus_free_cols[at]]
            inside = (position >= 0) & (position < width)
            np.add.at(block, (owner[inside], position[inside]), bonus_milli[at[inside]])
        if self.kept:
            if self.tighten:  # a left-out pair scores at most min(row_cut_i, col_cut_j)
                reach, sorted_v, col_reach, u = self.cut_terms
                cut = np.subtract.outer(reach[rows], sorted_v[:width])
                np.minimum(block, cut, out=block)
                if col_reach is not None:
                    np.subtract(col_reach[None, :width], u[rows, None], out=cut)
                    np.minimum(block, cut, out=block)
            owner, at = _ranges(self.kept_starts, rows)
            position = self.position[self.kept_free_cols[at]]
            inside = (position >= 0) & (position < width)
            block[owner[inside], position[inside]] = -np.inf
        return block

    def _blocks(self, u: np.ndarray, slack: int, rows: np.ndarray | None = None
                ) -> list[tuple[np.ndarray, int]]:
        """Rows (all, or ``rows``) in blocks of about BLOCK_ELEMENTS pairs, each with the
        number of leading free columns (in ``self.order``) its rows need."""
        if rows is None:
            rows = np.arange(self.enc.n_rows)
        if self.kept:
            # Exact integers: a left-out pair (i, j) has reduced cost ≤ row_cut_i + offset −
            # u_i − v_j, at most −slack once v_j ≥ row_cut_i + offset − u_i + slack.
            reach = self.row_cut[rows] + self.offset - u[rows] + slack
            widths = np.searchsorted(self.sorted_v, reach, side="left")
            widths[self.row_cut[rows] <= NO_CUT] = 0
        else:
            widths = np.full(len(rows), len(self.order))
        by_width = np.argsort(-widths, kind="stable")
        rows, widths = rows[by_width], widths[by_width]
        blocks = []
        start, end = 0, int(np.count_nonzero(widths))
        while start < end:
            width = int(widths[start])
            stop = min(end, start + max(1, BLOCK_ELEMENTS // width))
            blocks.append((np.sort(rows[start:stop]), width))
            start = stop
        return blocks

    def price(self, u: np.ndarray, v: np.ndarray, per_row: int, slack: int = 0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each mentee's (at most ``per_row``) pairs of highest reduced cost above −``slack``.

        ``u`` per encoded row, ``v`` per encoded column.  Returns local rows, cols, scores in
        milli-points and reduced costs.  No positive reduced cost among them proves the dual
        feasible for every pair (a mentee whose pairs with a positive bound were not all
        scored exactly is scored in full before that is claimed).
        """
        enc = self.enc
        self._prepare(u, v)
        evaluate = 4 * per_row  # pairs scored exactly per mentee, by descending bound

        def run(job: tuple[np.ndarray, int], limit: int | None = evaluate,
                threshold: float = -slack) -> tuple[np.ndarray, ...]:
            rows, width = job
            block = self._bound(rows, width)
            hopeful = block > threshold
            crowded = np.flatnonzero(hopeful.sum(axis=1) > limit) if limit is not None else \
                np.zeros(0, dtype=np.int64)
            unresolved = np.zeros(0, dtype=np.int64)
            if len(crowded):
                hopeful[crowded] = False
                top = np.argpartition(-block[crowded], limit - 1, axis=1)[:, :limit]
                hopeful[crowded[:, None], top] = True
                # Rows where a pair that might violate (bound > 0) was left unscored.
                left_out = ((block[crowded] > 0).sum(axis=1) > limit)
                unresolved = rows[crowded[left_out]]
            at = np.flatnonzero(hopeful)  # far faster than a 2-D nonzero
            r, f = np.divmod(at, width)
            r = rows[r]
            c = self.free_cols[self.order[f]]
            milli, admissible = enc.pair_scores(r, c)
            reduced = milli + self.offset - u[r] - v[c]
            keep = admissible & (reduced > -slack)
            if self.positive_only:
                keep &= milli > 0
            return r[keep], c[keep], milli[keep], reduced[keep], unresolved

        parts = _map(run, self._blocks(u, slack), self.workers)
        if self.kept:  # kept pairs: admissible, free and (if positive_only) positive
            reduced = self.kept_milli + self.offset - u[self.kept_rows] - v[self.kept_cols]
            near = reduced > -slack
            parts.append((self.kept_rows[near], self.kept_cols[near], self.kept_milli[near],
                          reduced[near], np.zeros(0, dtype=np.int64)))
        rows, cols, milli, reduced, unresolved = (np.concatenate([p[k] for p in parts])
                                                  for k in range(5))
        if len(unresolved) and not (reduced > 0).any():
            # Every exactly scored pair was priced out, but some mentees had more pairs with a
            # positive bound than were scored: score all of those before claiming a proof.
            parts = _map(lambda job: run(job, None, 0.0), self._blocks(u, 0, unresolved),
                         self.workers)
            extra = [np.concatenate([p[k] for p in parts]) for k in range(4)]
            rows, cols, milli, reduced = (np.concatenate([a, b]) for a, b in
                                          zip((rows, cols, milli, reduced), extra, strict=True))
        return best_per_row(rows, cols, milli, reduced, per_row)


def _ranges(starts: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR-like ``starts`` (entries of row r at starts[r]:starts[r + 1]): each entry of
    ``rows``' ranges as (position in ``rows``, entry index)."""
    first, lengths = starts[rows], starts[rows + 1] - starts[rows]
    owner = np.repeat(np.arange(len(rows)), lengths)
    at = np.arange(len(owner)) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
    return owner, at


def best_per_row(rows: np.ndarray, cols: np.ndarray, milli: np.ndarray, reduced: np.ndarray,
                  per_row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``per_row`` pairs of highest reduced cost of each row (ties: lower column)."""
    if not len(rows):
        return rows, cols, milli, reduced
    # Row ascending, reduced cost descending, column ascending: one int64 key when it fits.
    high = int(reduced.max())
    reduced_bits = (high - int(reduced.min())).bit_length()
    col_bits = int(cols.max()).bit_length()
    if int(rows.max()).bit_length() + reduced_bits + col_bits <= 62:
        order = np.argsort((rows << (reduced_bits + col_bits)) | ((high - reduced) << col_bits)
                           | cols)
    else:
        order = np.lexsort((cols, -reduced, rows))
    rows, cols, milli, reduced = rows[order], cols[order], milli[order], reduced[order]
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
    best = rank < per_row
    return rows[best], cols[best], milli[best], reduced[best]


def _one_hot(bits: np.ndarray) -> np.ndarray:
    """Bitset rows (uint64 words) as 0/1 float rows, one column per vocabulary item."""
    as_bytes = np.ascontiguousarray(bits).view(np.uint8).reshape(len(bits), 8 * bits.shape[1])
    return np.unpackbits(as_bytes, axis=1, bitorder="little").astype(np.float64)


def _map(function: Callable[[int], tuple[np.ndarray, ...]], starts: list[int],
         workers: int) -> list[tuple[np.ndarray, ...]]:
    if workers > 1 and len(starts) > 1:
        # numpy and BLAS release the GIL in the heavy steps, so threads use both cores.
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(function, starts))
    return [function(s) for s in starts]
