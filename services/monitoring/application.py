"""The monitoring service's own event store: survey answers and the reporting calendar's notices.

Its notification log is the outbox the relay publishes to the ``monitoring`` stream.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from services.monitoring.surveys import AnswerSet, Questionnaire, validate_answers
from shared.auth import OrgPath
from shared.store import CommandContext, EventSourcedAggregate, ServiceApplication


class SurveyResponse(EventSourcedAggregate):
    """One respondent's answers to one questionnaire, as validated against it."""

    @event("SurveyRecorded")
    def __init__(self, survey: str, stage: str, respondent_role: str, respondent_id: UUID | None,
                 pair_id: UUID | None, form: str | None, scores: dict[str, int],
                 meta: dict[str, Any]) -> None:
        self.survey = survey
        self.stage = stage
        self.respondent_role = respondent_role
        self.respondent_id = respondent_id
        self.scores = dict(scores)


class MonitoringStore(ServiceApplication):
    name = "Monitoring"
    source = "monitoring"

    def record_survey(self, ctx: CommandContext, org: OrgPath, answers: AnswerSet,
                      questionnaires: dict[str, Questionnaire]) -> UUID:
        """Validate the answers (a DomainError changes nothing) and store ``SurveyRecorded``."""
        recorded = validate_answers(questionnaires, answers)
        response = SurveyResponse(**recorded.model_dump(), meta=ctx.meta(org))
        self.save(response)
        return response.id
