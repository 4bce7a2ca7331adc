"""Events the documents service takes from other services: ``ReportDue`` from monitoring.

The notices are only kept here, in the consumer's transaction with its position (so a
redelivered notice is kept once); ``DocumentsService.prepare_drafts`` turns them into drafts.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from services.documents import views
from shared.contracts import Envelope


class ReportDueInbox:
    """Projection of the monitoring stream: keeps ``ReportDue`` notices, in the position's txn."""

    name = "documents-report-due"
    sources = ("monitoring",)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        rows = [{"event_id": e.event_id, "envelope": e.model_dump(mode="json")}
                for e in envelopes if e.type == "ReportDue"]
        for row in rows:
            exists = conn.execute(sa.select(views.report_inbox.c.event_id).where(
                views.report_inbox.c.event_id == row["event_id"])).first()
            if not exists:
                conn.execute(views.report_inbox.insert().values(**row))
