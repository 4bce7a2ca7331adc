"""Domain types of the matching core: profiles, forms of mentorship, weights and results.

Pure data, no I/O and no solver logic.  Identifiers are English; every text a person can see
(exclusion reasons, criterion labels, form titles) is Russian.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Objective = Literal["max_score", "max_pairs"]

# --- Participant categories -------------------------------------------------------------

STUDENT = "student"  # school pupil (ученик)
TEACHER = "teacher"
YOUNG_TEACHER = "young_teacher"  # молодой специалист
COLLEGE_STUDENT = "college_student"
UNIVERSITY_STUDENT = "university_student"
EMPLOYER = "employer"
GRADUATE = "graduate"
PARENT = "parent"
PARTNER = "partner"

CATEGORIES: frozenset[str] = frozenset({
    STUDENT, TEACHER, YOUNG_TEACHER, COLLEGE_STUDENT, UNIVERSITY_STUDENT, EMPLOYER, GRADUATE,
    PARENT, PARTNER,
})

# --- Machine codes with their Russian explanations --------------------------------------

SAME_PERSON = "SAME_PERSON"
NO_CONSENT = "NO_CONSENT"
CATEGORY_NOT_ALLOWED = "CATEGORY_NOT_ALLOWED"
CONFLICT_OF_INTEREST = "CONFLICT_OF_INTEREST"
MENTOR_NOT_SENIOR = "MENTOR_NOT_SENIOR"
SENIORITY_UNKNOWN = "SENIORITY_UNKNOWN"
NO_CAPACITY = "NO_CAPACITY"

EXCLUSION_REASONS: Mapping[str, str] = MappingProxyType({
    SAME_PERSON: "Наставник и наставляемый — одно и то же лицо",
    NO_CONSENT: "Нет согласия на обработку персональных данных",
    CATEGORY_NOT_ALLOWED: "Категория участника не предусмотрена формой наставничества",
    CONFLICT_OF_INTEREST: "Конфликт интересов: наставник — родитель (законный представитель) "
                          "или классный руководитель наставляемого",
    MENTOR_NOT_SENIOR: "Наставник-ученик должен быть старше наставляемого "
                       "или учиться в более старшем классе",
    SENIORITY_UNKNOWN: "Нельзя проверить, что наставник-ученик старше наставляемого: "
                       "не указаны ни классы, ни возраст",
    NO_CAPACITY: "У наставника нет свободных мест",
})

NO_ADMISSIBLE_MENTOR = "NO_ADMISSIBLE_MENTOR"
ALL_MENTORS_FULL = "ALL_MENTORS_FULL"
NO_POSITIVE_SCORE = "NO_POSITIVE_SCORE"
NOT_SELECTED = "NOT_SELECTED"
REJECTED = "REJECTED"

UNMATCHED_REASONS: Mapping[str, str] = MappingProxyType({
    NO_ADMISSIBLE_MENTOR: "Нет ни одного допустимого наставника: все исключены обязательными "
                          "правилами (согласие, форма наставничества, конфликт интересов, "
                          "старшинство)",
    ALL_MENTORS_FULL: "Все допустимые наставники уже полностью загружены",
    NO_POSITIVE_SCORE: "Ни одна допустимая пара не даёт положительной оценки соответствия",
    NOT_SELECTED: "Не выбран в оптимальном распределении: места у подходящих наставников "
                  "отданы другим наставляемым",
    REJECTED: "Все подходящие наставники со свободными местами предпочли других "
              "наставляемых (устойчивое распределение)",
})


# --- Profiles ---------------------------------------------------------------------------

def _coerce(instance: object, name: str, kind: type) -> None:
    """Accept any iterable for set/tuple fields but store the immutable kind.

    The dataclasses are frozen and hashed/compared by value, so a caller's mutable list or
    set must not leak in.
    """
    value = getattr(instance, name)
    if isinstance(value, str):  # a bare string would silently become a set of letters
        raise TypeError(f"{name} must be a collection of strings, not a string")
    if not isinstance(value, kind):
        object.__setattr__(instance, name, kind(value))


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")


@dataclass(frozen=True)
class MenteeProfile:
    id: str
    category: str
    organisation: str
    municipality: str
    age: int | None
    grade: int | None
    requests: frozenset[str]
    availability: frozenset[str]
    consent: bool
    preferred: tuple[str, ...] = ()  # mentor ids, most wanted first
    relatives: frozenset[str] = frozenset()  # mentor ids who are parent / guardian
    class_teacher: str | None = None  # mentor id

    def __post_init__(self) -> None:
        _check_category(self.category)
        for name in ("requests", "availability", "relatives"):
            _coerce(self, name, frozenset)
        _coerce(self, "preferred", tuple)


@dataclass(frozen=True)
class MentorProfile:
    id: str
    category: str
    organisation: str
    municipality: str
    age: int | None
    grade: int | None
    competencies: frozenset[str]
    availability: frozenset[str]
    capacity: int
    load: int  # mentees already assigned elsewhere
    consent: bool
    preferred: tuple[str, ...] = ()  # mentee ids, most wanted first

    def __post_init__(self) -> None:
        _check_category(self.category)
        if self.capacity < 0 or self.load < 0:
            raise ValueError("capacity and load must be non-negative")
        for name in ("competencies", "availability"):
            _coerce(self, name, frozenset)
        _coerce(self, "preferred", tuple)

    @property
    def free_slots(self) -> int:
        return max(0, self.capacity - self.load)


# --- Forms of mentorship ----------------------------------------------------------------

@dataclass(frozen=True)
class Form:
    """A form of mentorship is configuration: which categories may mentor whom."""

    code: str
    mentor_categories: frozenset[str]
    mentee_categories: frozenset[str]
    title_ru: str = ""

    def __post_init__(self) -> None:
        _coerce(self, "mentor_categories", frozenset)
        _coerce(self, "mentee_categories", frozenset)
        if not self.mentor_categories or not self.mentee_categories:
            raise ValueError("a form needs at least one mentor and one mentee category")
        for category in self.mentor_categories | self.mentee_categories:
            _check_category(category)


def _form(code: str, title: str, mentors: Iterable[str], mentees: Iterable[str]) -> Form:
    return Form(code, frozenset(mentors), frozenset(mentees), title)


_TERTIARY = (COLLEGE_STUDENT, UNIVERSITY_STUDENT)

DEFAULT_FORMS: Mapping[str, Form] = MappingProxyType({
    f.code: f for f in (
        _form("student-student", "Ученик – ученик", [STUDENT], [STUDENT]),
        _form("teacher-teacher", "Учитель – учитель", [TEACHER], [TEACHER, YOUNG_TEACHER]),
        _form("experienced-young-teacher", "Опытный педагог – молодой специалист",
              [TEACHER], [YOUNG_TEACHER]),
        _form("teacher-peer", "Педагог – педагог (равный – равному)", [TEACHER], [TEACHER]),
        _form("college-student", "Студент – ученик", _TERTIARY, [STUDENT]),
        _form("employer-student", "Работодатель – ученик", [EMPLOYER], [STUDENT]),
        _form("teacher-student", "Учитель – ученик", [TEACHER], [STUDENT]),
        _form("student-teacher", "Ученик – учитель (обратное наставничество)",
              [STUDENT], [TEACHER, YOUNG_TEACHER]),
        _form("college-college", "Студент – студент", _TERTIARY, _TERTIARY),
        _form("employer-college", "Работодатель – студент", [EMPLOYER], _TERTIARY),
    )
})


# --- Weights ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Weights:
    """Points each soft criterion can give; negative weights turn a criterion into a penalty.

    The default ``mutual_choice`` exceeds the sum of every other criterion a pair without
    mutual choice can collect, so a mutual choice outranks any other pair.
    """

    requests_vs_competencies: float = 30.0  # times the share of requests a mentor covers
    same_organisation: float = 10.0
    same_municipality: float = 5.0
    age_gap: float = 5.0  # full inside age_gap_ideal, half within 2 years of it
    grade_gap: float = 5.0  # full inside grade_gap_ideal, half within 2 grades of it
    availability_overlap: float = 10.0  # times the share of the mentee's slots the mentor has
    mentee_prefers: float = 15.0  # times (L - rank) / L for the mentee's list of length L
    mentor_prefers: float = 15.0  # same for the mentor's list
    mutual_choice: float = 100.0
    age_gap_ideal: tuple[int, int] = (1, 4)  # mentor older by this many years
    grade_gap_ideal: tuple[int, int] = (1, 3)  # mentor this many grades higher

    def __post_init__(self) -> None:
        for name in ("requests_vs_competencies", "same_organisation", "same_municipality",
                     "age_gap", "grade_gap", "availability_overlap", "mentee_prefers",
                     "mentor_prefers", "mutual_choice"):
            value = getattr(self, name)
            # 1e6 points keeps milli-point sums far inside int64 and float64's exact range.
            if not math.isfinite(value) or abs(value) > 1e6:
                raise ValueError(f"weight {name} must be finite and at most 1e6 in magnitude")
        for name in ("age_gap_ideal", "grade_gap_ideal"):
            lo, hi = getattr(self, name)
            # The vectorised scorer uses a lookup table over gaps in [-200, 200].
            if not (-100 <= lo <= hi <= 100):
                raise ValueError(f"{name} must satisfy -100 <= lo <= hi <= 100")


DEFAULT_WEIGHTS = Weights()


# --- Results ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    code: str
    label_ru: str
    points: float  # a multiple of 0.001, see scoring.to_milli


@dataclass(frozen=True)
class Score:
    total: float
    criteria: tuple[Criterion, ...]

    @property
    def total_milli(self) -> int:
        """The integer objective the solvers optimise (points × 1000, exact)."""
        return sum(round(c.points * 1000) for c in self.criteria)


@dataclass(frozen=True)
class Exclusion:
    code: str
    reason_ru: str


@dataclass(frozen=True)
class Assignment:
    mentee_id: str
    mentor_id: str
    score: Score


@dataclass(frozen=True)
class Unmatched:
    mentee_id: str
    code: str
    reason_ru: str


@dataclass(frozen=True)
class Suggestion:
    objective: Objective
    assignments: list[Assignment]
    groups: dict[str, tuple[str, ...]]  # mentor id -> mentee ids, for mentors of capacity > 1
    unmatched: list[Unmatched]
    total_score: float
    # True when the result is the exact optimum over every admissible pair: either every such
    # pair was an edge of the solved graph, or column generation proved it (``certified``).
    # False only when the top-K candidate graph was solved without a proof, so the result is
    # the optimum over that graph.
    exact: bool
    candidate_edges: int = 0  # edges of the (last) graph solved
    # Optimality proved by a feasible LP dual with the same value (pricing), checked
    # against every admissible pair; always True on the exact path.
    certified: bool = False
    pricing_rounds: int = 0  # pricing passes over all mentee × mentor pairs
    solves: int = 0  # candidate graphs solved (column generation re-solves after pricing)
    priced_edges: int = 0  # pairs pricing brought into the candidate graph
    seconds: Mapping[str, float] = field(default_factory=dict, compare=False)  # time split


@dataclass(frozen=True)
class StableMatching:
    assignments: list[Assignment]
    groups: dict[str, tuple[str, ...]]
    unmatched: list[Unmatched]
    total_score: float
    exact: bool = True
    proposals: int = 0
