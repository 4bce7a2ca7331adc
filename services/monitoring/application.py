"""The monitoring service layer: every command and query of the dashboards, KPIs, surveys, the
reporting calendar and the audit log, with the rights checked here through ``shared.auth``.

Every read is scoped: a curator sees their organisation, a municipality its organisations, the
region all of them. Every figure also answers ``as_of``, folded from the audit log. The event
store (``MonitoringStore``) holds survey answers and the calendar's notices; its notification log
is the outbox the relay publishes to the ``monitoring`` stream.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from services.monitoring import calendar as cal
from services.monitoring.audit.checked import Checked, check_up_to, last_position_before
from services.monitoring.audit.feeder import AuditLog, HeadSigningLoop
from services.monitoring.audit.heads import SignedHead, public_key_pem
from services.monitoring.audit.history import BASES, Basis
from services.monitoring.audit.records import AuditIntegrityError
from services.monitoring.audit.replay import parse_moment, replay_log
from services.monitoring.audit.service_check import check_services
from services.monitoring.audit.store import AuditStore
from services.monitoring.audit.trail import trail_of
from services.monitoring.commands import SurveyAnswers, respondent_item
from services.monitoring.dashboards import (
    FoldSettings,
    disclosure,
    level_of,
    render_dashboard,
    replay_as_of,
    scope_key,
)
from services.monitoring.domain import SurveyResponse
from services.monitoring.reporting import ReportingCalendarService
from services.monitoring.surveys import PARTICIPANT_ROLES, AnswerSet, Questionnaire, validate_answers
from services.monitoring.views import DashboardViews
from shared import auth, periods
from shared.auth import Actor, OrgPath
from shared.errors import DomainError, forbidden, not_found
from shared.settings import Settings
from shared.store import CommandContext, ServiceApplication

Clock = Callable[[], datetime]


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


def parse_org(text: str, message: str = "Неверный путь организации: регион[/муниципалитет"
              "[/организация]]") -> OrgPath:
    try:
        return OrgPath.parse(text)
    except ValueError as exc:
        raise DomainError("INVALID_PATH", message, 422) from exc


def readable_scope(actor: Actor, text: str | None) -> OrgPath:
    """The unit asked for (the actor's own by default), refused outside the actor's reach."""
    auth.require_figures_reader(actor)
    if not text:
        return actor.scope
    org = parse_org(text)
    actor.require_read(org)
    return org


def parse_as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise DomainError("INVALID_DATE", "Неверная дата as_of: нужна ГГГГ-ММ-ДД или "
                          "ГГГГ-ММ-ДДTЧЧ:ММ:СС", 422) from exc


def parse_basis(text: str | None) -> Basis:
    """``shown``: what the figures showed at the moment; ``known``: what was true then as the
    log knows it now (see ``audit.history``)."""
    if not text:
        return "shown"
    if text not in BASES:
        raise DomainError("INVALID_BASIS", "Неверное основание basis: нужно shown (как было "
                          "показано тогда) или known (как известно сегодня)", 422)
    return text  # type: ignore[return-value]


def dashboard_of(views: DashboardViews, audit: AuditStore, fold_settings: FoldSettings,
                 org: OrgPath, as_of: str | None, period: str | None = None,
                 basis: str | None = None) -> dict[str, Any]:
    """Every figure of one unit, from the dashboard tables, or folded from the audit log up to
    ``as_of`` on ``basis``: the same rendering either way."""
    moment = parse_as_of(as_of)
    chosen = parse_basis(basis)
    scope = scope_key(org)
    if not views.is_known(scope):
        raise DomainError("ORGANISATION_NOT_FOUND", "Организация или территория не найдена", 404)
    if moment is not None:
        return replay_as_of(audit, moment, fold_settings, basis=chosen).dashboard(org, period)
    own, children = views.scope_counts(scope)
    body = render_dashboard(scope, level_of(org), own, children, fold_settings,
                            views.names(sorted(children)), period)
    # Small groups hidden, and as many siblings as keep them from being subtracted out.
    hidden = disclosure.hidden_figures(org, views.counts_with_units, fold_settings)
    return {**disclosure.protect(body, hidden, fold_settings.min_group), "as_of": None}


class MonitoringService:
    """Dashboards, KPIs, surveys and the reporting calendar."""

    def __init__(self, settings: Settings, store: MonitoringStore, views: DashboardViews,
                 audit: AuditLog, calendar: ReportingCalendarService, fold_settings: FoldSettings,
                 questionnaires: dict[str, Questionnaire], clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.views = views
        self.audit = audit
        self.calendar = calendar
        self.fold_settings = fold_settings
        self.questionnaires = questionnaires
        self.clock = clock
        #: Wakes the relay after a command stored events (set by the runtime once it runs).
        self.notify_relay: Callable[[], None] = lambda: None

    # --- figures -------------------------------------------------------------------------

    def dashboard_of(self, org: OrgPath, as_of: str | None,
                     period: str | None = None, basis: str | None = None) -> dict[str, Any]:
        """Every figure of one unit, live or as of a moment (no rights checked: callers do)."""
        return dashboard_of(self.views, self.audit.store, self.fold_settings, org, as_of, period,
                            basis)

    def dashboard(self, actor: Actor, org: str | None, as_of: str | None = None,
                  period: str | None = None, basis: str | None = None) -> dict[str, Any]:
        return self.dashboard_of(readable_scope(actor, org), as_of, period, basis)

    def kpis(self, actor: Actor, org: str | None, as_of: str | None,
             period: str | None = None, basis: str | None = None) -> dict[str, Any]:
        body = self.dashboard(actor, org, as_of, period, basis)
        return {"scope": body["scope"], "as_of": body["as_of"], "period": body["period"],
                "period_label": body["period_label"], "kpis": body["kpis"]}

    # --- surveys -------------------------------------------------------------------------

    def questionnaire_list(self) -> list[dict[str, Any]]:
        return [q.model_dump(mode="json", by_alias=True) for q in self.questionnaires.values()]

    def record_survey(self, ctx: CommandContext, body: SurveyAnswers) -> UUID:
        """A respondent's answers → ``SurveyRecorded`` (validated against the questionnaire)."""
        org = parse_org(body.organisation, "Неверный путь организации")
        actor = ctx.actor
        answers = AnswerSet.model_validate(body.model_dump(exclude={"organisation"}))
        if auth.answers_only_for_self(actor):
            answers = self._participants_own(actor, org, answers)
        else:
            actor.require_write(org)
        response_id = self.store.record_survey(ctx, org, answers, self.questionnaires)
        self.notify_relay()
        return response_id

    def _participants_own(self, actor: Actor, org: OrgPath, answers: AnswerSet) -> AnswerSet:
        """A participant answers only for themselves, as the side they are in their own pair: one
        answer per pair and questionnaire (a later one replaces it), so nobody can stuff a
        school's satisfaction with anonymous answers or answer as its curator."""
        own = _uuid_or_none(actor.user)
        if not actor.in_scope(org) and not self._member_of_pair_at(own, answers.pair_id, org):
            raise forbidden("Анкета вне вашей организации")
        if own is None or answers.respondent_id not in (None, own):
            raise forbidden("Участник отвечает на анкету только за себя")
        if answers.respondent_role not in PARTICIPANT_ROLES:
            raise forbidden("Эта анкета заполняется куратором")
        if answers.stage == "quality":
            if answers.pair_id is None:
                raise DomainError("PAIR_REQUIRED", "Укажите пару, о работе которой эта анкета", 422)
            members = self.views.pair_members(answers.pair_id)
            side = None if members is None else "mentor" if str(own) == members[0] else \
                "mentee" if str(own) in members[1] else None
            if side is None:
                raise not_found("Пара", "PAIR_NOT_FOUND")
            if side != answers.respondent_role:
                raise DomainError("SURVEY_ROLE_MISMATCH", "В этой паре вы — "
                                  f"{'наставник' if side == 'mentor' else 'наставляемый'}", 422)
        return answers.model_copy(update={"respondent_id": own})

    def _member_of_pair_at(self, person: UUID | None, pair_id: UUID | None, org: OrgPath) -> bool:
        """A mentor of a partner organisation answers about their pair where the pair is
        counted — at the mentees' organisation — so that its curator sees the answer."""
        if person is None or pair_id is None:
            return False
        found = self.views.pair_record(pair_id)
        return found is not None and found[2] == str(org) and str(person) in (found[0], *found[1])

    def answered_surveys(self, actor: Actor, respondents: list[str],
                         org: str | None) -> list[dict[str, Any]]:
        """Which questionnaires these respondents answered (never the scores). Read from the
        dashboards' fold state by exact key (respondent|pair|questionnaire for quality,
        respondent|questionnaire for growth); an answer recorded outside ``org`` (or the
        caller's reach) is left out. A participant asks only about themselves, and answers only
        within their own organisation (``record_survey``)."""
        items = [respondent_item(text) for text in respondents]
        if auth.answers_only_for_self(actor):
            auth.require_own_respondents(actor, [str(r) for r, _ in items])
            # Only their own answers, wherever recorded (a partner mentor's are at the pair's).
            scope = OrgPath(region=actor.scope.region)
        else:
            scope = readable_scope(actor, org)
        codes = {kind: [q.code for q in self.questionnaires.values() if q.stage == kind]
                 for kind in ("quality", "growth")}
        wanted = {"qual": {f"{r}|{p}|{code}" for r, p in items for code in codes["quality"]},
                  "grow": {f"{r}|{code}" for r, _ in items for code in codes["growth"]}}
        found: list[dict[str, Any]] = []
        for kind, key, value in self.views.fold_state(wanted):
            found += _answers_of(kind, key, value, scope)
        found.sort(key=lambda a: (a["respondent_id"], a["survey"], a["stage"]))
        return found

    # --- the reporting calendar ----------------------------------------------------------

    def calendar_state(self, actor: Actor, org: str | None) -> dict[str, Any]:
        """The calendar in force and every report around today with its status."""
        scope = readable_scope(actor, org)
        ticker = self.calendar.current()
        if ticker is None:
            return {"configured": False, "config": None, "reports": []}
        config = ticker.config
        today = config.today(self.clock())
        reach = max(max(s.notice_days) for s in config.levels.values())
        sent = ticker.notices_sent(today)
        reports = []
        for report in cal.reports_around(config, ticker.organisations(), today,
                                         ticker.registered()):
            if not _visible(report.path, report.reported_to, scope):
                continue
            days_left = (report.deadline - today).days
            status = ("submitted" if report.report_id in ticker.submitted else
                      "overdue" if days_left < 0 else "due" if days_left <= reach else "upcoming")
            reports.append({"report_id": report.report_id, "level": report.level,
                            "path": report.path, "reported_to": report.reported_to,
                            "period": report.period,
                            "period_label": periods.label(report.period),
                            "deadline": report.deadline.isoformat(),
                            "days_left": days_left, "status": status,
                            "notices_sent": sent.get(report.report_id, [])})
        reports.sort(key=lambda r: (r["deadline"], r["level"], r["path"]))
        return {"configured": True, "today": today.isoformat(),
                "config": config.model_dump(mode="json"), "reports": reports}

    def configure_calendar(self, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        """The region sets its deadlines and reminders (per level)."""
        auth.require_calendar_configurer(actor)
        config = cal.parse_calendar({**body, "region": actor.scope.region})
        if config.region != self.settings.region:
            raise DomainError("REGION_NOT_SERVED", "Этот экземпляр мониторинга обслуживает другой "
                              "регион", 422)
        self.calendar.configure(config)
        return config.model_dump(mode="json")

    def overdue_reports(self, actor: Actor, org: str | None) -> list[dict[str, Any]]:
        """Who is late: unsubmitted reports past their deadline, as the level above sees them."""
        scope = readable_scope(actor, org)
        ticker = self.calendar.current()
        if ticker is None:
            return []
        return [o.to_json() for o in ticker.overdue()
                if _visible(o.report.path, o.report.reported_to, scope)]


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


def _visible(report_path: str, receiver: str | None, scope: OrgPath) -> bool:
    """A unit sees its own reports and those sent to it (or to anything under it)."""
    return scope.contains(OrgPath.parse(report_path)) or (
        receiver is not None and scope.contains(OrgPath.parse(receiver)))


# --- the audit log -----------------------------------------------------------------------------

#: An export waits for the loop's next head this long at most (one interval and a margin,
#: capped), so that it covers what was logged up to the request; then it takes the latest head.
HEAD_WAIT_MAX = 15.0
HEAD_WAIT_MARGIN = 2.0
#: How long an on-demand signing may take before the request gives up.
SIGN_TIMEOUT = 10.0
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


def parse_time(text: str | None, default: datetime, field: str) -> datetime:
    if not text:
        return default
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise DomainError("INVALID_DATE", f"Неверная дата в поле {field}: нужна ГГГГ-ММ-ДД "
                          "или ГГГГ-ММ-ДДTЧЧ:ММ:СС", 422) from exc


class AuditService:
    """The audit log for auditors and the region. Auditors only read: verify, trail, replay,
    public key and export write nothing, not even a head (an export is proved against the latest
    head the service's own loop signed). Signing a head on demand is the region's act: the
    service's loop signs it, the request only asks."""

    def __init__(self, settings: Settings, audit: AuditLog, head_loop: HeadSigningLoop,
                 fold_settings: FoldSettings) -> None:
        self.settings = settings
        self.audit = audit
        self.head_loop = head_loop
        self.fold_settings = fold_settings

    def verify(self, actor: Actor) -> dict[str, Any]:
        auth.require_auditor(actor, whole_log=True, region=self.settings.region)
        audit = self.audit
        with audit.store.engine.connect() as conn:
            result = audit.store.verify(conn, audit.heads, audit.signer.public_key,
                                        head_interval=self.head_loop.interval)
        services = check_services(audit.store, self.settings) if result.ok else []
        bad = next((r.problem for r in services if r.problem is not None), None)
        # Nothing outside the log vouches for it here: a disagreement blames neither side.
        services = [dataclasses.replace(r, problem=r.problem.unproven(0)) if r.problem else r
                    for r in services]
        bad = bad.unproven(0) if bad is not None else None
        return {
            "ok": result.ok and bad is None,
            "entries": result.entries,
            "root": result.root_hex,
            "chain": result.chain_hex,
            "signed_size": result.signed_size,
            "summary": str(result),
            "problem": None if result.problem is None else {
                "position": result.problem.position, "position_to": result.problem.position_to,
                "code": result.problem.code, "message": result.problem.message_ru},
            "services": [{"source": r.source, "compared": r.compared, "pending": r.pending,
                          "problem": None if r.problem is None else {
                              "position": r.problem.position, "code": r.problem.code,
                              "message": r.problem.message_ru}}
                         for r in services if r.present],
            "service_problem": None if bad is None else str(bad),
        }

    def trail(self, actor: Actor, record_id: str) -> list[dict[str, Any]]:
        auth.require_auditor(actor)
        try:
            uid = UUID(record_id)
        except ValueError as exc:
            raise DomainError("INVALID_ID", "Неверный идентификатор записи", 422) from exc
        store = self.audit.store
        with store.engine.connect() as conn:
            return trail_of(store, conn, uid, visible=actor.can_read)

    def checked_trail(self, actor: Actor, record_id: str) -> tuple[list[dict[str, Any]], Checked]:
        """The trail, and the log checked (chain and signed heads) up to its last entry."""
        items = self.trail(actor, record_id)
        return items, self._check_up_to(max((i["position"] for i in items), default=0))

    def checked_replay(self, actor: Actor, as_of: str, org: str | None,
                       basis: str | None = None) -> tuple[dict[str, Any], Checked]:
        """The replay, and the log checked up to the last entry it read."""
        result = self.replay(actor, as_of, org, basis)
        store = self.audit.store
        with store.engine.connect() as conn:
            up_to = last_position_before(store, conn, parse_time(as_of, LATEST, "as_of"),
                                         parse_basis(basis))
        return result, self._check_up_to(up_to)

    def _check_up_to(self, position: int) -> Checked:
        store = self.audit.store
        with store.engine.connect() as conn:
            return check_up_to(store, conn, position, self.audit.heads,
                               self.audit.signer.public_key)

    def replay(self, actor: Actor, as_of: str, org: str | None,
               basis: str | None = None) -> dict[str, Any]:
        auth.require_auditor(actor)
        scope = actor.scope
        if org:
            scope = parse_org(org)
            actor.require_read(scope)
        moment = parse_time(as_of, LATEST, "as_of")
        return replay_log(self.audit.store, moment, scope, self.fold_settings, parse_basis(basis))

    async def export(self, actor: Actor, from_: str | None, to: str | None
                     ) -> tuple[Path, SignedHead]:
        """The period's entries written to a file (in a folder of its own, for the caller to
        remove with ``remove_export``), and the signed head they are proved against."""
        auth.require_auditor(actor, whole_log=True, region=self.settings.region)
        start, end = parse_time(from_, EARLIEST, "from"), parse_time(to, LATEST, "to")
        if end <= start:
            raise DomainError("INVALID_PERIOD", "Конец периода должен быть позже начала", 422)
        audit = self.audit
        head = await self.covering_head(await asyncio.to_thread(audit.size))
        if head is None:
            raise DomainError("NO_SIGNED_HEAD", "Журнал ещё не подписан: выгрузку проверяют по "
                              "подписанной вершине, а первой ещё нет. Она будет подписана в течение "
                              f"{self.head_loop.interval:g} с после первой записи (или по запросу "
                              "регионального оператора: POST /audit/heads)", 409)
        folder = Path(tempfile.mkdtemp(prefix="nastavnik-export-"))
        out = folder / "audit-export.jsonl"

        def write() -> None:
            with audit.store.engine.connect() as conn:
                audit.store.export(conn, out, start, end, audit.signer, head=head)

        try:
            await asyncio.to_thread(write)
        except AuditIntegrityError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise DomainError("AUDIT_INTEGRITY", f"Выгрузка невозможна: {exc}", 409) from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return out, head

    async def covering_head(self, size: int) -> SignedHead | None:
        """The latest head the service's loop signed, once it covers ``size`` entries.

        The loop signs within one interval whenever the log grew, so the export waits for that
        (at most ``HEAD_WAIT_MAX``) rather than signing a head of its own; if it does not come,
        the latest head there is serves and the export covers the log up to it."""
        loop = self.head_loop
        deadline = time.monotonic() + min(loop.interval + HEAD_WAIT_MARGIN, HEAD_WAIT_MAX)
        while True:
            head: SignedHead | None = loop.last_head
            if head is not None and head.size >= size:
                return head
            if time.monotonic() >= deadline or not loop.running:
                break
            await asyncio.sleep(0.05)
        if head is None:  # the loop has signed nothing; another process may have
            head = await asyncio.to_thread(self.audit.heads.latest)
        return head

    async def sign_head(self, actor: Actor) -> dict[str, Any]:
        """Sign a head now: the service's loop signs, appends it to the heads file and publishes
        it on NATS, as with its periodic heads. For the region's operator, not for auditors."""
        auth.require_head_signer(actor, self.settings.region)
        head = await self.head_loop.sign_now(SIGN_TIMEOUT)
        if head is None:
            raise DomainError("HEAD_SIGNING_UNAVAILABLE", "Подписать вершину сейчас не удалось: "
                              "подпись вершин не запущена или хранилище недоступно; повторите позже",
                              503)
        return head.to_dict()

    def public_key(self, actor: Actor) -> dict[str, Any]:
        auth.require_auditor(actor)
        latest = self.audit.heads.latest()
        return {"public_key_pem": public_key_pem(self.audit.signer.public_key),
                "latest_head": latest.to_dict() if latest else None}


def remove_export(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink(missing_ok=True)
    folder.rmdir()
