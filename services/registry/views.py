"""The registry's own read model, caught up from its event store after every command.

Position and rows change in one transaction, so a crash between storing events and updating
the view only delays the view; the next catch-up finishes the job, nothing twice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.domain import CanMutateAggregate

from services.registry.vault import person_claims, person_keys
from shared.auth import path_text
from shared.consumer import consumer_positions, read_position, write_position
from shared.consumer import metadata as positions_metadata
from shared.databases import create_tables as create_shared_tables
from shared.store import dispatch

metadata = sa.MetaData()
VIEW_NAME = "registry-view"
LOCAL_STREAM = "local:registry"

organisations = sa.Table(
    "registry_organisations", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("parent_id", sa.Uuid, nullable=True),
    sa.Column("path", sa.String(200), nullable=False, unique=True),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("municipality", sa.String(64), nullable=True),
    sa.Column("organisation", sa.String(64), nullable=True),
)
contingents = sa.Table(
    "registry_contingents", metadata,
    sa.Column("organisation_id", sa.Uuid, primary_key=True),
    sa.Column("school_year", sa.String(9), primary_key=True),
    sa.Column("figures", sa.JSON, nullable=False),
)
people = sa.Table(
    "registry_people", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("role", sa.String(8), nullable=False),
    sa.Column("organisation_id", sa.Uuid, nullable=False, index=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("grade", sa.Integer, nullable=True),
    sa.Column("birth_year", sa.Integer, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("consent", sa.String(16), nullable=True),
    sa.Column("withdrawn", sa.Boolean, nullable=False, default=False),
    sa.Column("sealed", sa.Text, nullable=True),
)
programmes = sa.Table(
    "registry_programmes", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("organisation_id", sa.Uuid, nullable=False, index=True),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("school_year", sa.String(9), nullable=False),
    sa.Column("curator", sa.String(200), nullable=False),
)


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    create_shared_tables(positions_metadata, engine)


def current_position(conn: sa.Connection) -> int:
    return read_position(conn, VIEW_NAME, LOCAL_STREAM)


class Batch:
    """Buffers inserts so a thousand registrations cost one statement, not a thousand.

    Any other statement flushes the buffer first, so rows change in the events' order.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pending: dict[sa.Table, list[dict[str, Any]]] = {}

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        self.pending.setdefault(table, []).append(row)

    def execute(self, statement: sa.Executable) -> None:
        self.flush()
        self.conn.execute(statement)

    def flush(self) -> None:
        for table, rows in self.pending.items():
            self.conn.execute(table.insert(), rows)
        self.pending.clear()


def apply_events(conn: sa.Connection, events: list[tuple[int, CanMutateAggregate[UUID]]]) -> None:
    """Apply (position, domain event) pairs and record the last position, in the caller's txn."""
    batch = Batch(conn)
    dispatch(HANDLERS, batch, events)
    batch.flush()
    write_position(conn, VIEW_NAME, LOCAL_STREAM, events[-1][0])


def _org_path_columns(path: dict[str, Any]) -> dict[str, Any]:
    return {"path": path_text(path), "region": path["region"], "municipality": path.get("municipality"),
            "organisation": path.get("organisation")}


def _organisation_registered(batch: Batch, e: Any) -> None:
    batch.insert(organisations, {"id": e.originator_id, "code": e.code, "name": e.name, "kind": e.kind,
                                 "parent_id": e.parent_id, **_org_path_columns(e.path)})


def _contingent_declared(batch: Batch, e: Any) -> None:
    figures = {k: getattr(e, k) for k in ("students_total", "students_10_19", "students_15_19",
                                          "teachers_total", "young_teachers", "enterprises")}
    batch.execute(contingents.delete().where(
        contingents.c.organisation_id == e.originator_id,
        contingents.c.school_year == e.school_year))
    batch.insert(contingents, {"organisation_id": e.originator_id, "school_year": e.school_year,
                               "figures": figures})


def _person_registered(batch: Batch, e: Any) -> None:
    attributes = ({"competencies": e.competencies, "capacity": e.capacity}
                  if e.role == "mentor" else {"requests": e.requests, "minor": e.minor})
    batch.insert(people, {
        "id": e.originator_id, "role": e.role, "organisation_id": e.organisation_id,
        "path": path_text(e.meta["org"]), "category": e.category, "grade": getattr(e, "grade", None),
        "birth_year": e.birth_year, "attributes": attributes, "consent": None, "withdrawn": False,
        "sealed": e.sealed})


def _consent_recorded(batch: Batch, e: Any) -> None:
    pending = batch.pending.get(people)
    if pending and pending[-1]["id"] == e.originator_id:
        pending[-1]["consent"] = e.given_by  # registered and consented in one go: one row
        return
    batch.execute(people.update().where(people.c.id == e.originator_id).values(consent=e.given_by))


def _consent_withdrawn(batch: Batch, e: Any) -> None:
    batch.execute(people.update().where(people.c.id == e.originator_id)
                  .values(consent=None, withdrawn=True, sealed=None))
    # The command destroys the key right after storing the event; applying the event destroys
    # it again (a no-op then), so a crash between the two still ends with the key gone.
    batch.execute(person_keys.delete().where(person_keys.c.person_id == e.originator_id))
    batch.execute(person_claims.delete().where(person_claims.c.person_id == e.originator_id))


def _programme_launched(batch: Batch, e: Any) -> None:
    batch.insert(programmes, {"id": e.originator_id, "organisation_id": e.organisation_id,
                              "path": path_text(e.meta["org"]), "form": e.form,
                              "school_year": e.school_year, "curator": e.curator})


HANDLERS = {
    "OrganisationRegistered": _organisation_registered,
    "ContingentDeclared": _contingent_declared,
    "MentorRegistered": _person_registered,
    "MenteeRegistered": _person_registered,
    "ConsentRecorded": _consent_recorded,
    "ConsentWithdrawn": _consent_withdrawn,
    "ProgrammeLaunched": _programme_launched,
}

__all__ = ["consumer_positions", "contingents", "organisations", "people", "programmes"]
