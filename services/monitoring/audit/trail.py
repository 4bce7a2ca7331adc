"""One record's whole trail: every logged event about it or naming it, in log order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from shared.auth import OrgPath
from shared.contracts import Envelope

from .chain import canonical_time
from .store import AuditStore


def trail_of(store: AuditStore, conn: sa.Connection, record_id: UUID,
             visible: Callable[[OrgPath], bool] = lambda _: True) -> list[dict[str, Any]]:
    """Events of the record's own aggregate, and events of others that name it (a pair names
    its mentor and mentees, a document the people it concerns)."""
    t = store.entries
    needle = str(record_id).encode()
    if conn.dialect.name == "sqlite":
        mentions = sa.func.instr(t.c.data, sa.literal(needle, sa.LargeBinary)) > 0
    else:
        mentions = sa.text("position(:needle in data) > 0").bindparams(
            sa.bindparam("needle", needle, type_=sa.LargeBinary))
    rows = conn.execute(
        sa.select(t.c.position, t.c.data)
        .where(sa.or_(t.c.aggregate_id == str(record_id), mentions))
        .order_by(t.c.position)
    ).all()
    envelopes = ((int(position), Envelope.from_bytes(data)) for position, data in rows)
    return [trail_item(position, envelope, record_id) for position, envelope in envelopes
            if visible(envelope.org)]


def trail_item(position: int, envelope: Envelope, record_id: UUID) -> dict[str, Any]:
    return {
        "position": position,
        "occurred_at": canonical_time(envelope.occurred_at),
        "type": envelope.type,
        "source": envelope.source,
        "source_position": envelope.source_position,
        "relation": "subject" if envelope.aggregate_id == record_id else "mentioned",
        "aggregate_id": str(envelope.aggregate_id),
        "aggregate_version": envelope.aggregate_version,
        "event_id": str(envelope.event_id),
        "org": str(envelope.org),
        "actor": {"user": envelope.actor.user, "role": envelope.actor.role.value,
                  "scope": str(envelope.actor.scope)},
        "correlation_id": str(envelope.correlation_id),
        "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
        "payload": envelope.payload,
    }
