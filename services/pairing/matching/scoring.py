"""Hard rules and the explainable score of one mentee–mentor pair.

Integer scores: every criterion is rounded once, to a whole number of milli-points
(``to_milli``: ``round(weight * fraction * 1000)``, Python's round-half-to-even), and a pair's
total is the exact sum of those integers.  The flow/assignment solvers optimise these integers,
so what they maximise is exactly what ``Score.total_milli`` reports, and the listed criteria
always sum to ``Score.total`` (up to float display of a multiple of 0.001).

The vectorised scorer in ``candidates`` builds its lookup tables from the very
functions below, which is what keeps the two paths bit-for-bit equal.
"""

from __future__ import annotations

from collections.abc import Collection

from shared.titles import category_title

from .domain import (
    CATEGORY_NOT_ALLOWED,
    CONFLICT_OF_INTEREST,
    DEFAULT_WEIGHTS,
    EXCLUSION_REASONS,
    MENTOR_NOT_SENIOR,
    NO_CAPACITY,
    NO_CONSENT,
    SAME_PERSON,
    SENIORITY_UNKNOWN,
    STUDENT,
    Criterion,
    Exclusion,
    Form,
    MenteeProfile,
    MentorProfile,
    Score,
    Weights,
)

MILLI = 1000

REQUESTS = "REQUESTS_MATCH"
SAME_ORGANISATION = "SAME_ORGANISATION"
SAME_MUNICIPALITY = "SAME_MUNICIPALITY"
AGE_GAP = "AGE_GAP"
GRADE_GAP = "GRADE_GAP"
AVAILABILITY = "AVAILABILITY_OVERLAP"
MENTEE_PREFERS = "MENTEE_PREFERS"
MENTOR_PREFERS = "MENTOR_PREFERS"
MUTUAL_CHOICE = "MUTUAL_CHOICE"


def to_milli(weight: float, fraction: float) -> int:
    """Points of one criterion in integer milli-points; the only rounding in the system."""
    return round(weight * fraction * MILLI)


def share(part: int, whole: int) -> float:
    """Share of the mentee's requests (or time slots) the mentor covers; 0 if none asked."""
    return part / whole if whole else 0.0


def window_fraction(gap: int, window: tuple[int, int]) -> float:
    """1 inside the ideal gap window, 0.5 within two units of it, else 0."""
    lo, hi = window
    if lo <= gap <= hi:
        return 1.0
    if lo - 2 <= gap <= hi + 2:
        return 0.5
    return 0.0


def rank_fraction(rank: int, length: int) -> float:
    """First choice gives the full weight, the last of L choices 1/L of it."""
    return (length - rank) / length


def _exclusion(code: str, detail: str) -> Exclusion:
    return Exclusion(code, f"{EXCLUSION_REASONS[code]} ({detail})" if detail else
                     EXCLUSION_REASONS[code])


def mentee_exclusion(mentee: MenteeProfile, form: Form) -> Exclusion | None:
    """Rules that exclude a mentee from every pair of this form."""
    return _person_exclusion(mentee.consent, mentee.category, form.mentee_categories,
                             "наставляемый", form)


def mentor_exclusion(mentor: MentorProfile, form: Form) -> Exclusion | None:
    """Rules that exclude a mentor from every pair of this form, except capacity."""
    return _person_exclusion(mentor.consent, mentor.category, form.mentor_categories,
                             "наставник", form)


def _person_exclusion(consent: bool, category: str, allowed: Collection[str], who: str,
                      form: Form) -> Exclusion | None:
    """The consent and category rules, alike for both sides of a pair (``who`` names the side)."""
    if not consent:
        return _exclusion(NO_CONSENT, who)
    if category not in allowed:
        return _exclusion(CATEGORY_NOT_ALLOWED, f"{who}: {category_title(category)}, "
                                                f"форма «{form.title_ru or form.code}»")
    return None


def seniority(mentee: MenteeProfile, mentor: MentorProfile) -> bool | None:
    """Is a pupil-mentor senior to a pupil-mentee?  None when nothing lets us tell.

    Grade decides when both grades are known (a younger pupil who skipped a grade may still
    mentor); age decides only when a grade is missing.
    """
    if mentee.grade is not None and mentor.grade is not None:
        return mentor.grade > mentee.grade
    if mentee.age is not None and mentor.age is not None:
        return mentor.age > mentee.age
    return None


def pair_exclusion(mentee: MenteeProfile, mentor: MentorProfile) -> Exclusion | None:
    """Rules that depend on both people (not on the form or capacity)."""
    if mentee.id == mentor.id:
        return _exclusion(SAME_PERSON, "")
    if mentor.id in mentee.relatives:
        return _exclusion(CONFLICT_OF_INTEREST, "родитель или законный представитель")
    if mentee.class_teacher is not None and mentee.class_teacher == mentor.id:
        return _exclusion(CONFLICT_OF_INTEREST, "классный руководитель")
    if mentee.category == STUDENT and mentor.category == STUDENT:
        senior = seniority(mentee, mentor)
        if senior is None:
            return _exclusion(SENIORITY_UNKNOWN, "")
        if not senior:
            return _exclusion(MENTOR_NOT_SENIOR, "")
    return None


def check_hard_rules(mentee: MenteeProfile, mentor: MentorProfile, form: Form) -> Exclusion | None:
    """First broken hard rule, or None.  Capacity is checked last on purpose: an exclusion
    with code NO_CAPACITY then means "admissible, but full", which the unmatched report
    distinguishes from "not admissible at all"."""
    return (mentee_exclusion(mentee, form) or mentor_exclusion(mentor, form)
            or pair_exclusion(mentee, mentor)
            or (_exclusion(NO_CAPACITY, f"мест {mentor.capacity}, занято {mentor.load}")
                if mentor.capacity - mentor.load <= 0 else None))


def _first_rank(preferred: tuple[str, ...], target: str) -> int | None:
    try:
        return preferred.index(target)
    except ValueError:
        return None


def _preference(code: str, chose: str, rank: int, length: int, weight: float
                ) -> tuple[str, str, int]:
    """The criterion of one side's choice: its place in that side's list of ``length``."""
    return (code, f"{chose} (место {rank + 1} из {length})",
            to_milli(weight, rank_fraction(rank, length)))


def score_pair(mentee: MenteeProfile, mentor: MentorProfile, form: Form,
               weights: Weights = DEFAULT_WEIGHTS) -> Score | Exclusion:
    """Score a pair with its explanation, or say which hard rule excludes it.

    Only criteria that give non-zero points are listed; they sum exactly to ``total``.
    """
    excluded = check_hard_rules(mentee, mentor, form)
    if excluded is not None:
        return excluded
    items: list[tuple[str, str, int]] = []

    common = len(mentee.requests & mentor.competencies)
    items.append((REQUESTS, f"Компетенции наставника покрывают запросы наставляемого: "
                            f"{common} из {len(mentee.requests)}",
                  to_milli(weights.requests_vs_competencies,
                           share(common, len(mentee.requests)))))
    if mentee.organisation == mentor.organisation:
        items.append((SAME_ORGANISATION, "Одна образовательная организация",
                      to_milli(weights.same_organisation, 1.0)))
    if mentee.municipality == mentor.municipality:
        items.append((SAME_MUNICIPALITY, "Один муниципалитет",
                      to_milli(weights.same_municipality, 1.0)))
    if mentee.age is not None and mentor.age is not None:
        gap = mentor.age - mentee.age
        items.append((AGE_GAP, f"Разница в возрасте: {gap} (идеально "
                               f"{weights.age_gap_ideal[0]}–{weights.age_gap_ideal[1]})",
                      to_milli(weights.age_gap, window_fraction(gap, weights.age_gap_ideal))))
    if mentee.grade is not None and mentor.grade is not None:
        gap = mentor.grade - mentee.grade
        items.append((GRADE_GAP, f"Разница в классах: {gap} (идеально "
                                 f"{weights.grade_gap_ideal[0]}–{weights.grade_gap_ideal[1]})",
                      to_milli(weights.grade_gap,
                               window_fraction(gap, weights.grade_gap_ideal))))
    overlap = len(mentee.availability & mentor.availability)
    items.append((AVAILABILITY, f"Совпадение свободного времени: {overlap} из "
                                f"{len(mentee.availability)}",
                  to_milli(weights.availability_overlap,
                           share(overlap, len(mentee.availability)))))
    mentee_rank = _first_rank(mentee.preferred, mentor.id)
    if mentee_rank is not None:
        items.append(_preference(MENTEE_PREFERS, "Наставляемый выбрал наставника", mentee_rank,
                                 len(mentee.preferred), weights.mentee_prefers))
    mentor_rank = _first_rank(mentor.preferred, mentee.id)
    if mentor_rank is not None:
        items.append(_preference(MENTOR_PREFERS, "Наставник выбрал наставляемого", mentor_rank,
                                 len(mentor.preferred), weights.mentor_prefers))
    if mentee_rank is not None and mentor_rank is not None:
        items.append((MUTUAL_CHOICE, "Взаимный выбор", to_milli(weights.mutual_choice, 1.0)))

    criteria = tuple(Criterion(code, label, milli / MILLI)
                     for code, label, milli in items if milli != 0)
    return Score(sum(m for _, _, m in items) / MILLI, criteria)
