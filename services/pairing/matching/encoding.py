"""Profiles encoded as arrays for the vectorised scorer: request/competency and availability sets
as 64-bit bitsets, organisations and municipalities as integer codes, ages and grades as integers.

Every criterion goes through a lookup table built by the scalar functions of ``scoring``, so a
pair's score here equals ``score_pair(...).total_milli`` exactly. The encoding stays on the
candidate graph so ``pricing`` can score left-out pairs later (``EncodedInstance.pair_scores``)
without encoding the profiles again.
"""

from __future__ import annotations

import numpy as np

from .domain import STUDENT, Form, MenteeProfile, MentorProfile, Weights
from .scoring import (
    rank_fraction,
    share,
    to_milli,
    window_fraction,
)

GAP_OFFSET = 200  # gap lookup covers [-200, 200]; Weights keeps its windows inside ±100
UNKNOWN = 100_000  # sentinel for a missing age/grade: pushes the gap out of the table
MISSING_SCORE = np.iinfo(np.int32).min
CHUNK_ELEMENTS = 1 << 18  # pairs per chunk: ~1 MB per int32 temporary, stays in cache

JOINT_TABLE_LIMIT = 1 << 20


def _bitsets(sets: list[frozenset[str]], index: dict[str, int], words: int) -> np.ndarray:
    masks = []
    for items in sets:
        mask = 0
        for item in items:
            mask |= 1 << index[item]
        masks.append([(mask >> (64 * w)) & 0xFFFF_FFFF_FFFF_FFFF for w in range(words)])
    return np.array(masks, dtype=np.uint64).reshape(len(sets), words)


def _encode_sets(left: list[frozenset[str]], right: list[frozenset[str]]
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    vocab = sorted(set().union(*left, *right))
    index = {item: k for k, item in enumerate(vocab)}
    words = max(1, (len(vocab) + 63) // 64)
    return _bitsets(left, index, words), _bitsets(right, index, words), len(vocab)


def _share_table(weight: float, lengths: np.ndarray, vocab: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat table of to_milli(weight, share(c, L)) and each row's offset into it."""
    distinct = np.unique(lengths)
    stride = vocab + 1
    table = np.array([to_milli(weight, share(c, int(length)))
                      for length in distinct for c in range(stride)], dtype=np.int32)
    position = {int(length): k for k, length in enumerate(distinct)}
    base = np.array([position[int(length)] * stride for length in lengths], dtype=np.int32)
    return table, base


def _overlap(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """|left_i ∩ right_j| for every pair, as uint8 when the vocabulary fits one word."""
    count = np.bitwise_count(left[:, None, 0] & right[None, :, 0])
    if left.shape[1] > 1:
        count = count.astype(np.int32)
        for w in range(1, left.shape[1]):
            count += np.bitwise_count(left[:, None, w] & right[None, :, w])
    return count


def _pair_overlap(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """|left_k ∩ right_k| for aligned rows of two bitset arrays."""
    count = np.bitwise_count(left[:, 0] & right[:, 0]).astype(np.int64)
    for w in range(1, left.shape[1]):
        count += np.bitwise_count(left[:, w] & right[:, w])
    return count


def _ints(values: list[int | None], unknown: int) -> tuple[np.ndarray, np.ndarray]:
    known = np.array([v is not None for v in values], dtype=bool)
    arr = np.array([unknown if v is None else max(-UNKNOWN // 2, min(UNKNOWN // 2, v))
                    for v in values], dtype=np.int32)
    return arr, known


class EncodedInstance:
    """Array form of the admissible part of an instance (rows: mentees, cols: mentors)."""

    def __init__(self, mentees: list[MenteeProfile], mentors: list[MentorProfile],
                 form: Form, weights: Weights) -> None:
        self.n_rows, self.n_cols = len(mentees), len(mentors)
        self.weights = weights
        self.req_bits, self.comp_bits, vocab = _encode_sets(
            [m.requests for m in mentees], [m.competencies for m in mentors])
        self.req_table, self.req_base = _share_table(
            weights.requests_vs_competencies, np.array([len(m.requests) for m in mentees]), vocab)
        self.use_req = weights.requests_vs_competencies != 0 and vocab > 0
        self.av_m, self.av_M, av_vocab = _encode_sets(
            [m.availability for m in mentees], [m.availability for m in mentors])
        self.av_table, self.av_base = _share_table(
            weights.availability_overlap, np.array([len(m.availability) for m in mentees]),
            av_vocab)
        self.use_av = weights.availability_overlap != 0 and av_vocab > 0
        # Both set criteria through one lookup when the joint table stays small: the gathers
        # are the costliest step of the pair loop.
        self.joint_stride = av_vocab + 1
        kinds = {(len(m.requests), len(m.availability)) for m in mentees}
        self.use_joint = (self.use_req and self.use_av
                          and len(kinds) * (vocab + 1) * (av_vocab + 1) <= JOINT_TABLE_LIMIT)
        if self.use_joint:
            position = {kind: k for k, kind in enumerate(sorted(kinds))}
            self.joint_table = np.array([
                to_milli(weights.requests_vs_competencies, share(c_req, n_req))
                + to_milli(weights.availability_overlap, share(c_av, n_av))
                for n_req, n_av in sorted(kinds)
                for c_req in range(vocab + 1) for c_av in range(av_vocab + 1)], dtype=np.int32)
            self.joint_base = np.array(
                [position[(len(m.requests), len(m.availability))] * (vocab + 1) * (av_vocab + 1)
                 for m in mentees], dtype=np.int32)

        codes: dict[str, int] = {}
        self.org_m = np.array([codes.setdefault(m.organisation, len(codes)) for m in mentees],
                              dtype=np.int32)
        self.org_M = np.array([codes.setdefault(m.organisation, len(codes)) for m in mentors],
                              dtype=np.int32)
        self.w_org = np.int32(to_milli(weights.same_organisation, 1.0))
        codes = {}
        self.mun_m = np.array([codes.setdefault(m.municipality, len(codes)) for m in mentees],
                              dtype=np.int32)
        self.mun_M = np.array([codes.setdefault(m.municipality, len(codes)) for m in mentors],
                              dtype=np.int32)
        self.w_mun = np.int32(to_milli(weights.same_municipality, 1.0))

        # Unknown mentee values sit far above and unknown mentor values far below, so any
        # gap involving an unknown clips to -GAP_OFFSET, where the table holds 0 points.
        self.age_m, self.age_known_m = _ints([m.age for m in mentees], UNKNOWN)
        self.age_M, self.age_known_M = _ints([m.age for m in mentors], -UNKNOWN)
        self.grade_m, self.grade_known_m = _ints([m.grade for m in mentees], UNKNOWN)
        self.grade_M, self.grade_known_M = _ints([m.grade for m in mentors], -UNKNOWN)
        gaps = range(-GAP_OFFSET, GAP_OFFSET + 1)
        self.age_table = np.array([to_milli(weights.age_gap,
                                            window_fraction(g, weights.age_gap_ideal))
                                   for g in gaps], dtype=np.int32)
        self.grade_table = np.array([to_milli(weights.grade_gap,
                                              window_fraction(g, weights.grade_gap_ideal))
                                     for g in gaps], dtype=np.int32)
        self.use_age = weights.age_gap != 0 and self.age_known_m.any() and self.age_known_M.any()
        self.use_grade = (weights.grade_gap != 0 and self.grade_known_m.any()
                          and self.grade_known_M.any())
        width = 2 * GAP_OFFSET + 1
        self.gap_table = (self.age_table[:, None] + self.grade_table[None, :]).ravel()
        self.gap_width = np.int32(width)

        self.student_m = np.array([m.category == STUDENT for m in mentees], dtype=bool)
        self.student_M = np.array([m.category == STUDENT for m in mentors], dtype=bool)
        self.student_cols = np.flatnonzero(self.student_M)
        self.free = np.array([m.capacity - m.load > 0 for m in mentors], dtype=bool)
        self._sparse(mentees, mentors, weights)

    def _sparse(self, mentees: list[MenteeProfile], mentors: list[MentorProfile],
                weights: Weights) -> None:
        """Preferences (bonus points) and person-specific exclusions, in local indices."""
        col_of = {m.id: c for c, m in enumerate(mentors)}
        row_of = {m.id: r for r, m in enumerate(mentees)}
        mentee_rank: dict[tuple[int, int], tuple[int, int]] = {}
        for r, mentee in enumerate(mentees):
            for rank, mentor_id in enumerate(mentee.preferred):
                c = col_of.get(mentor_id)
                if c is not None:
                    mentee_rank.setdefault((r, c), (rank, len(mentee.preferred)))
        mentor_rank: dict[tuple[int, int], tuple[int, int]] = {}
        for c, mentor in enumerate(mentors):
            for rank, mentee_id in enumerate(mentor.preferred):
                r = row_of.get(mentee_id)
                if r is not None:
                    mentor_rank.setdefault((r, c), (rank, len(mentor.preferred)))
        bonus: dict[tuple[int, int], int] = {}
        for key, (rank, length) in mentee_rank.items():
            bonus[key] = to_milli(weights.mentee_prefers, rank_fraction(rank, length))
        for key, (rank, length) in mentor_rank.items():
            bonus[key] = bonus.get(key, 0) + to_milli(weights.mentor_prefers,
                                                      rank_fraction(rank, length))
            if key in mentee_rank:
                bonus[key] += to_milli(weights.mutual_choice, 1.0)
        keys = sorted(bonus)
        self.bonus_rows = np.array([k[0] for k in keys], dtype=np.int64)
        self.bonus_cols = np.array([k[1] for k in keys], dtype=np.int64)
        self.bonus_milli = np.array([bonus[k] for k in keys], dtype=np.int32)

        forbidden: set[tuple[int, int]] = set()
        for r, mentee in enumerate(mentees):
            for mentor_id in (mentee.id, mentee.class_teacher, *mentee.relatives):
                c = col_of.get(mentor_id) if mentor_id is not None else None
                if c is not None:
                    forbidden.add((r, c))
        keys = sorted(forbidden)
        self.forbid_rows = np.array([k[0] for k in keys], dtype=np.int64)
        self.forbid_cols = np.array([k[1] for k in keys], dtype=np.int64)

    def gap_points(self, rows: slice | np.ndarray) -> np.ndarray | None:
        """Age- and grade-gap points of the given rows against every column (None: no points)."""
        gaps = []
        for use, mentor_v, mentee_v, table in (
                (self.use_age, self.age_M, self.age_m, self.age_table),
                (self.use_grade, self.grade_M, self.grade_m, self.grade_table)):
            if use:
                gap = np.subtract(mentor_v[None, :], mentee_v[rows, None])
                np.clip(gap, -GAP_OFFSET, GAP_OFFSET, out=gap)
                gap += GAP_OFFSET
                gaps.append((gap, table))
        if len(gaps) == 2:  # one lookup in the joint (age gap, grade gap) table
            joint = gaps[0][0]
            joint *= self.gap_width
            joint += gaps[1][0]
            return self.gap_table.take(joint)
        if gaps:
            return gaps[0][1].take(gaps[0][0])
        return None

    def apply_seniority(self, admissible: np.ndarray, rows: slice | np.ndarray) -> None:
        """Clear the pupil pairs where the mentor is not (provably) senior, in place."""
        student_rows = self.student_m[rows]
        if student_rows.any() and len(self.student_cols):
            # Same rule as scoring.seniority: grade decides if both are known, else
            # age.  Unknown values are sentinels (mentee high, mentor low), so a comparison
            # involving one is False, which is what "cannot tell" must mean.
            cols = self.student_cols
            grade_m, grade_M = self.grade_m[rows, None], self.grade_M[None, cols]
            senior = grade_M > grade_m
            both_grades = self.grade_known_m[rows, None] & self.grade_known_M[None, cols]
            senior |= ~both_grades & (self.age_M[None, cols] > self.age_m[rows, None])
            senior |= ~student_rows[:, None]
            if len(cols) == self.n_cols:
                admissible &= senior
            else:
                admissible[:, cols] &= senior

    def mentee_classes(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows that gap points and seniority cannot tell apart: (class of each row, one row
        of each class).  Pricing tabulates those two per class instead of per pair."""
        key = np.stack([self.age_m, self.grade_m, self.student_m.astype(np.int32)], axis=1)
        _, first, classes = np.unique(key, axis=0, return_index=True, return_inverse=True)
        return classes.reshape(-1), first

    def pair_scores(self, r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (int64) and admissibility ignoring capacity of the pairs (r[k], c[k]).

        The same lookup tables as ``chunk``, gathered pair by pair instead of over a block of
        rows: pricing calls it on the few pairs its bound cannot rule out.
        """
        total = np.zeros(len(r), dtype=np.int64)
        if self.use_joint:
            index = _pair_overlap(self.req_bits[r], self.comp_bits[c]) * self.joint_stride
            index += self.joint_base[r]
            index += _pair_overlap(self.av_m[r], self.av_M[c])
            total += self.joint_table.take(index)
        else:
            for use, table, base, left, right in (
                    (self.use_req, self.req_table, self.req_base, self.req_bits, self.comp_bits),
                    (self.use_av, self.av_table, self.av_base, self.av_m, self.av_M)):
                if use:
                    total += table.take(base[r] + _pair_overlap(left[r], right[c]))
        total += np.where(self.org_m[r] == self.org_M[c], self.w_org, 0)
        total += np.where(self.mun_m[r] == self.mun_M[c], self.w_mun, 0)
        gaps = [(np.clip(mentor_v[c] - mentee_v[r], -GAP_OFFSET, GAP_OFFSET) + GAP_OFFSET, table)
                for use, mentor_v, mentee_v, table in (
                    (self.use_age, self.age_M, self.age_m, self.age_table),
                    (self.use_grade, self.grade_M, self.grade_m, self.grade_table)) if use]
        if len(gaps) == 2:
            total += self.gap_table.take(gaps[0][0] * self.gap_width + gaps[1][0])
        elif gaps:
            total += gaps[0][1].take(gaps[0][0])

        both_grades = self.grade_known_m[r] & self.grade_known_M[c]
        senior = np.where(both_grades, self.grade_M[c] > self.grade_m[r],
                          self.age_M[c] > self.age_m[r])
        admissible = senior | ~(self.student_m[r] & self.student_M[c])

        keys = r * self.n_cols + c
        for sparse_rows, sparse_cols, apply in (
                (self.bonus_rows, self.bonus_cols, "bonus"),
                (self.forbid_rows, self.forbid_cols, "forbid")):
            if not len(sparse_rows):
                continue
            sparse_keys = sparse_rows * self.n_cols + sparse_cols  # sorted: built from sorted pairs
            at = np.minimum(np.searchsorted(sparse_keys, keys), len(sparse_keys) - 1)
            hit = sparse_keys[at] == keys
            if apply == "bonus":
                total[hit] += self.bonus_milli[at[hit]]
            else:
                admissible[hit] = False
        return total, admissible

    def chunk(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores (int32) and admissibility ignoring capacity (bool) of rows r0:r1.

        Written for speed: this runs over every mentee × mentor pair, so each step works
        in place where it can and skips criteria whose weight is zero.
        """
        rows = slice(r0, r1)
        total = np.zeros((r1 - r0, self.n_cols), dtype=np.int32)
        if self.use_joint:
            index = np.multiply(_overlap(self.req_bits[rows], self.comp_bits),
                                np.int32(self.joint_stride), dtype=np.int32)
            index += self.joint_base[rows, None]
            index += _overlap(self.av_m[rows], self.av_M)
            total += self.joint_table.take(index)
        else:
            for use, table, base, left, right in (
                    (self.use_req, self.req_table, self.req_base, self.req_bits,
                     self.comp_bits),
                    (self.use_av, self.av_table, self.av_base, self.av_m, self.av_M)):
                if use:
                    index = np.add(base[rows, None], _overlap(left[rows], right),
                                   dtype=np.int32)
                    total += table.take(index)
        for weight, mentee_code, mentor_code in ((self.w_org, self.org_m, self.org_M),
                                                 (self.w_mun, self.mun_m, self.mun_M)):
            if weight:
                np.add(total, weight, out=total,
                       where=mentee_code[rows, None] == mentor_code[None, :])
        gap = self.gap_points(rows)
        if gap is not None:
            total += gap
        admissible = np.ones_like(total, dtype=bool)
        self.apply_seniority(admissible, rows)

        lo, hi = np.searchsorted(self.bonus_rows, [r0, r1])
        total[self.bonus_rows[lo:hi] - r0, self.bonus_cols[lo:hi]] += self.bonus_milli[lo:hi]
        lo, hi = np.searchsorted(self.forbid_rows, [r0, r1])
        admissible[self.forbid_rows[lo:hi] - r0, self.forbid_cols[lo:hi]] = False
        return total, admissible
