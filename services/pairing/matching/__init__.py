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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .candidates import CandidateGraph, build_candidates
    from .solvers import (
        available_backends,
        greedy_baseline,
        max_weight_b_matching,
        stable_matching,
        suggest,
    )

#: The solvers and the candidate generation need numpy, scipy and OR-Tools (~100 MB resident,
#: ~0.5 s to import): loaded the first time a matching runs, never by a process that only
#: records pairs, meetings and goals (the profiles and the scoring above need none of them).
_LAZY = {"CandidateGraph": "candidates", "build_candidates": "candidates",
         "available_backends": "solvers", "greedy_baseline": "solvers",
         "max_weight_b_matching": "solvers", "stable_matching": "solvers", "suggest": "solvers"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CATEGORIES", "DEFAULT_FORMS", "DEFAULT_WEIGHTS", "EXCLUSION_REASONS", "UNMATCHED_REASONS",
    "Assignment", "CandidateGraph", "Criterion", "Exclusion", "Form", "MenteeProfile",
    "MentorProfile", "Objective", "Score", "StableMatching", "Suggestion", "Unmatched",
    "Weights", "available_backends", "build_candidates", "check_hard_rules", "greedy_baseline",
    "max_weight_b_matching", "score_pair", "stable_matching", "suggest",
]
