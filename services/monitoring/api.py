"""HTTP routes of the monitoring dashboards, KPIs, surveys and the reporting calendar.

Every read is scoped: a curator sees their organisation, a municipality its organisations, the
region all of them. Every figure also answers ``?as_of=DATE``, folded from the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from services.monitoring import calendar as cal
from services.monitoring.audit.replay import parse_moment
from services.monitoring.dashboards import (
    level_of,
    pair_members,
    read_scope,
    render_dashboard,
    replay_as_of,
    scope_key,
    state_table,
)
from services.monitoring.surveys import PARTICIPANT_ROLES, AnswerSet
from shared.auth import Actor, OrgPath, Role
from shared.errors import DomainError, forbidden, not_found
from shared.web import Context, CurrentActor

if TYPE_CHECKING:
    from services.monitoring.runtime import MonitoringRuntime

router = APIRouter(prefix="/monitoring", tags=["monitoring"])


def monitoring(request: Request) -> MonitoringRuntime:
    return request.app.state.monitoring


# Any: the runtime module imports this one, so its class cannot be named at runtime here.
Monitoring = Annotated[Any, Depends(monitoring)]


def readable_scope(actor: Actor, text: str | None) -> OrgPath:
    """The unit asked for (the actor's own by default), refused outside the actor's reach."""
    if actor.role is Role.PARTICIPANT:
        raise forbidden("Сводные показатели доступны куратору, муниципалитету, региону и аудитору")
    if not text:
        return actor.scope
    try:
        org = OrgPath.parse(text)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации: регион[/муниципалитет"
                          "[/организация]]", 422) from exc
    actor.require_read(org)
    return org


def parse_as_of(text: str | None) -> Any:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise DomainError("INVALID_DATE", "Неверная дата as_of: нужна ГГГГ-ММ-ДД или "
                          "ГГГГ-ММ-ДДTЧЧ:ММ:СС", 422) from exc


def _names(runtime: MonitoringRuntime, scopes: list[str]) -> dict[str, str]:
    if not scopes:
        return {}
    with runtime.read_engine.connect() as conn:
        rows = conn.execute(sa.select(state_table.c.key, state_table.c.value).where(
            state_table.c.kind == "org", state_table.c.key.in_(scopes)))
        return {key: orjson.loads(value)["name"] for key, value in rows}


def _known(runtime: MonitoringRuntime, org: OrgPath) -> None:
    with runtime.read_engine.connect() as conn:
        found = conn.execute(sa.select(state_table.c.key).where(
            state_table.c.kind == "org", state_table.c.key == scope_key(org))).first()
    if found is None:
        raise DomainError("ORGANISATION_NOT_FOUND", "Организация или территория не найдена", 404)


def dashboard_of(runtime: MonitoringRuntime, org: OrgPath, as_of: str | None) -> dict[str, Any]:
    moment = parse_as_of(as_of)
    _known(runtime, org)
    scope = scope_key(org)
    if moment is None:
        with runtime.read_engine.connect() as conn:
            own, children = read_scope(conn, scope)
        extra: dict[str, Any] = {"as_of": None}
    else:
        return replay_as_of(runtime.audit.store, moment, runtime.fold_settings).dashboard(org)
    body = render_dashboard(scope, level_of(org), own, children, runtime.fold_settings,
                            _names(runtime, sorted(children)))
    return {**body, **extra}


@router.get("/dashboard")
def dashboard(actor: CurrentActor, runtime: Monitoring, org: str | None = None,
              as_of: str | None = None) -> dict[str, Any]:
    """Every figure of one unit (the caller's own by default)."""
    return dashboard_of(runtime, readable_scope(actor, org), as_of)


@router.get("/regions/{region}/dashboard")
def region_dashboard(region: str, actor: CurrentActor, runtime: Monitoring,
                     as_of: str | None = None) -> dict[str, Any]:
    return dashboard_of(runtime, readable_scope(actor, region), as_of)


@router.get("/municipalities/{region}/{municipality}/dashboard")
def municipality_dashboard(region: str, municipality: str, actor: CurrentActor,
                           runtime: Monitoring, as_of: str | None = None) -> dict[str, Any]:
    return dashboard_of(runtime, readable_scope(actor, f"{region}/{municipality}"), as_of)


@router.get("/organisations/{region}/{municipality}/{organisation}/dashboard")
def organisation_dashboard(region: str, municipality: str, organisation: str,
                           actor: CurrentActor, runtime: Monitoring,
                           as_of: str | None = None) -> dict[str, Any]:
    return dashboard_of(runtime, readable_scope(actor, f"{region}/{municipality}/{organisation}"),
                        as_of)


@router.get("/kpis")
def kpis(actor: CurrentActor, runtime: Monitoring, org: str | None = None,
         as_of: str | None = None) -> dict[str, Any]:
    """The KPIs of a unit and of each unit under it, each with numerator, denominator, target."""
    body = dashboard_of(runtime, readable_scope(actor, org), as_of)
    return {"scope": body["scope"], "as_of": body["as_of"], "kpis": body["kpis"]}


# --- surveys ---------------------------------------------------------------------------------

class SurveyAnswers(AnswerSet):
    organisation: str


@router.get("/questionnaires")
def questionnaires(actor: CurrentActor, runtime: Monitoring) -> list[dict[str, Any]]:
    return [q.model_dump(mode="json", by_alias=True) for q in runtime.questionnaires.values()]


@router.post("/surveys", status_code=201)
def record_survey(body: SurveyAnswers, ctx: Context, runtime: Monitoring) -> dict[str, str]:
    """A respondent's answers → ``SurveyRecorded`` (validated against the questionnaire)."""
    try:
        org = OrgPath.parse(body.organisation)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc
    actor = ctx.actor
    answers = AnswerSet.model_validate(body.model_dump(exclude={"organisation"}))
    if actor.role is Role.PARTICIPANT:
        answers = _participants_own(actor, org, answers, runtime)
    else:
        actor.require_write(org)
    response_id = runtime.store.record_survey(ctx, org, answers, runtime.questionnaires)
    runtime.notify_relay()
    return {"id": str(response_id)}


def _participants_own(actor: Actor, org: OrgPath, answers: AnswerSet, runtime: MonitoringRuntime
                      ) -> AnswerSet:
    """A participant answers only for themselves, as the side they are in their own pair: one
    answer per pair and questionnaire (a later one replaces it), so nobody can stuff a school's
    satisfaction with anonymous answers or answer as its curator."""
    if not actor.in_scope(org):
        raise forbidden("Анкета вне вашей организации")
    own = _uuid_or_none(actor.user)
    if own is None or answers.respondent_id not in (None, own):
        raise forbidden("Участник отвечает на анкету только за себя")
    if answers.respondent_role not in PARTICIPANT_ROLES:
        raise forbidden("Эта анкета заполняется куратором")
    if answers.stage == "quality":
        if answers.pair_id is None:
            raise DomainError("PAIR_REQUIRED", "Укажите пару, о работе которой эта анкета", 422)
        with runtime.read_engine.connect() as conn:
            members = pair_members(conn, answers.pair_id)
        side = None if members is None else "mentor" if str(own) == members[0] else \
            "mentee" if str(own) in members[1] else None
        if side is None:
            raise not_found("Пара", "PAIR_NOT_FOUND")
        if side != answers.respondent_role:
            raise DomainError("SURVEY_ROLE_MISMATCH", "В этой паре вы — "
                              f"{'наставник' if side == 'mentor' else 'наставляемый'}", 422)
    return answers.model_copy(update={"respondent_id": own})


#: Respondents one ``/surveys/answered`` call may ask about (the URL stays well under limits).
MAX_RESPONDENTS = 200


def _respondent_item(text: str) -> tuple[UUID, UUID | None]:
    respondent, _, pair = text.partition(":")
    try:
        return UUID(respondent), UUID(pair) if pair else None
    except ValueError:
        raise DomainError("INVALID_RESPONDENT", "Участник указывается как «id» или «id:id пары»",
                          422) from None


@router.get("/surveys/answered")
def answered_surveys(actor: CurrentActor, runtime: Monitoring,
                     respondent: Annotated[list[str], Query(min_length=1, max_length=MAX_RESPONDENTS)],
                     org: str | None = None) -> list[dict[str, Any]]:
    """Which questionnaires these respondents answered (never the scores), so the curator sees
    what is done and what is missing. ``respondent`` is ``id`` or ``id:pair id`` (the quality
    questionnaires are answered per pair; growth per participant).

    Read from the dashboards' fold state by exact key (respondent|pair|questionnaire for quality,
    respondent|questionnaire for growth): primary-key lookups whatever the size of the region.
    An answer recorded outside ``org`` (or the caller's reach) is left out.
    """
    scope = readable_scope(actor, org)
    items = [_respondent_item(text) for text in respondent]
    codes = {kind: [q.code for q in runtime.questionnaires.values() if q.stage == kind]
             for kind in ("quality", "growth")}
    wanted = {"qual": {f"{r}|{p}|{code}" for r, p in items for code in codes["quality"]},
              "grow": {f"{r}|{code}" for r, _ in items for code in codes["growth"]}}
    found: list[dict[str, Any]] = []
    with runtime.read_engine.connect() as conn:
        for kind, keys in wanted.items():
            if not keys:
                continue
            rows = conn.execute(sa.select(state_table.c.key, state_table.c.value).where(
                state_table.c.kind == kind, state_table.c.key.in_(sorted(keys))))
            for key, value in rows:
                found += _answers_of(kind, key, orjson.loads(value), scope)
    found.sort(key=lambda a: (a["respondent_id"], a["survey"], a["stage"]))
    return found


def _answers_of(kind: str, key: str, value: list[Any], scope: OrgPath) -> list[dict[str, Any]]:
    """The answers one fold-state row records: a ``qual`` row holds [org, role, score], a
    ``grow`` row [org, entry scores or None, exit scores or None]."""
    region, municipality, organisation = value[0]
    if not scope.contains(OrgPath(region=region, municipality=municipality, organisation=organisation)):
        return []
    if kind == "qual":
        respondent_id, pair_id, survey = key.split("|")
        return [{"respondent_id": respondent_id, "survey": survey, "stage": "quality",
                 "pair_id": None if pair_id == "None" else pair_id}]
    respondent_id, survey = key.split("|")
    return [{"respondent_id": respondent_id, "survey": survey, "stage": stage, "pair_id": None}
            for stage, scores in (("growth_entry", value[1]), ("growth_exit", value[2]))
            if scores is not None]


def _uuid_or_none(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


# --- the reporting calendar ------------------------------------------------------------------

def _visible(report_path: str, receiver: str | None, scope: OrgPath) -> bool:
    """A unit sees its own reports and those sent to it (or to anything under it)."""
    return scope.contains(OrgPath.parse(report_path)) or (
        receiver is not None and scope.contains(OrgPath.parse(receiver)))


@router.get("/calendar")
def calendar_state(actor: CurrentActor, runtime: Monitoring, org: str | None = None) -> dict[str, Any]:
    """The calendar in force and every report around today with its status."""
    scope = readable_scope(actor, org)
    ticker = runtime.calendar.current()
    if ticker is None:
        return {"configured": False, "config": None, "reports": []}
    config = ticker.config
    today = config.today(runtime.clock())
    reach = max(max(s.notice_days) for s in config.levels.values())
    sent = ticker.notices_sent(today)
    reports = []
    for report in cal.reports_around(config, ticker.organisations(), today):
        if not _visible(report.path, report.reported_to, scope):
            continue
        days_left = (report.deadline - today).days
        status = ("submitted" if report.report_id in ticker.submitted else
                  "overdue" if days_left < 0 else "due" if days_left <= reach else "upcoming")
        reports.append({"report_id": report.report_id, "level": report.level,
                        "path": report.path, "reported_to": report.reported_to,
                        "period": report.period, "deadline": report.deadline.isoformat(),
                        "days_left": days_left, "status": status,
                        "notices_sent": sent.get(report.report_id, [])})
    reports.sort(key=lambda r: (r["deadline"], r["level"], r["path"]))
    return {"configured": True, "today": today.isoformat(),
            "config": config.model_dump(mode="json"), "reports": reports}


@router.put("/calendar")
def configure_calendar(body: dict[str, Any], actor: CurrentActor,
                       runtime: Monitoring) -> dict[str, Any]:
    """The region sets its deadlines and reminders (per level)."""
    if actor.role not in (Role.REGIONAL, Role.SYSTEM) or actor.scope.municipality is not None:
        raise forbidden("Календарь отчётности настраивает региональный оператор")
    config = cal.parse_calendar({**body, "region": actor.scope.region})
    if config.region != runtime.settings.region:
        raise DomainError("REGION_NOT_SERVED", "Этот экземпляр мониторинга обслуживает другой "
                          "регион", 422)
    runtime.calendar.configure(config)
    return config.model_dump(mode="json")


@router.get("/reports/overdue")
def overdue_reports(actor: CurrentActor, runtime: Monitoring,
                    org: str | None = None) -> list[dict[str, Any]]:
    """Who is late: unsubmitted reports past their deadline, as the level above sees them."""
    scope = readable_scope(actor, org)
    ticker = runtime.calendar.current()
    if ticker is None:
        return []
    found = ticker.overdue()
    return [o.to_json() for o in found if _visible(o.report.path, o.report.reported_to, scope)]
