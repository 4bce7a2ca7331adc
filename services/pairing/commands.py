"""What a user can ask the pairing service to do, validated before anything is stored."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from services.pairing.domain import (
    MAX_DURATION,
    MAX_SATISFACTION,
    MIN_DURATION,
    MIN_SATISFACTION,
    GoalStatus,
    MeetingFormat,
    MeetingKind,
)
from shared.inputs import StrippedInput
from shared.values import Whole, WorkDate

OrderRef = Field(min_length=1, max_length=100, description="Номер и дата приказа")


class Command(StrippedInput):
    pass


class GroupChoice(Command):
    """One mentor with the mentees the curator puts with them (one: a pair; several: a group)."""

    mentor_id: UUID
    mentee_ids: list[UUID] = Field(min_length=1, max_length=15)


class Scope(Command):
    """Where the pairs belong: a launched programme (its form), or a form in a municipality."""

    programme_id: UUID | None = None
    municipality_id: UUID | None = None
    form: str | None = Field(default=None, min_length=2, max_length=64)

    @model_validator(mode="after")
    def _one_scope(self) -> Scope:
        if self.programme_id is None and self.form is None:
            raise ValueError("укажите программу или форму наставничества")
        return self


#: The date of the order that formed the pairs, when they are recorded afterwards (today if absent).
FormedOn = Field(default=None, description="Дата формирования пары (приказа); по умолчанию сегодня")


class ConfirmSuggestions(Scope):
    order_ref: str = OrderRef
    groups: list[GroupChoice] = Field(min_length=1, max_length=5000)
    formed_on: WorkDate | None = FormedOn


class FormPair(Scope, GroupChoice):
    order_ref: str | None = Field(default=None, min_length=1, max_length=100)
    formed_on: WorkDate | None = FormedOn


class SetProfile(Command):
    """What a participant named after the group meeting, and what rules them out."""

    preferred: list[UUID] = Field(default_factory=list, max_length=20)
    availability: list[str] = Field(default_factory=list, max_length=50)
    relatives: list[UUID] = Field(default_factory=list, max_length=10)
    class_teacher: UUID | None = None


class SetGoal(Command):
    goal_id: UUID | None = None
    title: str = Field(min_length=2, max_length=500)
    due: WorkDate | None = None
    status: GoalStatus = "planned"


class GoalProgress(Command):
    """A goal's progress as a member of the pair (or its curator) marks it."""

    status: GoalStatus


class HoldMeeting(Command):
    kind: MeetingKind
    date: WorkDate
    duration_minutes: Whole = Field(ge=MIN_DURATION, le=MAX_DURATION)
    format: MeetingFormat = "in_person"
    #: Why a side's feedback on the previous meeting is missing (required only then).
    missing_feedback_reason: str | None = Field(default=None, max_length=1000)


class SubmitFeedback(Command):
    meeting_number: Whole = Field(ge=1)
    #: Who answers; a participant answers for themself and may leave it out.
    respondent_id: UUID | None = None
    satisfaction: Whole = Field(ge=MIN_SATISFACTION, le=MAX_SATISFACTION)
    went_well: str = Field(default="", max_length=4000)
    to_change: str = Field(default="", max_length=4000)


class DissolvePair(Command):
    reason: str = Field(min_length=3, max_length=500)


class AnswerProposal(Command):
    """The mentor's organisation declines a proposed pair; the reason is optional."""

    reason: str | None = Field(default=None, max_length=500)


Objective = Literal["max_score", "max_pairs"]
