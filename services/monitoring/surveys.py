"""Monitoring surveys: questionnaires as configuration, answer validation, satisfaction and growth.

Stage 1 (quality): satisfaction of mentors, mentees and the curator. Stage 2 (growth):
motivational, competency and professional growth, asked with the same questionnaire on entry
and on exit; a participant's growth is mean(exit) − mean(entry). No I/O beyond reading the
questionnaire files.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from statistics import fmean
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import DomainError
from shared.events import SurveyRecorded

DEFAULT_DIR = Path(__file__).with_name("questionnaires")
ANY_FORM = "*"

SurveyKind = Literal["quality", "growth"]
Stage = Literal["quality", "growth_entry", "growth_exit"]
RespondentRole = Literal["mentor", "mentee", "curator"]
Dimension = Literal["motivational", "competency", "professional"]
DIMENSIONS: tuple[Dimension, ...] = ("motivational", "competency", "professional")
PARTICIPANT_ROLES: frozenset[str] = frozenset({"mentor", "mentee"})


# --- questionnaires -------------------------------------------------------------------------

class Question(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    text: str = Field(min_length=3)
    scale_min: int = Field(default=1, ge=1, le=10)
    scale_max: int = Field(default=10, ge=1, le=10)
    required: bool = True
    #: The question whose score says whether the respondent is satisfied with the pair's work.
    overall: bool = False
    dimension: Dimension | None = None

    @model_validator(mode="after")
    def _scale(self) -> Question:
        if self.scale_min >= self.scale_max:
            raise ValueError("шкала: нижняя граница должна быть меньше верхней")
        return self


class Questionnaire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    title: str = Field(min_length=3)
    stage: SurveyKind
    respondent_role: RespondentRole
    forms: tuple[str, ...] = (ANY_FORM,)
    questions: tuple[Question, ...] = Field(alias="question", min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Questionnaire:
        keys = [q.key for q in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError("ключи вопросов должны быть уникальными")
        if sum(q.overall for q in self.questions) > 1:
            raise ValueError("итоговым (overall) может быть только один вопрос")
        if self.stage == "growth" and any(q.dimension is None for q in self.questions):
            raise ValueError("в анкете роста у каждого вопроса должно быть направление (dimension)")
        if not self.forms:
            raise ValueError("укажите формы наставничества или «*»")
        return self

    def serves(self, form: str | None) -> bool:
        return ANY_FORM in self.forms or form in self.forms

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def satisfaction_of(self, scores: Mapping[str, int]) -> float | None:
        """The overall question's score, or the mean of all answers when there is none."""
        overall = next((q.key for q in self.questions if q.overall), None)
        if overall is not None:
            return float(scores[overall]) if overall in scores else None
        return fmean(scores.values()) if scores else None


def parse_questionnaire(data: Mapping[str, Any], source: str = "") -> Questionnaire:
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                   for e in exc.errors()]
        where = f" ({source})" if source else ""
        raise DomainError("INVALID_QUESTIONNAIRE", f"Анкета заполнена с ошибками{where}",
                          422, details) from exc


def load_questionnaires(*directories: Path | str) -> dict[str, Questionnaire]:
    """Every ``*.toml`` of the default folder, then of each region folder (same code replaces)."""
    found: dict[str, Questionnaire] = {}
    for directory in (DEFAULT_DIR, *directories):
        for path in sorted(Path(directory).glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise DomainError("INVALID_QUESTIONNAIRE",
                                  f"Анкета {path.name} не читается как TOML: {exc}", 422) from exc
            questionnaire = parse_questionnaire(data, path.name)
            found[questionnaire.code] = questionnaire
    return found


def questionnaires_for(questionnaires: Mapping[str, Questionnaire], kind: SurveyKind,
                       role: RespondentRole, form: str | None) -> list[Questionnaire]:
    return [q for q in questionnaires.values()
            if q.stage == kind and q.respondent_role == role and q.serves(form)]


# --- answers --------------------------------------------------------------------------------

class AnswerSet(BaseModel):
    """What a respondent sends: which questionnaire, at which stage, and a score per question."""

    model_config = ConfigDict(extra="forbid")

    survey: str
    stage: Stage
    respondent_role: RespondentRole
    respondent_id: UUID | None = None
    pair_id: UUID | None = None
    form: str | None = None
    # Scores are whole numbers, and the schema says so; the questionnaire's own keys and scales
    # (and a non-number, with its question named for the form) are checked by validate_answers.
    answers: dict[str, Any] = Field(json_schema_extra={"additionalProperties": {"type": "integer"}})


def _answer_problem(key: str, code: str, message: str) -> dict[str, str]:
    return {"question": key, "code": code, "message": message}


def validate_answers(questionnaires: Mapping[str, Questionnaire],
                     answer_set: AnswerSet | Mapping[str, Any]) -> SurveyRecorded:
    """A clean ``SurveyRecorded`` payload, or a DomainError naming every problem in Russian."""
    if not isinstance(answer_set, AnswerSet):
        try:
            answer_set = AnswerSet.model_validate(answer_set)
        except ValidationError as exc:
            details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                       for e in exc.errors()]
            raise DomainError("INVALID_SURVEY_ANSWERS", "Ответы на анкету заполнены с ошибками",
                              422, details) from exc
    questionnaire = questionnaires.get(answer_set.survey)
    if questionnaire is None:
        raise DomainError("QUESTIONNAIRE_NOT_FOUND", f"Анкета «{answer_set.survey}» не найдена", 404)
    kind: SurveyKind = "quality" if answer_set.stage == "quality" else "growth"
    if kind != questionnaire.stage:
        raise DomainError(
            "SURVEY_STAGE_MISMATCH",
            "Анкета качества программы заполняется на этапе «quality», анкета роста — "
            "на входе (growth_entry) или выходе (growth_exit)", 422)
    if answer_set.respondent_role != questionnaire.respondent_role:
        raise DomainError("SURVEY_ROLE_MISMATCH",
                          "Эта анкета предназначена для другой роли участника", 422)
    if not questionnaire.serves(answer_set.form):
        raise DomainError("SURVEY_FORM_MISMATCH",
                          "Эта анкета не предназначена для указанной формы наставничества", 422)
    if kind == "growth" and answer_set.respondent_id is None:
        raise DomainError("RESPONDENT_REQUIRED",
                          "Для анкеты роста укажите участника: рост считается по входу и выходу",
                          422)

    problems: list[dict[str, str]] = []
    scores: dict[str, int] = {}
    for key, value in answer_set.answers.items():
        question = questionnaire.question(key)
        if question is None:
            problems.append(_answer_problem(key, "UNKNOWN_QUESTION", "В анкете нет такого вопроса"))
        elif isinstance(value, bool) or not isinstance(value, int):
            problems.append(_answer_problem(key, "SCORE_NOT_INTEGER",
                                            "Оценка должна быть целым числом"))
        elif not question.scale_min <= value <= question.scale_max:
            problems.append(_answer_problem(
                key, "SCORE_OUT_OF_RANGE",
                f"Оценка должна быть от {question.scale_min} до {question.scale_max}"))
        else:
            scores[key] = value
    for question in questionnaire.questions:
        if question.required and question.key not in answer_set.answers:
            problems.append(_answer_problem(question.key, "ANSWER_MISSING",
                                            "Нет ответа на обязательный вопрос"))
    if problems:
        raise DomainError("INVALID_SURVEY_ANSWERS", "Ответы на анкету заполнены с ошибками",
                          422, problems)
    return SurveyRecorded(
        survey=questionnaire.code, stage=answer_set.stage,
        respondent_role=answer_set.respondent_role, respondent_id=answer_set.respondent_id,
        pair_id=answer_set.pair_id, form=answer_set.form, scores=scores)


# --- growth (stage 2) -----------------------------------------------------------------------

def participant_growth(questionnaire: Questionnaire, entry: Mapping[str, int],
                       exit_: Mapping[str, int]) -> dict[str, float]:
    """mean(exit) − mean(entry) per dimension and ``overall``, over the questions answered both
    times, so an optional question skipped once does not move the mean."""
    both = [q for q in questionnaire.questions if q.key in entry and q.key in exit_]
    growth: dict[str, float] = {}
    for dimension in DIMENSIONS:
        keys = [q.key for q in both if q.dimension == dimension]
        if keys:
            growth[dimension] = fmean(exit_[k] for k in keys) - fmean(entry[k] for k in keys)
    if both:
        growth["overall"] = fmean(exit_[q.key] for q in both) - fmean(entry[q.key] for q in both)
    return growth
