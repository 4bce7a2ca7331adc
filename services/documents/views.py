"""The documents service's read model (caught up from its own event store) and its local tables.

Local tables that are not projections: the issued files of documents that name no registry
person, the recipes of those that do (their bytes, which hold names, are never stored: they are
rendered again at download with names the registry gives the downloading user), the number
claims that make registration numbers unique per organisation, kind and year, and the inbox of
``ReportDue`` notices taken from the monitoring stream (written in the consumer's transaction).

The status of each deadline of a roadmap item (``roadmap_due_dates``) came after the rest, so it
is a projection with a position of its own: where it starts at 0 (an existing store) it is built
from the whole event store at the first catch-up, and from then on both advance together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.domain import CanMutateAggregate

from services.documents.domain import Mark, item_due_dates, item_summary, resolve_due_date
from shared.auth import OrgPath, path_text
from shared.consumer import metadata as positions_metadata
from shared.consumer import read_position, write_position
from shared.databases import create_tables as create_shared_tables
from shared.store import dispatch

metadata = sa.MetaData()
VIEW_NAME = "documents-view"
DUE_DATES_VIEW = "documents-roadmap-due-dates"
LOCAL_STREAM = "local:documents"

documents = sa.Table(
    "documents_issued", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("date", sa.String(10), nullable=False),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("subject_ids", sa.JSON, nullable=False),
    sa.Column("issued_by", sa.String(200), nullable=False),
)
files = sa.Table(
    "documents_files", metadata,
    sa.Column("document_id", sa.Uuid, primary_key=True),
    sa.Column("docx", sa.LargeBinary, nullable=False),
    sa.Column("pdf", sa.LargeBinary, nullable=True),
)
#: Kind, validated request (person ids, never names), number and date: all a document needs to be
#: rendered again byte for byte.
recipes = sa.Table(
    "documents_recipes", metadata,
    sa.Column("document_id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("date", sa.String(10), nullable=False),
)
number_claims = sa.Table(
    "documents_number_claims", metadata,
    sa.Column("path", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("sequence", sa.Integer, primary_key=True),
    sa.Column("document_id", sa.Uuid, nullable=False, unique=True),
)
roadmaps = sa.Table(
    "documents_roadmaps", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("period_start", sa.String(10), nullable=False),
    sa.Column("period_end", sa.String(10), nullable=False),
    sa.Column("source_name", sa.String(300), nullable=False),
)
roadmap_items = sa.Table(
    "documents_roadmap_items", metadata,
    sa.Column("roadmap_id", sa.Uuid, primary_key=True),
    sa.Column("item_id", sa.String(16), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("evidence_document_id", sa.Uuid, nullable=True),
)
#: One row per deadline of a roadmap item (an item without due dates has none: its row in
#: ``roadmap_items`` is its status). ``roadmap_items.status`` is the item's summary of these.
roadmap_due_dates = sa.Table(
    "documents_roadmap_due_dates", metadata,
    sa.Column("roadmap_id", sa.Uuid, primary_key=True),
    sa.Column("item_id", sa.String(16), primary_key=True),
    sa.Column("due_date", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("evidence_document_id", sa.Uuid, nullable=True),
)
practices = sa.Table(
    "documents_practices", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("form", sa.String(100), nullable=False, index=True),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
)
#: «Наставник года»: each nomination with the decision of each stage (None: not yet judged there).
nominations = sa.Table(
    "documents_nominations", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("mentor_id", sa.Uuid, nullable=False),
    sa.Column("school_year", sa.String(9), nullable=False, index=True),
    sa.Column("justification", sa.Text, nullable=False),
    sa.Column("municipality", sa.String(16), nullable=True),
    sa.Column("region", sa.String(16), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
)
#: «Школа наставников»: the materials, and each mentor's completion of one (``confirmed`` by the
#: curator). ``path`` is the publisher's, and the mentor's organisation's.
training_materials = sa.Table(
    "documents_training_materials", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("form", sa.String(100), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("link", sa.String(500), nullable=True),
)
training_completions = sa.Table(
    "documents_training_completions", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("material_id", sa.Uuid, nullable=False, index=True),
    sa.Column("mentor_id", sa.Uuid, nullable=False, index=True),
    sa.Column("confirmed", sa.Boolean, nullable=False),
)
reports = sa.Table(
    "documents_reports", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("report_id", sa.String(100), nullable=False),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("period", sa.String(100), nullable=False),
    sa.Column("deadline", sa.String(10), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("document_id", sa.Uuid, nullable=True),
)
report_inbox = sa.Table(
    "documents_report_inbox", metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("envelope", sa.JSON, nullable=False),
)
#: The registry's ConsentWithdrawn notices: worked off by ``erasure.Erasure``, and checked by
#: ``register.Register.keep`` so that no recipe naming a withdrawn person is kept after them.
erasure_inbox = sa.Table(
    "documents_erasure_inbox", metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("done", sa.Boolean, nullable=False, default=False, index=True),
)


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    create_shared_tables(positions_metadata, engine)


def current_position(conn: sa.Connection) -> int:
    return min(read_position(conn, VIEW_NAME, LOCAL_STREAM),
               read_position(conn, DUE_DATES_VIEW, LOCAL_STREAM))


def apply_events(conn: sa.Connection, events: list[tuple[int, CanMutateAggregate[UUID]]]) -> None:
    """Each projection takes the events past its own position (the due dates' may lag behind,
    once, while it is built); the main one first, as the due dates update its item rows."""
    for name, handlers in ((VIEW_NAME, HANDLERS), (DUE_DATES_VIEW, DUE_DATE_HANDLERS)):
        position = read_position(conn, name, LOCAL_STREAM)
        dispatch(handlers, conn, [(p, e) for p, e in events if p > position])
        write_position(conn, name, LOCAL_STREAM, events[-1][0])



def _document_issued(conn: sa.Connection, e: Any) -> None:
    conn.execute(documents.insert().values(
        id=e.originator_id, kind=e.kind, number=e.number, date=e.date, path=path_text(e.meta["org"]),
        title=e.title, content_sha256=e.content_sha256,
        subject_ids=[str(s) for s in e.subject_ids], issued_by=e.meta["actor"]["user"]))


def _roadmap_imported(conn: sa.Connection, e: Any) -> None:
    path = path_text(e.meta["org"])
    conn.execute(roadmaps.insert().values(
        id=e.originator_id, path=path, title=e.title, period_start=e.period_start,
        period_end=e.period_end, source_name=e.source_name))
    if e.entries:
        conn.execute(roadmap_items.insert(), [
            {"roadmap_id": e.originator_id, "item_id": str(i + 1), "position": i, "path": path,
             "content": entry, "status": "planned", "evidence_document_id": None}
            for i, entry in enumerate(e.entries)])


def _due_dates_imported(conn: sa.Connection, e: Any) -> None:
    rows = [{"roadmap_id": e.originator_id, "item_id": str(i + 1), "due_date": day,
             "status": "planned", "evidence_document_id": None}
            for i, entry in enumerate(e.entries) for day in item_due_dates(entry)]
    if rows:
        conn.execute(roadmap_due_dates.insert(), rows)


def _roadmap_item_updated(conn: sa.Connection, e: Any) -> None:
    """One deadline's mark, then the item's summary from all of them (as the aggregate does)."""
    item = (roadmap_items.c.roadmap_id == e.originator_id) & (roadmap_items.c.item_id == e.item_id)
    dated = ((roadmap_due_dates.c.roadmap_id == e.originator_id)
             & (roadmap_due_dates.c.item_id == e.item_id))
    marks = {r.due_date: Mark(r.status, r.evidence_document_id) for r in conn.execute(
        sa.select(roadmap_due_dates).where(dated))}
    if not marks:  # an item without due dates: its own row is its mark
        conn.execute(roadmap_items.update().where(item).values(
            status=e.status, evidence_document_id=e.evidence_document_id))
        return
    dates = sorted(marks)
    # Absent from events stored before version 2: they meant the earliest deadline not done.
    key = resolve_due_date(dates, marks, getattr(e, "due_date", None))
    marks[key] = Mark(e.status, e.evidence_document_id)
    conn.execute(roadmap_due_dates.update().where(dated, roadmap_due_dates.c.due_date == key)
                 .values(status=e.status, evidence_document_id=e.evidence_document_id))
    summary = item_summary(dates, marks)
    conn.execute(roadmap_items.update().where(item).values(
        status=summary.status, evidence_document_id=summary.evidence_document_id))


def _practice_submitted(conn: sa.Connection, e: Any) -> None:
    conn.execute(practices.insert().values(
        id=e.originator_id, path=path_text(e.meta["org"]), title=e.title,
        description=e.description, form=e.form, tags=list(e.tags), status="submitted"))


def _practice_published(conn: sa.Connection, e: Any) -> None:
    # ``status``, not the type: before PracticeRejected a rejection was stored as this event.
    conn.execute(practices.update().where(practices.c.id == e.originator_id)
                 .values(status=e.status, comment=e.comment))


def _practice_rejected(conn: sa.Connection, e: Any) -> None:
    conn.execute(practices.update().where(practices.c.id == e.originator_id)
                 .values(status="rejected", comment=e.comment))


def _nomination_submitted(conn: sa.Connection, e: Any) -> None:
    conn.execute(nominations.insert().values(
        id=e.originator_id, path=path_text(e.meta["org"]), mentor_id=e.mentor_id,
        school_year=e.school_year, justification=e.justification))


def _nomination_decided(conn: sa.Connection, e: Any) -> None:
    conn.execute(nominations.update().where(nominations.c.id == e.originator_id)
                 .values({e.stage: e.decision, "comment": e.comment or None}))


def _training_material(conn: sa.Connection, e: Any) -> None:
    conn.execute(training_materials.insert().values(
        id=e.originator_id, path=path_text(e.meta["org"]), form=e.form, title=e.title,
        description=e.description, link=e.link))


def _training_completed(conn: sa.Connection, e: Any) -> None:
    conn.execute(training_completions.insert().values(
        id=e.originator_id, path=path_text(e.meta["org"]), material_id=e.material_id,
        mentor_id=e.mentor_id, confirmed=False))


def _training_confirmed(conn: sa.Connection, e: Any) -> None:
    conn.execute(training_completions.update().where(training_completions.c.id == e.originator_id)
                 .values(confirmed=True))


def _report_drafted(conn: sa.Connection, e: Any) -> None:
    conn.execute(reports.insert().values(
        id=e.originator_id, report_id=e.report_id, path=e.path, level=e.level, period=e.period,
        deadline=e.deadline, status="draft"))


def _report_submitted(conn: sa.Connection, e: Any) -> None:
    conn.execute(reports.update().where(reports.c.id == e.originator_id)
                 .values(status="submitted", document_id=e.document_id))


HANDLERS = {
    "DocumentIssued": _document_issued,
    "RoadmapImported": _roadmap_imported,
    "PracticeSubmitted": _practice_submitted,
    "PracticePublished": _practice_published,
    "PracticeRejected": _practice_rejected,
    "NominationSubmitted": _nomination_submitted,
    "NominationDecided": _nomination_decided,
    "TrainingMaterialPublished": _training_material,
    "TrainingCompleted": _training_completed,
    "TrainingConfirmed": _training_confirmed,
    "ReportDrafted": _report_drafted,
    "ReportSubmitted": _report_submitted,
}
#: The due dates' projection; it also keeps each item's summary status in ``roadmap_items``, so
#: where it is built on an existing store it rewrites those by the deadline-by-deadline rule.
DUE_DATE_HANDLERS = {
    "RoadmapImported": _due_dates_imported,
    "RoadmapItemUpdated": _roadmap_item_updated,
}


# --- rows as the API answers them ----------------------------------------------------------------

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


def nomination_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "path": row.path, "mentor_id": str(row.mentor_id),
            "school_year": row.school_year, "justification": row.justification,
            "decisions": {"municipality": row.municipality, "region": row.region},
            "status": nomination_status(row), "comment": row.comment}


def nomination_status(row: sa.Row[Any]) -> str:
    """One word for where it stands: ``nominated``, ``shortlisted``, ``municipal_winner``,
    ``region_shortlisted``, ``winner`` (of the region) or ``declined`` (at either stage)."""
    if row.region is not None:
        return {"shortlisted": "region_shortlisted"}.get(row.region, row.region)
    return {None: "nominated", "winner": "municipal_winner"}.get(row.municipality, row.municipality)


def material_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "path": row.path, "form": row.form, "title": row.title,
            "description": row.description, "link": row.link}


def completion_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "path": row.path, "material_id": str(row.material_id),
            "mentor_id": str(row.mentor_id), "confirmed": row.confirmed}


def report_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "report_id": row.report_id, "path": row.path, "level": row.level,
            "period": row.period, "deadline": row.deadline, "status": row.status,
            "document_id": str(row.document_id) if row.document_id else None}


# --- queries the service layer answers with, once it has checked the rights -----------------------

def find(engine: sa.Engine, table: sa.Table, key: UUID) -> sa.Row[Any] | None:
    """The row of ``table`` whose ``id`` is ``key``."""
    with engine.connect() as conn:
        return conn.execute(sa.select(table).where(table.c.id == key)).first()


def in_scope(engine: sa.Engine, query: sa.Select[Any], scope: OrgPath) -> list[sa.Row[Any]]:
    """The rows of ``query`` (each with a ``path``) that lie inside ``scope``."""
    with engine.connect() as conn:
        return [r for r in conn.execute(query) if scope.contains(OrgPath.parse(r.path))]


def due_dates(conn: sa.Connection, roadmap_ids: Sequence[UUID]
              ) -> dict[tuple[UUID, str], list[sa.Row[Any]]]:
    """Each item's deadlines with their marks, earliest first."""
    table = roadmap_due_dates
    found: dict[tuple[UUID, str], list[sa.Row[Any]]] = {}
    for row in conn.execute(sa.select(table).where(table.c.roadmap_id.in_(list(roadmap_ids)))
                            .order_by(table.c.due_date)):
        found.setdefault((row.roadmap_id, row.item_id), []).append(row)
    return found


def roadmap_with_items(engine: sa.Engine, row: sa.Row[Any]) -> dict[str, Any]:
    with engine.connect() as conn:
        items = conn.execute(sa.select(roadmap_items).where(roadmap_items.c.roadmap_id == row.id)
                             .order_by(roadmap_items.c.position)).all()
        dates = due_dates(conn, [row.id])
    return {**roadmap_json(row),
            "items": [item_json(i, dates.get((row.id, i.item_id), [])) for i in items]}


def overdue_items(engine: sa.Engine, scope: OrgPath) -> list[dict[str, Any]]:
    """Overdue items of every roadmap inside ``scope``. An item is overdue when its earliest
    deadline not done is (its summary status)."""
    query = (sa.select(roadmap_items, roadmaps.c.title)
             .join(roadmaps, roadmaps.c.id == roadmap_items.c.roadmap_id)
             .where(roadmap_items.c.status == "overdue")
             .order_by(roadmap_items.c.path, roadmap_items.c.position))
    with engine.connect() as conn:
        rows = [r for r in conn.execute(query) if scope.contains(OrgPath.parse(r.path))]
        dates = due_dates(conn, list({r.roadmap_id for r in rows}))
    return [{**item_json(r, dates.get((r.roadmap_id, r.item_id), [])),
             "roadmap_id": str(r.roadmap_id), "roadmap_title": r.title, "path": r.path}
            for r in rows]


def open_roadmaps(engine: sa.Engine) -> list[tuple[UUID, OrgPath]]:
    """Roadmaps with an item not done: the only ones a sweep can change."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(roadmaps.c.id, roadmaps.c.path).where(
            roadmaps.c.id.in_(sa.select(roadmap_items.c.roadmap_id).where(
                roadmap_items.c.status != "done")))).all()
    return [(roadmap_id, OrgPath.parse(path)) for roadmap_id, path in rows]
