"""Withdrawn consent destroys every kept form of a document naming the person.

A document naming registry persons keeps its recipe (ids and the issuer's free text, such as a
thanks letter's wording, or the goals of a development plan as pairing had them — all of which
may name the person too); one stored before recipes existed keeps its file. A development plan
names every member of its pair (``plans.plan_people``), so any member's withdrawal erases it.
When the registry's ``ConsentWithdrawn`` arrives, a consumer notes it in an inbox (in its
transaction, with its position) and ``Erasure.process`` deletes every recipe and file naming
that person, then pushes the deleted pages out of the SQLite write-ahead log. What remains is the
registration (number, date, SHA-256, the subjects' ids): a download answers 410
``PERSONAL_DATA_ERASED``. Generated PDFs are never cached for such documents (``register``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from services.documents import recipes, views
from shared import sealing
from shared.contracts import SUBJECT_ROOT, Envelope
from shared.logging import get_logger

log = get_logger(__name__)

#: The erasure watcher reads only withdrawals of the registry stream.
CONSENT_WITHDRAWN_FILTER = f"{SUBJECT_ROOT}.registry.*.*.ConsentWithdrawn"

erasure_inbox = views.erasure_inbox


class ConsentWithdrawnInbox:
    """Projection of the registry's ``ConsentWithdrawn`` events into the erasure inbox."""

    name = "documents-consent-erasure"
    sources = ("registry",)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        rows = [{"event_id": e.event_id, "person_id": e.aggregate_id}
                for e in envelopes if e.type == "ConsentWithdrawn"]
        for row in rows:
            seen = conn.execute(sa.select(erasure_inbox.c.event_id).where(
                erasure_inbox.c.event_id == row["event_id"])).first()
            if seen is None:
                conn.execute(erasure_inbox.insert().values(**row, done=False))


class Erasure:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        #: Deleted pages may still sit in the write-ahead log: purge again until it works.
        self.purge_pending = True
        views.create_tables(engine)

    def settled(self) -> bool:
        """Every notice worked off and the deleted pages purged from the write-ahead log."""
        with self.engine.connect() as conn:
            waiting = conn.execute(sa.select(erasure_inbox.c.event_id)
                                   .where(erasure_inbox.c.done.is_(False))).first()
        return waiting is None and not self.purge_pending

    def process(self) -> int:
        """Erase what names each person in the inbox; returns the documents erased.
        Idempotent: a notice worked off twice finds nothing left to delete."""
        with self.engine.connect() as conn:
            notices = conn.execute(sa.select(erasure_inbox)
                                   .where(erasure_inbox.c.done.is_(False))).all()
        erased = 0
        if notices:
            self.purge_pending = True
        for notice in notices:
            with self.engine.begin() as conn:
                documents = naming(conn, notice.person_id)
                for table in (views.recipes, views.files):
                    conn.execute(table.delete().where(table.c.document_id.in_(documents)))
                conn.execute(erasure_inbox.update()
                             .where(erasure_inbox.c.event_id == notice.event_id).values(done=True))
            erased += len(documents)
            log.info("documents.consent_erased", person_id=str(notice.person_id),
                     documents=len(documents), causation_id=str(notice.event_id))
        if self.purge_pending:
            self.purge_pending = not sealing.purge_deleted(self.engine)
            if self.purge_pending:
                log.warning("documents.erasure_purge_deferred", people=len(notices))
        return erased


def naming(conn: sa.Connection, person_id: UUID) -> list[UUID]:
    """Every document whose recipe names the person, or that was registered with them among its
    subjects (the documents kept as files before recipes existed)."""
    text = f"%{person_id}%"
    found: list[UUID] = []
    for row in conn.execute(sa.select(views.recipes)
                            .where(sa.cast(views.recipes.c.body, sa.Text).like(text))):
        if person_id in recipes.people(row.kind, recipes.load(row.kind, row.body)):
            found.append(row.document_id)
    subjects = conn.execute(sa.select(views.documents.c.id, views.documents.c.subject_ids)
                            .where(sa.cast(views.documents.c.subject_ids, sa.Text).like(text)))
    found += [row.id for row in subjects if str(person_id) in _ids(row.subject_ids)]
    return list(dict.fromkeys(found))


def _ids(values: Any) -> list[str]:
    return [str(v) for v in values or []]
