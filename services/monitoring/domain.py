"""The monitoring service's own aggregates: a respondent's survey answers. The reporting
calendar's aggregate (``ReportingCalendar``) lives beside its rules in ``calendar``; the figures
are not aggregates but a fold of the audit log (``dashboards``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from shared.store import EventSourcedAggregate


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
