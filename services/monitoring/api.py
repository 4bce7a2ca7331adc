"""HTTP routes of the monitoring dashboards, KPIs, surveys and the reporting calendar: each
translates a request into one call on ``MonitoringService`` (rights and scopes are decided there).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from services.monitoring.application import MonitoringService
from services.monitoring.commands import MAX_RESPONDENTS, CalendarIn, SurveyAnswers
from shared.web import Context, CurrentActor

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


async def monitoring_service(request: Request) -> MonitoringService:
    return request.app.state.monitoring.service


Monitoring = Annotated[MonitoringService, Depends(monitoring_service)]
#: With ``as_of``: which history the figures come from.
BasisQuery = Annotated[str | None, Query(description=(
    "С as_of: shown — какими цифры были показаны в тот момент (записи, внесённые до него); "
    "known — какими они были на ту дату по тому, что известно сегодня (по датам событий)"))]


@router.get("/dashboard")
def dashboard(actor: CurrentActor, service: Monitoring, org: str | None = None,
              as_of: str | None = None, period: str | None = None,
              basis: BasisQuery = None) -> dict[str, Any]:
    """Every figure of one unit (the caller's own by default); the KPIs of ``period`` (a school
    year «2026/27» or a half «2026/27-1»), by default of the latest school year with activity."""
    return service.dashboard(actor, org, as_of, period, basis)


@router.get("/regions/{region}/dashboard")
def region_dashboard(region: str, actor: CurrentActor, service: Monitoring,
                     as_of: str | None = None, basis: BasisQuery = None) -> dict[str, Any]:
    return service.dashboard(actor, region, as_of, basis=basis)


@router.get("/municipalities/{region}/{municipality}/dashboard")
def municipality_dashboard(region: str, municipality: str, actor: CurrentActor,
                           service: Monitoring, as_of: str | None = None,
                           basis: BasisQuery = None) -> dict[str, Any]:
    return service.dashboard(actor, f"{region}/{municipality}", as_of, basis=basis)


@router.get("/organisations/{region}/{municipality}/{organisation}/dashboard")
def organisation_dashboard(region: str, municipality: str, organisation: str,
                           actor: CurrentActor, service: Monitoring,
                           as_of: str | None = None, basis: BasisQuery = None) -> dict[str, Any]:
    return service.dashboard(actor, f"{region}/{municipality}/{organisation}", as_of,
                             basis=basis)


@router.get("/kpis")
def kpis(actor: CurrentActor, service: Monitoring, org: str | None = None,
         as_of: str | None = None, period: str | None = None,
         basis: BasisQuery = None) -> dict[str, Any]:
    """The KPIs of a unit and of each unit under it, each with numerator, denominator, target."""
    return service.kpis(actor, org, as_of, period, basis)


# --- surveys ---------------------------------------------------------------------------------

@router.get("/questionnaires")
def questionnaires(actor: CurrentActor, service: Monitoring) -> list[dict[str, Any]]:
    return service.questionnaire_list()


@router.post("/surveys", status_code=201)
def record_survey(body: SurveyAnswers, ctx: Context, service: Monitoring) -> dict[str, str]:
    """A respondent's answers → ``SurveyRecorded`` (validated against the questionnaire)."""
    return {"id": str(service.record_survey(ctx, body))}


@router.get("/surveys/answered")
def answered_surveys(actor: CurrentActor, service: Monitoring,
                     respondent: Annotated[list[str], Query(min_length=1, max_length=MAX_RESPONDENTS)],
                     org: str | None = None) -> list[dict[str, Any]]:
    """Which questionnaires these respondents answered (never the scores), so the curator sees
    what is done and what is missing. ``respondent`` is ``id`` or ``id:pair id`` (the quality
    questionnaires are answered per pair; growth per participant).

    Read from the dashboards' fold state by exact key (respondent|pair|questionnaire for quality,
    respondent|questionnaire for growth): primary-key lookups whatever the size of the region.
    An answer recorded outside ``org`` (or the caller's reach) is left out.
    """
    return service.answered_surveys(actor, respondent, org)


# --- the reporting calendar ------------------------------------------------------------------

@router.get("/calendar")
def calendar_state(actor: CurrentActor, service: Monitoring, org: str | None = None) -> dict[str, Any]:
    """The calendar in force and every report around today with its status."""
    return service.calendar_state(actor, org)


@router.put("/calendar")
def configure_calendar(body: CalendarIn, actor: CurrentActor,
                       service: Monitoring) -> dict[str, Any]:
    """The region sets its deadlines and reminders (per level)."""
    return service.configure_calendar(actor, body.model_dump(mode="json", exclude_unset=True))


@router.get("/reports/overdue")
def overdue_reports(actor: CurrentActor, service: Monitoring,
                    org: str | None = None) -> list[dict[str, Any]]:
    """Who is late: unsubmitted reports past their deadline, as the level above sees them."""
    return service.overdue_reports(actor, org)
