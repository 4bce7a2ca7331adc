"""What a user may ask of the monitoring service, validated (pydantic).

The calendar's body is validated by ``calendar.parse_calendar`` (its Russian messages name the
field at fault), so ``PUT /monitoring/calendar`` takes a plain object.
"""

from __future__ import annotations

from uuid import UUID

from services.monitoring.surveys import AnswerSet
from shared.errors import DomainError

#: Respondents one ``/surveys/answered`` call may ask about (the URL stays well under limits).
MAX_RESPONDENTS = 200


# A respondent's answers and the organisation they were given in (``region/m/o``). No docstring:
# it would become the schema's description in the OpenAPI document, which stays as clients know it.
class SurveyAnswers(AnswerSet):
    organisation: str


def respondent_item(text: str) -> tuple[UUID, UUID | None]:
    """``id`` or ``id:pair id``, as ``/surveys/answered`` takes a respondent."""
    respondent, _, pair = text.partition(":")
    try:
        return UUID(respondent), UUID(pair) if pair else None
    except ValueError:
        raise DomainError("INVALID_RESPONDENT", "Участник указывается как «id» или «id:id пары»",
                          422) from None
