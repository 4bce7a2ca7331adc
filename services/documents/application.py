"""The documents service layer: issuing documents, tracking roadmaps, the bank of practices and
reports. Every command and query of the service is a method here (the bank of practices and
«Наставник года» in ``bank.BankDesk``, «Школа наставников» in ``training.TrainingDesk``, which
it is built on): rights are checked once,
through the policy of ``shared.auth``; then the rules, the events stored, the local view caught
up and the relay woken.

What other services know is asked through ``Peers`` for the acting user (claims this service
signs: ``shared.claims``), so the owner decides what that user may see — after this service's
own refusals. Names come from the registry at issue and at every download: such a document is
kept as its recipe (ids) and rendered anew (``register``).
A report holds the figures its unit's dashboard shows that user; a pairs order approves only
pairs formed, as formed. A roadmap is tracked once the user has reviewed its parse (``review``).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError

from services.documents import recipes, review, templates, views
from services.documents.bank import BankDesk
from services.documents.commands import (
    ConfirmRoadmap,
    GivenRequisitesIn,
    ImportRoadmap,
    IssueIn,
    ItemUpdateIn,
    PairsOrderIn,
    ReportIn,
    ReportTextIn,
    parse_path,
)
from services.documents.domain import (
    IssuedDocument,
    Report,
    TrackedRoadmap,
    report_document_id,
    report_uuid,
)
from services.documents.pairs import order_recipe, refuse_repeated_pairs
from services.documents.peers import BusPeers, Peers
from services.documents.register import Register, format_iso_date
from services.documents.roadmap import Roadmap
from services.documents.templates import KIND_TITLES
from services.documents.training import TrainingDesk
from shared.auth import (
    Actor,
    OrgPath,
    require_issuer,
    system_actor,
)
from shared.contracts import Envelope
from shared.errors import DomainError
from shared.events import ReportDue, read_payload
from shared.localtime import today_in
from shared.logging import get_logger
from shared.settings import Settings
from shared.store import CommandContext, ServiceApplication, view_engine

log = get_logger(__name__)
Figures = tuple[dict[str, Any], dict[str, dict[str, Any]]]


class DocumentsStore(ServiceApplication):
    name = "Documents"
    source = "documents"


class DocumentsService(BankDesk, TrainingDesk):
    def __init__(self, settings: Settings, today: Callable[[], date] | None = None,
                 peers: Peers | None = None, *, events: ServiceApplication | None = None,
                 engine: sa.Engine | None = None) -> None:
        """``events`` and ``engine`` stand in for the configured stores (the unit tests' memory)."""
        super().__init__(events or DocumentsStore(settings),
                         engine or view_engine(settings, "documents", secure_delete=True), views)
        self.settings = settings
        self.today = today or today_in(settings.zone)  # the region's date, not the server's
        self.peers: Peers = peers or BusPeers(None)
        views.create_tables(self.engine)
        self.register = Register(self.engine, settings.service_dir("documents") / "libreoffice-profile")
        self.catch_up()

    # --- issued documents ---------------------------------------------------------------------

    async def issue(self, ctx: CommandContext, kind: str, body: IssueIn) -> dict[str, Any]:
        """Rights (a refusal costs no peer a call), what peers hold (a plan's goals), names."""
        path = issuer_path(ctx.actor, body.org)
        given = body if isinstance(body, GivenRequisitesIn) else GivenRequisitesIn()
        self._refuse_future(given.date)
        recipe = await recipes.prepare(kind, body, self.peers, ctx.actor, path)
        return await self._issue_named(ctx, path, kind, recipe, given.number, given.date)

    async def issue_pairs_order(self, ctx: CommandContext, order: PairsOrderIn) -> dict[str, Any]:
        """Rights, the pairs as pairing has them (any unknown, foreign, closed or misdescribed pair
        refuses the order), names, the document."""
        path = issuer_path(ctx.actor, order.org)
        refuse_repeated_pairs(order)
        found = await self.peers.pairs(ctx.actor, [p.pair_id for p in order.pairs])
        recipe = order_recipe(order, path, found.pairs, found.missing)
        self._refuse_future(order.date)
        return await self._issue_named(ctx, path, "pairs_order", recipe, order.number, order.date)

    def _refuse_future(self, day: date | None) -> None:
        if day is not None and day > self.today():
            raise DomainError("DATE_IN_FUTURE", "Дата приказа ещё не наступила", 422)

    async def _issue_named(self, ctx: CommandContext, path: OrgPath, kind: str,
                           body: recipes.Body, number: str | None = None,
                           day: date | None = None) -> dict[str, Any]:
        """A document naming registry persons keeps only its recipe. It is rendered from the
        recipe as read back from its JSON, exactly as a download will render it, so the
        registered SHA-256 is reproducible whenever the names are."""
        recipe = body.model_dump(mode="json")
        parsed = recipes.load(kind, recipe)
        person_ids = recipes.people(kind, parsed)
        names = await self._names(ctx.actor, person_ids, recipes.paired_mentors(kind, parsed))
        return await asyncio.to_thread(
            self._register, ctx, path, kind,
            lambda number, day: recipes.render(kind, parsed, names, number, day),
            person_ids, recipe=recipe if person_ids else None, number=number, day=day)

    def _register(self, ctx: CommandContext, path: OrgPath, kind: str,
                  build: Callable[[str, date], bytes], subject_ids: Sequence[UUID] = (),
                  title: str | None = None, recipe: dict[str, Any] | None = None,
                  document_id: UUID | None = None, number: str | None = None,
                  day: date | None = None) -> dict[str, Any]:
        """Number (the series' next, or the curator's ``number``, unique in the organisation),
        build and register a document; rights are checked. A ``recipe`` is kept, not the file
        (names); a given ``document_id`` (a report's) is the caller's to keep unique."""
        day = day or self.today()
        document_id = document_id or uuid4()
        with self.exclusive(str(path)):  # a number checked free in the organisation stays free
            number = (self.register.given_number(str(path), number) if number else
                      self.register.next_number(str(path), kind, day.year, document_id))
            try:
                content = build(number, day)
                self.register.keep(document_id, content, kind, number, day, recipe)
                self._save(IssuedDocument(
                    document_id=document_id, kind=kind, number=number, date=day.isoformat(),
                    content_sha256=hashlib.sha256(content).hexdigest(),
                    subject_ids=list(dict.fromkeys(subject_ids)), title=title or KIND_TITLES[kind],
                    meta=ctx.meta(path)))
            except Exception:
                self.register.forget(document_id)
                raise
        log.info("documents.issued", kind=kind, number=number, document_id=str(document_id),
                 correlation_id=str(ctx.correlation_id))
        return self.get_document(ctx.actor, document_id)

    async def _names(self, actor: Actor, person_ids: Sequence[UUID],
                     paired: Sequence[UUID] = ()) -> recipes.Names:
        """Every person, or an error naming none (one may be out of scope); ``paired``: see peers."""
        if not person_ids:
            return {}
        found = await self.peers.names(actor, person_ids, paired)
        if found.missing:
            raise DomainError("PERSON_NOT_FOUND",
                              "Участник не найден, вне вашей зоны доступа или отозвал согласие", 404,
                              details=[{"person_id": i} for i in found.missing])
        return {UUID(key): person for key, person in found.people.items()}

    def _document_row(self, actor: Actor, document_id: UUID) -> sa.Row[Any]:
        return self._readable_row(actor, views.documents, document_id, "Документ",
                                  "DOCUMENT_NOT_FOUND")

    def get_document(self, actor: Actor, document_id: UUID) -> dict[str, Any]:
        return views.document_json(self._document_row(actor, document_id))

    def list_documents(self, actor: Actor, under: OrgPath | None = None,
                       kind: str | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        query = sa.select(views.documents).order_by(views.documents.c.date,
                                                    views.documents.c.number)
        if kind:
            query = query.where(views.documents.c.kind == kind)
        return [views.document_json(r) for r in views.in_scope(self.engine, query, scope)]

    async def download(self, actor: Actor, document_id: UUID,
                       fmt: str) -> tuple[bytes, dict[str, Any]]:
        """A document naming registry persons is rendered again with the names the registry gives
        the downloading user now: one it refuses gets the refusal, an erased person ends in 410."""
        wanted, paired = await asyncio.to_thread(self.people_to_name, actor, document_id)
        try:
            names = await self._names(actor, wanted, paired)
        except DomainError as exc:
            if exc.code != "PERSON_NOT_FOUND":
                raise
            raise await asyncio.to_thread(self.personal_data_erased, actor, document_id) from exc
        return await asyncio.to_thread(self.document_file, actor, document_id, fmt, names)

    def people_to_name(self, actor: Actor, document_id: UUID) -> tuple[list[UUID], list[UUID]]:
        """Whom the registry must name (for this actor) before the document can be downloaded,
        and which of them a pair names (``recipes.paired_mentors``). A document stored before
        recipes existed is checked against its subjects: a withdrawn consent closes it too."""
        row = self._document_row(actor, document_id)
        recipe = self.register.recipe_row(document_id)
        if recipe is None:
            return [UUID(str(i)) for i in row.subject_ids], []
        body = recipes.load(recipe.kind, recipe.body)
        return recipes.people(recipe.kind, body), recipes.paired_mentors(recipe.kind, body)

    def personal_data_erased(self, actor: Actor, document_id: UUID) -> DomainError:
        meta = self.get_document(actor, document_id)
        return DomainError(
            "PERSONAL_DATA_ERASED",
            f"Документ № {meta['number']} от {format_iso_date(meta['date'])} называл участника, "
            "чьи персональные данные удалены после отзыва согласия на их обработку; документ "
            "больше не может быть выдан. Его регистрация (номер, дата, контрольная сумма) "
            "сохранена", 410,
            details=[{key: meta[key] for key in ("id", "number", "date", "content_sha256")}])

    def document_file(self, actor: Actor, document_id: UUID, fmt: str,
                      names: recipes.Names | None = None) -> tuple[bytes, dict[str, Any]]:
        """The file as registered: stored, or rendered again from its recipe with ``names``."""
        row = self._document_row(actor, document_id)
        return self.register.file(row, fmt, names or {}), views.document_json(row)

    # --- roadmaps ----------------------------------------------------------------------------------

    def import_roadmap(self, ctx: CommandContext, upload: ImportRoadmap) -> dict[str, Any]:
        """Track the roadmap as parsed, without a review (the API's first route, kept as it was)."""
        path = issuer_path(ctx.actor, upload.org)
        roadmap = upload.roadmap()
        return self._track(ctx, path, roadmap, [item.to_dict() for item in roadmap.items], upload)

    def preview_roadmap(self, ctx: CommandContext, upload: ImportRoadmap) -> dict[str, Any]:
        """The parse with what the parser was unsure of, for the user to review: nothing is saved."""
        issuer_path(ctx.actor, upload.org)
        return review.preview(upload.roadmap(), upload.filename, upload.data)

    def confirm_roadmap(self, ctx: CommandContext, upload: ConfirmRoadmap) -> dict[str, Any]:
        """Track the roadmap as reviewed; the user's changes to the file's parse are recorded."""
        path = issuer_path(ctx.actor, upload.org)
        checked, roadmap = upload.review(), upload.roadmap()  # the cheap check first
        entries, corrections = review.reviewed_entries(roadmap, upload.data, checked)
        return self._track(ctx, path, roadmap, entries, upload, corrections)

    def _track(self, ctx: CommandContext, path: OrgPath, roadmap: Roadmap,
               entries: list[dict[str, Any]], upload: ImportRoadmap,
               corrections: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        roadmap_id = uuid4()
        aggregate = TrackedRoadmap(
            roadmap_id=roadmap_id, title=roadmap.title[:2000],
            period_start=roadmap.period.start.isoformat(), period_end=roadmap.period.end.isoformat(),
            items=len(entries), entries=entries, source_name=upload.filename[:300],
            meta=ctx.meta(path), source_sha256=review.sha256(upload.data), corrections=corrections)
        with self._lock:
            self._save(aggregate)
        return self.get_roadmap(ctx.actor, roadmap_id)

    def _roadmap_row(self, actor: Actor, roadmap_id: UUID) -> sa.Row[Any]:
        return self._readable_row(actor, views.roadmaps, roadmap_id, "Дорожная карта",
                                  "ROADMAP_NOT_FOUND")

    def get_roadmap(self, actor: Actor, roadmap_id: UUID) -> dict[str, Any]:
        return views.roadmap_with_items(self.engine, self._roadmap_row(actor, roadmap_id))

    def list_roadmaps(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        query = sa.select(views.roadmaps).order_by(views.roadmaps.c.path)
        return [views.roadmap_json(r) for r in views.in_scope(self.engine, query, scope)]

    def update_item(self, ctx: CommandContext, roadmap_id: UUID, item: str,
                    mark: ItemUpdateIn) -> dict[str, Any]:
        """Mark one deadline of an item: ``mark.due_date``, or else the earliest one not done."""
        row = self._roadmap_row(ctx.actor, roadmap_id)
        path = OrgPath.parse(row.path)
        require_issuer(ctx.actor, path)
        if mark.evidence_document_id is not None:
            self._document_row(ctx.actor, mark.evidence_document_id)  # exists and is readable
        with self._lock:
            roadmap: TrackedRoadmap = self.events.repository.get(roadmap_id)
            if roadmap.update_item(item, mark.status, mark.evidence_document_id, ctx.meta(path),
                                   mark.due_date.isoformat() if mark.due_date else None):
                self._save(roadmap)
        return next(i for i in self.get_roadmap(ctx.actor, roadmap_id)["items"] if i["id"] == item)

    def sweep_roadmaps(self) -> None:
        """The periodic sweep: reminders of items coming due, then the overdue marks."""
        self.send_reminders()
        self.mark_overdue()

    def mark_overdue(self) -> int:
        """Mark every deadline passed and not done as overdue (by ``today``)."""
        today = self.today()
        marked = self._sweep_open_roadmaps(
            lambda roadmap, meta: len(roadmap.mark_overdue(today, meta)))
        if marked:
            log.info("documents.roadmap_items_overdue", count=marked, today=today.isoformat())
        return marked

    def send_reminders(self) -> int:
        """``RoadmapItemDue`` for items coming due, once per reminder (14, 7, 1 and 0 days)."""
        today = self.today()
        return self._sweep_open_roadmaps(lambda roadmap, meta: roadmap.remind(today, meta))

    def _sweep_open_roadmaps(self, step: Callable[[TrackedRoadmap, dict[str, Any]], int]) -> int:
        """Run ``step`` on every open roadmap as the system of its region; a roadmap is saved
        only when ``step`` counted something on it. Returns the total count."""
        total = 0
        for roadmap_id, path in views.open_roadmaps(self.engine):
            ctx = CommandContext(system_actor(path.region))
            with self._lock:
                roadmap: TrackedRoadmap = self.events.repository.get(roadmap_id)
                count = step(roadmap, ctx.meta(path))
                if count:
                    self._save(roadmap)
                    total += count
        return total

    def overdue_items(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        """Overdue items of every roadmap in the actor's territory: what the level above watches."""
        scope = under or actor.scope
        actor.require_read(scope)
        return views.overdue_items(self.engine, scope)

    # --- reports ----------------------------------------------------------------------------------

    async def issue_report(self, ctx: CommandContext, order: ReportIn) -> dict[str, Any]:
        """A report issued on demand (one from ``ReportDue`` is submitted below), from ``org``'s dashboard."""
        path = issuer_path(ctx.actor, order.org)
        dashboard, units = await self._figures(ctx.actor, path, order.period)
        content = recipes.report_content(order, order.period, dashboard, units)
        return await asyncio.to_thread(
            self._register, ctx, path, "report",
            lambda number, day: templates.analytic_report(order.requisites(number, day), content),
            title=recipes.report_title(order.period))

    async def _figures(self, actor: Actor, path: OrgPath, period: str) -> Figures:
        """The dashboards of the unit and the units under it (with their satisfaction), KPIs of
        the report's school-year period when it names one; a unit right under the region («_»)
        has no path of its own to ask with, its row shows no satisfaction."""
        code = recipes.period_code(period)
        dashboard = (await self.peers.dashboard(actor, str(path), code)).dashboard
        scopes = [u["scope"] for u in dashboard["units"] if "/_/" not in u["scope"]]
        answers = await asyncio.gather(*(self.peers.dashboard(actor, s, code) for s in scopes))
        return dashboard, {scope: a.dashboard for scope, a in zip(scopes, answers, strict=True)}

    def prepare_drafts(self) -> int:
        """Turn every pending ``ReportDue`` (kept by ``consumers.ReportDueInbox``) into a draft,
        once per report and organisation."""
        with self.engine.connect() as conn:
            pending = conn.execute(sa.select(views.report_inbox)).all()
        prepared = 0
        for row in pending:
            envelope = Envelope.model_validate(row.envelope)
            due = read_payload(envelope)
            assert isinstance(due, ReportDue)
            path = envelope.org
            with self._lock:
                if views.find(self.engine, views.reports, report_uuid(due.report_id, str(path))) is None:
                    ctx = CommandContext(system_actor(path.region), envelope.correlation_id,
                                         envelope.event_id)
                    report = Report(report_id=due.report_id, path=str(path), level=due.level,
                                    period=due.period, deadline=due.deadline, meta=ctx.meta(path))
                    self._save(report)
                    prepared += 1
                with self.engine.begin() as conn:
                    conn.execute(views.report_inbox.delete().where(
                        views.report_inbox.c.event_id == row.event_id))
        return prepared

    def list_reports(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        query = sa.select(views.reports).order_by(views.reports.c.deadline)
        return [views.report_json(r) for r in views.in_scope(self.engine, query, scope)]

    def _draft(self, actor: Actor, report_id: UUID) -> sa.Row[Any]:
        """The report, still a draft, if the actor may see it."""
        row = self._readable_row(actor, views.reports, report_id, "Отчёт", "REPORT_NOT_FOUND")
        if row.status != "draft":
            raise DomainError("REPORT_ALREADY_SUBMITTED", "Отчёт уже сдан", 409)
        return row

    async def submit_report(self, ctx: CommandContext, report_id: UUID,
                            text: ReportTextIn) -> dict[str, Any]:
        """Submit a draft: the report is filled from the dashboard of the draft's unit."""
        draft = await asyncio.to_thread(self._draft, ctx.actor, report_id)
        path = OrgPath.parse(draft.path)
        require_issuer(ctx.actor, path)  # a refusal must not cost monitoring a call
        dashboard, units = await self._figures(ctx.actor, path, draft.period)
        content = recipes.report_content(text, draft.period, dashboard, units)
        return await asyncio.to_thread(self._file_report, ctx, path, report_id, text, content)

    def _file_report(self, ctx: CommandContext, path: OrgPath, report_id: UUID,
                     text: ReportTextIn, content: templates.ReportContent) -> dict[str, Any]:
        """Issue the report document (numbered like any other) and mark the report submitted.

        One step across replicas: the draft is checked, its document issued and the report
        submitted under ``exclusive``, so a second submission waits and then finds it submitted
        rather than issuing a second numbered report. The document's id is the report's own
        (``report_document_id``): a submission that stopped after registering its document and
        before ``ReportSubmitted`` (a crash) is finished by the next one with that document.
        """
        document_id = report_document_id(report_id)
        with self.exclusive(str(path)):  # catches the view up on what other replicas stored
            draft = self._draft(ctx.actor, report_id)  # still a draft, now that the lock is ours
            if not self._registered(document_id):
                # What an attempt that died before registering its document left (its number
                # claim): under ``exclusive`` no other attempt can be issuing this id.
                self.register.forget(document_id)
                self._register(
                    ctx, path, "report",
                    lambda number, day: templates.analytic_report(text.requisites(number, day),
                                                                  content),
                    title=recipes.report_title(draft.period),
                    document_id=document_id)
            else:
                log.info("documents.report_resumed", report_id=str(report_id),
                         document_id=str(document_id))
            report: Report = self.events.repository.get(report_id)
            report.submit(document_id, ctx.meta(path))
            self._save(report)
        submitted = views.find(self.engine, views.reports, report_id)
        assert submitted is not None
        return {**views.report_json(submitted),
                "document": self.get_document(ctx.actor, document_id)}

    def _registered(self, document_id: UUID) -> bool:
        """Asked of the event store, not the view: a view behind must never let an id issue twice."""
        try:
            self.events.repository.get(document_id)
        except AggregateNotFoundError:
            return False
        return True


def issuer_path(actor: Actor, org: str) -> OrgPath:
    path = parse_path(org)
    require_issuer(actor, path)
    return path


