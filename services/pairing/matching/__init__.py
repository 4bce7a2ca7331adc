"""Matching core of the pairing service: who should mentor whom, and why.

Pure domain code, no I/O.  The pieces live in this package's modules:
  * ``domain``     — profiles, forms of mentorship (``DEFAULT_FORMS``), weights, results;
  * ``scoring``    — hard rules and the explainable ``score_pair``;
  * ``candidates`` — vectorised candidate generation (top-K per mentee at scale);
  * ``encoding``   — profiles as arrays and the vectorised scorer (graph and pricing alike);
  * ``solvers``    — optimal ``suggest`` (min-cost b-matching), ``stable_matching``
                     (deferred acceptance) and ``greedy_baseline`` (benchmarks only);
  * ``pricing``    — the proof for large instances: LP duals of the solved graph and
                     pricing of every left-out pair;
  * ``column_generation`` — solve, price, add the pairs that could improve, until proved.
"""

from .candidates import CandidateGraph, build_candidates
from .domain import (
    CATEGORIES,
    DEFAULT_FORMS,
    DEFAULT_WEIGHTS,
    EXCLUSION_REASONS,
    UNMATCHED_REASONS,
    Assignment,
    Criterion,
    Exclusion,
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
from .scoring import check_hard_rules, score_pair
from .solvers import (
    available_backends,
    greedy_baseline,
    max_weight_b_matching,
    stable_matching,
    suggest,
)

__all__ = [
    "CATEGORIES", "DEFAULT_FORMS", "DEFAULT_WEIGHTS", "EXCLUSION_REASONS", "UNMATCHED_REASONS",
    "Assignment", "CandidateGraph", "Criterion", "Exclusion", "Form", "MenteeProfile",
    "MentorProfile", "Objective", "Score", "StableMatching", "Suggestion", "Unmatched",
    "Weights", "available_backends", "build_candidates", "check_hard_rules", "greedy_baseline",
    "max_weight_b_matching", "score_pair", "stable_matching", "suggest",
]
