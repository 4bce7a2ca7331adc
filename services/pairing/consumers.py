"""What the pairing takes from other services' events: the candidate pools, fed from the registry
stream, and the inbox of consent withdrawals, worked off by the service (``application.py``)
which dissolves the pairs of anyone who withdrew consent.

Both are projections run by ``shared.consumer.ConsumerRunner``: rows and position change in the
consumer's transaction, so a redelivered or replayed event changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from services.pairing import views
from services.pairing.pools import mentees, mentors, organisations, profiles, programmes
from shared.contracts import SUBJECT_ROOT, Envelope
from shared.events import read_payload

#: The consent watcher reads only withdrawals of the registry stream.
CONSENT_WITHDRAWN_FILTER = f"{SUBJECT_ROOT}.registry.*.*.ConsentWithdrawn"


def _path_columns(envelope: Envelope) -> dict[str, Any]:
    return {"path": str(envelope.org), "region": envelope.org.region,
            "municipality": envelope.org.municipality}


def _upsert(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> None:
    """A row keyed by the aggregate id; written again as a whole if it is already there."""
    conn.execute(table.delete().where(table.c.id == row["id"]))
    conn.execute(table.insert().values(**row))


def _organisation(conn: sa.Connection, e: Envelope) -> None:
    p: Any = read_payload(e)
    _upsert(conn, organisations, {"id": e.aggregate_id, "kind": p.kind, "parent_id": p.parent_id,
                                  "name": p.name, **_path_columns(e)})


def _programme(conn: sa.Connection, e: Envelope) -> None:
    p: Any = read_payload(e)
    _upsert(conn, programmes, {"id": e.aggregate_id, "organisation_id": p.organisation_id,
                               "path": str(e.org), "form": p.form, "school_year": p.school_year})


def _mentor(conn: sa.Connection, e: Envelope) -> None:
    p: Any = read_payload(e)
    _upsert(conn, mentors, {"id": e.aggregate_id, "organisation_id": p.organisation_id,
                            **_path_columns(e), "category": p.category,
                            "birth_year": p.birth_year, "consent": False, "withdrawn": False,
                            "competencies": list(p.competencies), "capacity": p.capacity,
                            "grade": p.grade})


def _mentee(conn: sa.Connection, e: Envelope) -> None:
    p: Any = read_payload(e)
    _upsert(conn, mentees, {"id": e.aggregate_id, "organisation_id": p.organisation_id,
                            **_path_columns(e), "category": p.category,
                            "birth_year": p.birth_year, "consent": False, "withdrawn": False,
                            "grade": p.grade, "requests": list(p.requests), "minor": p.minor})


def _consent_recorded(conn: sa.Connection, e: Envelope) -> None:
    for table in (mentors, mentees):
        conn.execute(table.update().where(table.c.id == e.aggregate_id,
                                          table.c.withdrawn.is_(False)).values(consent=True))


def _consent_withdrawn(conn: sa.Connection, e: Envelope) -> None:
    for table in (mentors, mentees):
        conn.execute(table.update().where(table.c.id == e.aggregate_id)
                     .values(consent=False, withdrawn=True))
    # What the curator noted about this person goes with their consent.
    conn.execute(profiles.delete().where(profiles.c.person_id == e.aggregate_id))


HANDLERS: dict[str, Callable[[sa.Connection, Envelope], None]] = {
    "OrganisationRegistered": _organisation,
    "ProgrammeLaunched": _programme,
    "MentorRegistered": _mentor,
    "MenteeRegistered": _mentee,
    "ConsentRecorded": _consent_recorded,
    "ConsentWithdrawn": _consent_withdrawn,
}


class PoolsProjection:
    """The registry stream into the candidate pools, in the consumer's transaction."""

    name = "pairing-pools"
    sources = ("registry",)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            handler = HANDLERS.get(envelope.type)
            if handler is not None:
                handler(conn, envelope)


class ConsentWatch:
    """Projection of the registry's ``ConsentWithdrawn`` events into the pairing's inbox."""

    name = "pairing-consent-watch"
    sources = ("registry",)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        rows = [{"event_id": e.event_id, "person_id": e.aggregate_id, "region": e.org.region,
                 "correlation_id": e.correlation_id}
                for e in envelopes if e.type == "ConsentWithdrawn"]
        if rows:
            record_consent_withdrawals(conn, rows)


def record_consent_withdrawals(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """In the consumer's transaction: remember each withdrawal once (redeliveries aside)."""
    for row in rows:
        seen = conn.execute(sa.select(views.consent_inbox.c.event_id).where(
            views.consent_inbox.c.event_id == row["event_id"])).first()
        if seen is None:
            conn.execute(views.consent_inbox.insert().values(**row, done=False))
