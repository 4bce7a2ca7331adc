"""The documents service layer: registering issued documents, tracking roadmaps, the bank of
practices and reports. Each command checks rights and rules, stores events, catches the local
view up and wakes the relay.

An issued document that names registry persons keeps no bytes (they hold names): its recipe is
kept, and a download renders it again with names the registry gives the downloading user, then
checks the result against the SHA-256 registered at issue (``recipes`` is the one mapping)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError

from services.documents import recipes, views
from services.documents.domain import (
    IssuedDocument,
    ItemStatus,
    Practice,
    Report,
    TrackedRoadmap,
    report_document_id,
    report_uuid,
)
from services.documents.pdf import docx_to_pdf
from services.documents.roadmap import Roadmap, RoadmapParseError, parse_roadmap_upload
from services.documents.templates import KIND_TITLES, number_for
from shared.auth import Actor, OrgPath, Role, system_actor
from shared.contracts import Envelope
from shared.errors import DomainError, forbidden, not_found
from shared.events import ReportDue, read_payload
from shared.logging import get_logger
from shared.settings import Settings
from shared.store import CommandContext, EventSourcedService, ServiceApplication, view_engine

log = get_logger(__name__)
NUMBER_ATTEMPTS = 20


class DocumentsStore(ServiceApplication):
    name = "Documents"
    source = "documents"


class DocumentsService(EventSourcedService):
    def __init__(self, settings: Settings, today: Callable[[], date] = date.today) -> None:
        super().__init__(DocumentsStore(settings), view_engine(settings, "documents"), views)
        self.settings = settings
        self.today = today
        views.create_tables(self.engine)
        self.pdf_profile: Path = settings.service_dir("documents") / "libreoffice-profile"
        self.catch_up()

    # --- issued documents ---------------------------------------------------------------------

    def issue_document(self, ctx: CommandContext, path: OrgPath, kind: str, body: recipes.Body,
                       names: recipes.Names) -> dict[str, Any]:
        """Issue from a request: a document naming registry persons keeps only its recipe.

        It is rendered from the recipe as read back from its JSON, exactly as a download will
        render it, so the registered SHA-256 is reproducible whenever the names are.
        """
        recipe = body.model_dump(mode="json")
        parsed = recipes.load(kind, recipe)
        person_ids = recipes.people(kind, parsed)
        return self.issue(ctx, path, kind,
                          lambda number, day: recipes.render(kind, parsed, names, number, day),
                          person_ids, recipe=recipe if person_ids else None)

    def issue(self, ctx: CommandContext, path: OrgPath, kind: str,
              build: Callable[[str, date], bytes], subject_ids: Sequence[UUID] = (),
              title: str | None = None, recipe: dict[str, Any] | None = None,
              document_id: UUID | None = None) -> dict[str, Any]:
        """Claim the next number of the kind's series, build the file with it, register it.

        With a ``recipe`` the file is not kept (it holds names): the recipe is, to render it again.
        A given ``document_id`` (a report's) is the caller's to keep unique: see ``submit_report``.
        """
        ctx.actor.require_write(path)
        day = self.today()
        document_id = document_id or uuid4()
        sequence = self._claim_number(str(path), kind, day.year, document_id)
        try:
            number = number_for(kind, sequence)
            content = build(number, day)
            digest = hashlib.sha256(content).hexdigest()
            with self.engine.begin() as conn:
                if recipe is None:
                    conn.execute(views.files.insert().values(document_id=document_id, docx=content))
                else:
                    conn.execute(views.recipes.insert().values(
                        document_id=document_id, kind=kind, body=recipe, number=number,
                        date=day.isoformat()))
            document = IssuedDocument(
                document_id=document_id, kind=kind, number=number, date=day.isoformat(),
                content_sha256=digest, subject_ids=list(dict.fromkeys(subject_ids)),
                title=title or KIND_TITLES[kind], meta=ctx.meta(path))
            with self._lock:
                self._save(document)
        except Exception:
            with self.engine.begin() as conn:
                conn.execute(views.files.delete().where(views.files.c.document_id == document_id))
                conn.execute(views.recipes.delete().where(
                    views.recipes.c.document_id == document_id))
                conn.execute(views.number_claims.delete().where(
                    views.number_claims.c.document_id == document_id))
            raise
        log.info("documents.issued", kind=kind, number=number, document_id=str(document_id),
                 correlation_id=str(ctx.correlation_id))
        return self.get_document(ctx.actor, document_id)

    def _claim_number(self, path: str, kind: str, year: int, document_id: UUID) -> int:
        """The next free number; the primary key settles a race between two replicas."""
        claims = views.number_claims.c
        for _ in range(NUMBER_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(sa.select(sa.func.max(claims.sequence)).where(
                        claims.path == path, claims.kind == kind, claims.year == year)).scalar()
                    sequence = int(last or 0) + 1
                    conn.execute(views.number_claims.insert().values(
                        path=path, kind=kind, year=year, sequence=sequence, document_id=document_id))
                return sequence
            except sa.exc.IntegrityError:
                continue
        raise DomainError("NUMBER_BUSY", "Не удалось присвоить номер документу, повторите", 409)

    def _document_row(self, actor: Actor, document_id: UUID) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(views.documents)
                               .where(views.documents.c.id == document_id)).first()
        if row is None or not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Документ", "DOCUMENT_NOT_FOUND")
        return row

    def get_document(self, actor: Actor, document_id: UUID) -> dict[str, Any]:
        return document_json(self._document_row(actor, document_id))

    def list_documents(self, actor: Actor, under: OrgPath | None = None,
                       kind: str | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        query = sa.select(views.documents).order_by(views.documents.c.date,
                                                    views.documents.c.number)
        if kind:
            query = query.where(views.documents.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [document_json(r) for r in rows if scope.contains(OrgPath.parse(r.path))]

    def _recipe_row(self, document_id: UUID) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(views.recipes)
                                .where(views.recipes.c.document_id == document_id)).first()

    def people_to_name(self, actor: Actor, document_id: UUID) -> list[UUID]:
        """Whom the registry must name (for this actor) before the document can be downloaded.

        A document stored before recipes existed is checked against its subjects all the same,
        so a withdrawn consent closes its download too.
        """
        row = self._document_row(actor, document_id)
        recipe = self._recipe_row(document_id)
        if recipe is None:
            return [UUID(str(i)) for i in row.subject_ids]
        return recipes.people(recipe.kind, recipes.load(recipe.kind, recipe.body))

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
        recipe = self._recipe_row(document_id)
        if recipe is not None:
            content = self._rendered(row, recipe, names or {})
            # Never cached: a PDF with names would outlive a withdrawn consent.
            return (content if fmt == "docx" else docx_to_pdf(content, self.pdf_profile),
                    document_json(row))
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(views.files)
                                  .where(views.files.c.document_id == document_id)).first()
        if stored is None:
            raise not_found("Файл документа", "DOCUMENT_FILE_NOT_FOUND")
        if hashlib.sha256(stored.docx).hexdigest() != row.content_sha256:
            raise DomainError("DOCUMENT_TAMPERED",
                              "Файл документа не совпадает с зарегистрированной версией", 409)
        if fmt == "docx":
            return stored.docx, document_json(row)
        if stored.pdf is not None:
            return stored.pdf, document_json(row)
        pdf = docx_to_pdf(stored.docx, self.pdf_profile)
        with self.engine.begin() as conn:
            conn.execute(views.files.update().where(views.files.c.document_id == document_id)
                         .values(pdf=pdf))
        return pdf, document_json(row)

    @staticmethod
    def _rendered(row: sa.Row[Any], recipe: sa.Row[Any], names: recipes.Names) -> bytes:
        changed = DomainError(
            "DOCUMENT_CHANGED",
            f"Документ № {row.number} от {format_iso_date(row.date)} нельзя воспроизвести в "
            "зарегистрированном виде: сведения об участниках в реестре изменились после его "
            "выпуска (например, исправлено ФИО). Регистрация документа сохранена; при "
            "необходимости выпустите новый документ", 409,
            details=[{"id": str(row.id), "number": row.number, "date": row.date,
                      "content_sha256": row.content_sha256}])
        body = recipes.load(recipe.kind, recipe.body)
        try:
            content = recipes.render(recipe.kind, body, names, recipe.number,
                                     date.fromisoformat(recipe.date))
        except DomainError as exc:  # e.g. a birth date since removed from the registry
            raise changed from exc
        if hashlib.sha256(content).hexdigest() != row.content_sha256:
            raise changed
        return content

    # --- roadmaps ----------------------------------------------------------------------------------

    def import_roadmap(self, ctx: CommandContext, path: OrgPath, data: bytes,
                       filename: str) -> dict[str, Any]:
        ctx.actor.require_write(path)
        roadmap = parse_uploaded_roadmap(data, filename)
        roadmap_id = uuid4()
        entries = [item.to_dict() for item in roadmap.items]
        aggregate = TrackedRoadmap(
            roadmap_id=roadmap_id, title=roadmap.title[:2000],
            period_start=roadmap.period.start.isoformat(), period_end=roadmap.period.end.isoformat(),
            items=len(entries), entries=entries, source_name=filename[:300], meta=ctx.meta(path))
        with self._lock:
            self._save(aggregate)
        return self.get_roadmap(ctx.actor, roadmap_id)

    def _roadmap_row(self, actor: Actor, roadmap_id: UUID) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(views.roadmaps)
                               .where(views.roadmaps.c.id == roadmap_id)).first()
        if row is None or not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Дорожная карта", "ROADMAP_NOT_FOUND")
        return row

    def get_roadmap(self, actor: Actor, roadmap_id: UUID) -> dict[str, Any]:
        row = self._roadmap_row(actor, roadmap_id)
        with self.engine.connect() as conn:
            items = conn.execute(sa.select(views.roadmap_items)
                                 .where(views.roadmap_items.c.roadmap_id == roadmap_id)
                                 .order_by(views.roadmap_items.c.position)).all()
            dates = self._due_dates(conn, [roadmap_id])
        return {**roadmap_json(row),
                "items": [item_json(i, dates.get((roadmap_id, i.item_id), [])) for i in items]}

    @staticmethod
    def _due_dates(conn: sa.Connection, roadmap_ids: Sequence[UUID]
                   ) -> dict[tuple[UUID, str], list[sa.Row[Any]]]:
        """Each item's deadlines with their marks, earliest first."""
        table = views.roadmap_due_dates
        found: dict[tuple[UUID, str], list[sa.Row[Any]]] = {}
        for row in conn.execute(sa.select(table).where(table.c.roadmap_id.in_(list(roadmap_ids)))
                                .order_by(table.c.due_date)):
            found.setdefault((row.roadmap_id, row.item_id), []).append(row)
        return found

    def list_roadmaps(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.roadmaps).order_by(views.roadmaps.c.path)).all()
        return [roadmap_json(r) for r in rows if scope.contains(OrgPath.parse(r.path))]

    def update_item(self, ctx: CommandContext, roadmap_id: UUID, item: str, status: ItemStatus,
                    evidence_document_id: UUID | None,
                    due_date: date | None = None) -> dict[str, Any]:
        """Mark one deadline of an item: ``due_date``, or else the earliest one not done."""
        row = self._roadmap_row(ctx.actor, roadmap_id)
        path = OrgPath.parse(row.path)
        ctx.actor.require_write(path)
        if evidence_document_id is not None:
            self._document_row(ctx.actor, evidence_document_id)  # exists and is readable
        with self._lock:
            roadmap: TrackedRoadmap = self.events.repository.get(roadmap_id)
            if roadmap.update_item(item, status, evidence_document_id, ctx.meta(path),
                                   due_date.isoformat() if due_date else None):
                self._save(roadmap)
        return next(i for i in self.get_roadmap(ctx.actor, roadmap_id)["items"] if i["id"] == item)

    def _open_roadmaps(self) -> list[tuple[UUID, OrgPath]]:
        """Roadmaps with an item not done: the only ones a sweep can change."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.roadmaps.c.id, views.roadmaps.c.path).where(
                views.roadmaps.c.id.in_(sa.select(views.roadmap_items.c.roadmap_id).where(
                    views.roadmap_items.c.status != "done")))).all()
        return [(roadmap_id, OrgPath.parse(path)) for roadmap_id, path in rows]

    def mark_overdue(self) -> int:
        """Mark every deadline passed and not done as overdue (by ``today``)."""
        today = self.today()
        marked = 0
        for roadmap_id, path in self._open_roadmaps():
            ctx = CommandContext(system_actor(path.region))
            with self._lock:
                roadmap: TrackedRoadmap = self.events.repository.get(roadmap_id)
                late = roadmap.mark_overdue(today, ctx.meta(path))
                if late:
                    self._save(roadmap)
                    marked += len(late)
        if marked:
            log.info("documents.roadmap_items_overdue", count=marked, today=today.isoformat())
        return marked

    def send_reminders(self) -> int:
        """``RoadmapItemDue`` for items coming due, once per reminder (14, 7, 1 and 0 days)."""
        today = self.today()
        sent = 0
        for roadmap_id, path in self._open_roadmaps():
            ctx = CommandContext(system_actor(path.region))
            with self._lock:
                roadmap: TrackedRoadmap = self.events.repository.get(roadmap_id)
                count = roadmap.remind(today, ctx.meta(path))
                if count:
                    self._save(roadmap)
                    sent += count
        return sent

    def overdue_items(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        """Overdue items of every roadmap in the actor's territory: what the level above watches.
        An item is overdue when its earliest deadline not done is (its summary status)."""
        scope = under or actor.scope
        actor.require_read(scope)
        query = (sa.select(views.roadmap_items, views.roadmaps.c.title)
                 .join(views.roadmaps, views.roadmaps.c.id == views.roadmap_items.c.roadmap_id)
                 .where(views.roadmap_items.c.status == "overdue")
                 .order_by(views.roadmap_items.c.path, views.roadmap_items.c.position))
        with self.engine.connect() as conn:
            rows = [r for r in conn.execute(query) if scope.contains(OrgPath.parse(r.path))]
            dates = self._due_dates(conn, list({r.roadmap_id for r in rows}))
        return [{**item_json(r, dates.get((r.roadmap_id, r.item_id), [])),
                 "roadmap_id": str(r.roadmap_id), "roadmap_title": r.title, "path": r.path}
                for r in rows]

    # --- the bank of best practices ----------------------------------------------------------

    def submit_practice(self, ctx: CommandContext, path: OrgPath, title: str, description: str,
                        form: str, tags: Sequence[str]) -> dict[str, Any]:
        if ctx.actor.role is not Role.CURATOR:
            raise forbidden("Практику в банк предлагает куратор организации")
        ctx.actor.require_write(path)
        practice = Practice(practice_id=uuid4(), form=form, tags=normalise_tags(tags), title=title,
                            description=description, submitted_by=ctx.actor.user,
                            meta=ctx.meta(path))
        with self._lock:
            self._save(practice)
        return self.get_practice(ctx.actor, practice.id)

    def review_practice(self, ctx: CommandContext, practice_id: UUID, publish: bool,
                        comment: str) -> dict[str, Any]:
        row = self._practice_row(practice_id)
        path = OrgPath.parse(row.path)
        if not is_level_above(ctx.actor, path):
            raise forbidden("Практику рассматривает вышестоящий уровень: муниципалитет или регион")
        with self._lock:
            practice: Practice = self.events.repository.get(practice_id)
            practice.review(publish, comment, ctx.meta(path))
            self._save(practice)
        return self.get_practice(ctx.actor, practice_id)

    def _practice_row(self, practice_id: UUID) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(views.practices)
                               .where(views.practices.c.id == practice_id)).first()
        if row is None:
            raise not_found("Практика", "PRACTICE_NOT_FOUND")
        return row

    def get_practice(self, actor: Actor, practice_id: UUID) -> dict[str, Any]:
        row = self._practice_row(practice_id)
        if row.status != "published" and not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Практика", "PRACTICE_NOT_FOUND")
        return practice_json(row)

    def search_practices(self, actor: Actor, form: str | None = None, tag: str | None = None,
                         text: str | None = None, status: str = "published") -> list[dict[str, Any]]:
        """Published practices are open to everyone; others only inside the actor's scope."""
        query = sa.select(views.practices).where(views.practices.c.status == status)
        if form:
            query = query.where(views.practices.c.form == form)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(views.practices.c.title)).all()
        wanted_tag = tag.strip().lower() if tag else None
        needle = text.strip().lower() if text else None
        return [practice_json(r) for r in rows
                if (status == "published" or actor.can_read(OrgPath.parse(r.path)))
                and (wanted_tag is None or wanted_tag in r.tags)
                and (needle is None or needle in f"{r.title} {r.description}".lower())]

    # --- reports ----------------------------------------------------------------------------------

    def record_report_due(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        """In the consumer's transaction: keep each ``ReportDue`` notice for ``prepare_drafts``."""
        rows = [{"event_id": e.event_id, "envelope": e.model_dump(mode="json")}
                for e in envelopes if e.type == "ReportDue"]
        for row in rows:
            exists = conn.execute(sa.select(views.report_inbox.c.event_id).where(
                views.report_inbox.c.event_id == row["event_id"])).first()
            if not exists:
                conn.execute(views.report_inbox.insert().values(**row))

    def prepare_drafts(self) -> int:
        """Turn every pending ``ReportDue`` into a draft (once per report and organisation)."""
        with self.engine.connect() as conn:
            pending = conn.execute(sa.select(views.report_inbox)).all()
        prepared = 0
        for row in pending:
            envelope = Envelope.model_validate(row.envelope)
            due = read_payload(envelope)
            assert isinstance(due, ReportDue)
            path = envelope.org
            with self._lock:
                if self._report_exists(report_uuid(due.report_id, str(path))) is None:
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

    def _report_exists(self, report_id: UUID) -> sa.Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(views.reports)
                                .where(views.reports.c.id == report_id)).first()

    def list_reports(self, actor: Actor, under: OrgPath | None = None) -> list[dict[str, Any]]:
        scope = under or actor.scope
        actor.require_read(scope)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.reports).order_by(views.reports.c.deadline)).all()
        return [report_json(r) for r in rows if scope.contains(OrgPath.parse(r.path))]

    def report_path(self, actor: Actor, report_id: UUID) -> OrgPath:
        row = self._report_exists(report_id)
        if row is None or not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Отчёт", "REPORT_NOT_FOUND")
        if row.status != "draft":
            raise DomainError("REPORT_ALREADY_SUBMITTED", "Отчёт уже сдан", 409)
        return OrgPath.parse(row.path)

    def submit_report(self, ctx: CommandContext, report_id: UUID,
                      build: Callable[[str, date, dict[str, Any]], bytes]) -> dict[str, Any]:
        """Issue the report document (numbered like any other) and mark the report submitted.

        One step across replicas: the draft is checked, its document issued and the report
        submitted under ``exclusive``, so a second submission waits and then finds it submitted
        rather than issuing a second numbered report. The document's id is the report's own
        (``report_document_id``): a submission that stopped after registering its document and
        before ``ReportSubmitted`` (a crash) is finished by the next one with that document.
        """
        path = self.report_path(ctx.actor, report_id)  # refusals before anyone waits
        ctx.actor.require_write(path)
        document_id = report_document_id(report_id)
        with self.exclusive():  # catches the view up on what other replicas stored
            self.report_path(ctx.actor, report_id)  # still a draft, now that the lock is ours
            row = self._report_exists(report_id)
            assert row is not None
            if not self._registered(document_id):
                self._forget_unregistered(document_id)
                meta = report_json(row)
                self.issue(ctx, path, "report", lambda number, day: build(number, day, meta),
                           title=f"Информационно-аналитический отчёт за {row.period}",
                           document_id=document_id)
            else:
                log.info("documents.report_resumed", report_id=str(report_id),
                         document_id=str(document_id))
            report: Report = self.events.repository.get(report_id)
            report.submit(document_id, ctx.meta(path))
            self._save(report)
        with self.engine.connect() as conn:
            updated = conn.execute(sa.select(views.reports)
                                   .where(views.reports.c.id == report_id)).one()
        return {**report_json(updated), "document": self.get_document(ctx.actor, document_id)}

    def _registered(self, document_id: UUID) -> bool:
        """Asked of the event store, not the view: a view behind must never let an id issue twice."""
        try:
            self.events.repository.get(document_id)
        except AggregateNotFoundError:
            return False
        return True

    def _forget_unregistered(self, document_id: UUID) -> None:
        """What an attempt that died before registering its document left (its number claim):
        under ``exclusive`` no other attempt can be issuing this id, so it is nobody's."""
        with self.engine.begin() as conn:
            for table in (views.files, views.recipes, views.number_claims):
                conn.execute(table.delete().where(table.c.document_id == document_id))


def parse_uploaded_roadmap(data: bytes, filename: str) -> Roadmap:
    try:
        return parse_roadmap_upload(data, filename)
    except RoadmapParseError as exc:
        raise DomainError(exc.code, str(exc), exc.status) from exc


def decode_text(data: bytes) -> str:
    """Text exports come as UTF-8 (with or without BOM) or, from Windows, CP1251."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251")


def is_level_above(actor: Actor, path: OrgPath) -> bool:
    """A municipality (or the region) above the organisation, never the organisation itself."""
    if actor.role not in (Role.MUNICIPAL, Role.REGIONAL) or not actor.can_write(path):
        return False
    return actor.scope != path


def normalise_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


def format_iso_date(text: str) -> str:
    """«2023-09-15» → «15.09.2023», as the document itself prints it."""
    return date.fromisoformat(text).strftime("%d.%m.%Y")


def document_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "kind": row.kind, "number": row.number, "date": row.date,
            "path": row.path, "title": row.title, "content_sha256": row.content_sha256,
            "subject_ids": list(row.subject_ids),
            "docx_url": f"/documents/{row.id}/docx", "pdf_url": f"/documents/{row.id}/pdf"}


def roadmap_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "path": row.path, "title": row.title,
            "period": {"start": row.period_start, "end": row.period_end},
            "source_name": row.source_name}


def item_json(row: sa.Row[Any], dates: Sequence[sa.Row[Any]] = ()) -> dict[str, Any]:
    """An item with its summary ``status`` (that of its next deadline not done), and each
    deadline's own mark in ``due_statuses``; ``next_due_date`` is the earliest one not done."""
    return {"id": row.item_id, **row.content, "status": row.status,
            "evidence_document_id": optional_id(row.evidence_document_id),
            "next_due_date": next((d.due_date for d in dates if d.status != "done"), None),
            "due_statuses": [{"due_date": d.due_date, "status": d.status,
                              "evidence_document_id": optional_id(d.evidence_document_id)}
                             for d in dates]}


def optional_id(value: UUID | None) -> str | None:
    return str(value) if value else None


def practice_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "path": row.path, "title": row.title,
            "description": row.description, "form": row.form, "tags": list(row.tags),
            "status": row.status, "comment": row.comment}


def report_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "report_id": row.report_id, "path": row.path, "level": row.level,
            "period": row.period, "deadline": row.deadline, "status": row.status,
            "document_id": str(row.document_id) if row.document_id else None}
