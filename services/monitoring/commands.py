"""What a user may ask of the monitoring service, validated (pydantic).

``PUT /monitoring/calendar`` takes the calendar's shape (``CalendarIn``), so the OpenAPI document
states it; ``calendar.parse_calendar`` then checks the rules between its values.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.monitoring.calendar import Level
from services.monitoring.schedule import LevelSchedule
from services.monitoring.surveys import AnswerSet
from shared.errors import DomainError

#: Respondents one ``/surveys/answered`` call may ask about (the URL stays well under limits).
MAX_RESPONDENTS = 200


# A respondent's answers and the organisation they were given in (``region/m/o``). No docstring:
# it would become the schema's description in the OpenAPI document, which stays as clients know it.
class SurveyAnswers(AnswerSet):
    organisation: str


class CalendarIn(BaseModel):
    """A region's reporting calendar as its operator sends it: the region is the caller's."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="Europe/Moscow", min_length=1, max_length=64,
                          description="Часовой пояс IANA, например Europe/Moscow")
    levels: dict[Level, LevelSchedule] = Field(default_factory=dict)
    start: date | None = None
    overdue_horizon_days: int = Field(default=366, ge=1)


def respondent_item(text: str) -> tuple[UUID, UUID | None]:
    """``id`` or ``id:pair id``, as ``/surveys/answered`` takes a respondent."""
    respondent, _, pair = text.partition(":")
    try:
        return UUID(respondent), UUID(pair) if pair else None
    except ValueError:
        raise DomainError("INVALID_RESPONDENT", "Участник указывается как «id» или «id:id пары»",
                          422) from None
