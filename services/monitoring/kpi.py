"""The KPIs of the target model of mentorship (ЦМН), computed from plain counts. No I/O here.

The catalogue of indicators is configuration (``indicators.toml``; a region adds its own file).
Each indicator is a share: a named count from the monitoring figures over a named figure of the
contingent the registry declares. The dashboards (``dashboards``) keep those counts per
organisation and sum them up to the municipality and the region, so any level's share sums
numerators and denominators of everything inside it — shares are never averaged, so a big school
weighs as much as its pupils do.

Small-group protection: a share over a group of fewer than ``min_group`` people is suppressed
(``"<5"``), so no figure describes a single person.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared import figures as fmt
from shared.auth import CODE_PATTERN
from shared.errors import DomainError
from shared.events import ContingentDeclared, MenteeRegistered, MentorRegistered

DEFAULT_CATALOGUE = Path(__file__).with_name("indicators.toml")
CONTINGENT_PREFIX = "contingent."
CONTINGENT_FIELDS: frozenset[str] = frozenset(
    name for name in ContingentDeclared.model_fields if name != "school_year")

# Names of the counts the monitoring projection keeps per organisation path; the catalogue may
# name others (a region's own figures) as long as the projection provides them.
MENTEES_STUDENTS_10_19 = "mentees.students_10_19"
MENTORS_STUDENTS_15_19 = "mentors.students_15_19"
MENTEES_YOUNG_TEACHERS = "mentees.young_teachers"
ENTERPRISES_PROVIDING_MENTORS = "enterprises.providing_mentors"
SURVEY_RESPONDENTS = "survey.respondents"
SURVEY_SATISFIED = "survey.satisfied"
#: Distinct participants behind those answers (one answers once per pair).
SURVEY_PEOPLE = "survey.people"
#: «Школа наставников»: distinct mentors with a confirmed training, and all registered mentors.
MENTORS_TRAINED = "mentors.trained"
MENTORS = "mentors"
FIGURE_NAMES: frozenset[str] = frozenset({
    MENTEES_STUDENTS_10_19, MENTORS_STUDENTS_15_19, MENTEES_YOUNG_TEACHERS,
    ENTERPRISES_PROVIDING_MENTORS, SURVEY_RESPONDENTS, SURVEY_SATISFIED, SURVEY_PEOPLE,
    MENTORS_TRAINED, MENTORS,
})

#: Categories whose people are counted in the contingent of students (обучающиеся) of a school
#: or college; university students belong to no contingent the registry declares.
STUDENT_CATEGORIES: frozenset[str] = frozenset({"student", "college_student"})
EMPLOYER_KINDS: frozenset[str] = frozenset({"employer"})



# --- the catalogue --------------------------------------------------------------------------

class Indicator(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    title: str = Field(min_length=3)
    #: The short name tables and charts print (the title when none is given).
    label: str | None = None
    numerator: str = Field(min_length=1)
    denominator: str = Field(min_length=1)
    target: float | None = Field(default=None, ge=0, le=1)
    unit: Literal["percent"] = "percent"
    #: The period a numerator counts people in: the school year or a half of it.
    period: Literal["school_year", "half"] = "school_year"
    #: Decimals of the share in per cent: the one formatter's rule, stated where it applies.
    rounding: Literal[1] = fmt.PERCENT_DECIMALS
    #: ``min_group``: a group smaller than ``min_group`` people is hidden.
    disclosure: Literal["min_group", "none"] = "min_group"
    #: The figure counting the people the share describes, when not the denominator (answers
    #: over people who answer several times): small-group protection counts these.
    people: str | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value.replace("_", "-")):
            raise ValueError("код показателя: латинские строчные буквы, цифры, «-» и «_»")
        return value

    @field_validator("numerator", "denominator", "people")
    @classmethod
    def _figure(cls, value: str | None) -> str | None:
        if value is not None and value.startswith(CONTINGENT_PREFIX) and \
                value.removeprefix(CONTINGENT_PREFIX) not in CONTINGENT_FIELDS:
            raise ValueError(f"в контингенте нет поля {value.removeprefix(CONTINGENT_PREFIX)!r}; "
                             f"есть: {', '.join(sorted(CONTINGENT_FIELDS))}")
        return value


class Figure(BaseModel):
    """A count every summary shows under one name (pairs active now, formed, completed...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=3)
    metric: str = Field(min_length=1)
    unit: Literal["count"] = "count"


class CatalogueSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_group: int = Field(default=5, ge=1)
    satisfaction_threshold: int = Field(default=8, ge=1, le=10)


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True)

    settings: CatalogueSettings = CatalogueSettings()
    indicators: tuple[Indicator, ...]
    figures: tuple[Figure, ...] = ()

    def get(self, code: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        raise DomainError("INDICATOR_NOT_FOUND", f"Показатель «{code}» не найден", 404)

    def extended(self, overlay: Mapping[str, Any]) -> Catalogue:
        """A region's file on top: same code replaces, a new code is appended."""
        try:
            settings = CatalogueSettings.model_validate(
                {**self.settings.model_dump(), **overlay.get("settings", {})})
            extra = [Indicator.model_validate(item) for item in overlay.get("indicator", [])]
            more = [Figure.model_validate(item) for item in overlay.get("figure", [])]
        except ValidationError as exc:
            raise invalid_catalogue(exc) from exc
        merged = {i.code: i for i in self.indicators}
        for indicator in extra:
            merged[indicator.code] = indicator
        counts = {f.code: f for f in self.figures}
        for figure in more:
            counts[figure.code] = figure
        return Catalogue(settings=settings, indicators=tuple(merged.values()),
                         figures=tuple(counts.values()))


def invalid_catalogue(exc: ValidationError) -> DomainError:
    details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    return DomainError("INVALID_INDICATOR_CATALOGUE",
                       "Каталог показателей заполнен с ошибками", 422, details)


def parse_catalogue(data: Mapping[str, Any]) -> Catalogue:
    try:
        indicators = [Indicator.model_validate(item) for item in data.get("indicator", [])]
        counts = [Figure.model_validate(item) for item in data.get("figure", [])]
        settings = CatalogueSettings.model_validate(data.get("settings", {}))
    except ValidationError as exc:
        raise invalid_catalogue(exc) from exc
    codes = [i.code for i in indicators]
    if len(set(codes)) != len(codes):
        raise DomainError("INVALID_INDICATOR_CATALOGUE",
                          "В каталоге показателей один код указан дважды", 422)
    return Catalogue(settings=settings, indicators=tuple(indicators), figures=tuple(counts))


def load_catalogue(*region_files: Path | str) -> Catalogue:
    """The default catalogue, extended by each region file in turn."""
    catalogue = parse_catalogue(tomllib.loads(DEFAULT_CATALOGUE.read_text(encoding="utf-8")))
    for path in region_files:
        try:
            overlay = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DomainError("INVALID_INDICATOR_CATALOGUE",
                              f"Файл показателей не читается как TOML: {exc}", 422) from exc
        catalogue = catalogue.extended(overlay)
    return catalogue


# --- which counts a registered person adds to --------------------------------------------------

def age_in_school_year(birth_year: int, school_year: str) -> int:
    """The age reached in the calendar year the school year starts (``2025/2026`` → 2025).

    Events carry the birth year only (the date is personal data), so this is the age the
    contingent statistics use: how old the person turns in that year.
    """
    return int(school_year[:4]) - birth_year


def mentee_figures(mentee: MenteeRegistered, school_year: str) -> tuple[str, ...]:
    """The KPI counts a registered mentee adds one to."""
    age = age_in_school_year(mentee.birth_year, school_year)
    if mentee.category in STUDENT_CATEGORIES and 10 <= age <= 19:
        return (MENTEES_STUDENTS_10_19,)
    if mentee.category == "young_teacher" and age < 35:
        return (MENTEES_YOUNG_TEACHERS,)
    return ()


def mentor_figures(mentor: MentorRegistered, school_year: str) -> tuple[str, ...]:
    """The KPI counts a registered mentor adds one to (the employer count is per organisation)."""
    age = age_in_school_year(mentor.birth_year, school_year)
    if mentor.category in STUDENT_CATEGORIES and 15 <= age <= 19:
        return (MENTORS_STUDENTS_15_19,)
    return ()


@dataclass(frozen=True)
class Share:
    """A KPI at one unit. When suppressed, no number is kept, so none can leak."""

    code: str
    title: str
    numerator: int | None
    denominator: int | None
    value: float | None
    target: float | None
    met: bool | None
    suppressed: bool = False
    min_group: int = 5
    label: str = ""

    @property
    def stale(self) -> bool:
        """More counted than declared: the contingent is out of date, the share means nothing."""
        return bool(self.numerator is not None and self.denominator
                    and self.numerator > self.denominator)

    @property
    def percent(self) -> str:
        """The one formatter's text: «66,7 %», «—», «скрыто: …», «нет данных: …»."""
        return fmt.share(self.numerator, self.denominator, suppressed=self.suppressed,
                         min_group=self.min_group)

    def to_json(self) -> dict[str, Any]:
        hidden = f"<{self.min_group}" if self.suppressed else None
        return {
            "code": self.code, "title": self.title, "label": self.label or self.title,
            "numerator": hidden or self.numerator, "denominator": hidden or self.denominator,
            "value": self.value, "percent": self.percent, "display": self.percent,
            "target": self.target, "target_display": fmt.target(self.target),
            "met": self.met, "met_display": fmt.met(self.met),
            "calculation": (fmt.NO_DATA if self.suppressed or not self.denominator else
                            f"{fmt.count(self.numerator)} из {fmt.count(self.denominator)}"),
            "data_problem": "contingent_stale" if self.stale else None,
            "suppressed": self.suppressed,
        }


def share(indicator: Indicator, figures: Mapping[str, int], min_group: int = 5) -> Share:
    numerator = figures.get(indicator.numerator, 0)
    denominator = figures.get(indicator.denominator, 0)
    people = denominator if indicator.people is None else figures.get(indicator.people, 0)
    label = indicator.label or indicator.title
    if indicator.disclosure == "min_group" and denominator > 0 and people < min_group:
        return Share(indicator.code, indicator.title, None, None, None, indicator.target, None,
                     suppressed=True, min_group=min_group, label=label)
    if denominator == 0 or numerator > denominator:
        # 0/0 has no share; more counted than declared is a data problem, never «122,7 %».
        return Share(indicator.code, indicator.title, numerator, denominator, None,
                     indicator.target, None, min_group=min_group, label=label)
    exact = Fraction(numerator, denominator)
    met = None if indicator.target is None else exact >= Fraction(str(indicator.target))
    return Share(indicator.code, indicator.title, numerator, denominator,
                 round(float(exact), 4), indicator.target, met, min_group=min_group, label=label)


def shares(catalogue: Catalogue, figures: Mapping[str, int]) -> list[Share]:
    return [share(i, figures, catalogue.settings.min_group) for i in catalogue.indicators]
