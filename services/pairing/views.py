"""The pairing's own read model, caught up from its event store after every command, and the
inbox of consent withdrawals taken from the registry stream.

Position and rows change in one transaction, so a crash between storing events and updating the
view only delays the view; the next catch-up finishes the job, nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.domain import CanMutateAggregate

from services.pairing import pools
from shared.auth import path_text
from shared.consumer import metadata as positions_metadata
from shared.consumer import read_position, write_position
from shared.databases import create_tables as create_shared_tables
from shared.store import dispatch

metadata = sa.MetaData()
VIEW_NAME = "pairing-view"
LOCAL_STREAM = "local:pairing"

pairs = sa.Table(
    "pairing_pairs", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("programme_id", sa.Uuid, nullable=True, index=True),
    sa.Column("organisation_id", sa.Uuid, nullable=False, index=True),
    sa.Column("path", sa.String(200), nullable=False, index=True),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("mentor_id", sa.Uuid, nullable=False, index=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("order_ref", sa.String(100), nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("formed_on", sa.String(10), nullable=False),
    sa.Column("last_meeting_on", sa.String(10), nullable=True),
    sa.Column("meetings", sa.Integer, nullable=False),
    sa.Column("last_kind", sa.String(16), nullable=True),
    # The mentor's organisation, so its curator sees (and may end) a pair with their mentor
    # filed at another organisation, and answers a proposal.
    sa.Column("mentor_organisation_id", sa.Uuid, nullable=True, index=True),
    sa.Column("mentor_path", sa.String(200), nullable=True),
)
pair_mentees = sa.Table(
    "pairing_pair_mentees", metadata,
    sa.Column("pair_id", sa.Uuid, primary_key=True),
    sa.Column("mentee_id", sa.Uuid, primary_key=True, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
)
#: ConsentWithdrawn notices from the registry, written in the consumer's transaction and
#: worked off by a loop that dissolves the person's pairs.
consent_inbox = sa.Table(
    "pairing_consent_inbox", metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("correlation_id", sa.Uuid, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False, default=False, index=True),
)


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    create_shared_tables(positions_metadata, engine)
    # Views made before pairs knew their mentor's organisation: the columns are added and
    # filled from the pools (``fill_mentor_organisations``).
    present = {c["name"] for c in sa.inspect(engine).get_columns(pairs.name)}
    with engine.begin() as conn:
        for column in ("mentor_organisation_id", "mentor_path"):
            if column not in present:
                kind = "CHAR(32)" if column == "mentor_organisation_id" else "VARCHAR(200)"
                conn.execute(sa.text(f"ALTER TABLE {pairs.name} ADD COLUMN {column} {kind}"))


def fill_mentor_organisations(conn: sa.Connection) -> None:
    """Pairs whose mentor's organisation is not known yet take it from the pools."""
    mentor = pools.mentors
    conn.execute(pairs.update().where(pairs.c.mentor_path.is_(None)).values(
        mentor_organisation_id=sa.select(mentor.c.organisation_id)
        .where(mentor.c.id == pairs.c.mentor_id).scalar_subquery(),
        mentor_path=sa.select(mentor.c.path).where(mentor.c.id == pairs.c.mentor_id)
        .scalar_subquery()))


def current_position(conn: sa.Connection) -> int:
    return read_position(conn, VIEW_NAME, LOCAL_STREAM)


def apply_events(conn: sa.Connection, events: list[tuple[int, CanMutateAggregate[UUID]]]) -> None:
    dispatch(HANDLERS, conn, events)
    write_position(conn, VIEW_NAME, LOCAL_STREAM, events[-1][0])


def _formed(conn: sa.Connection, e: Any, status: str = "active") -> None:
    mentor = conn.execute(sa.select(pools.mentors.c.organisation_id, pools.mentors.c.path)
                          .where(pools.mentors.c.id == e.mentor_id)).first()
    conn.execute(pairs.insert().values(
        id=e.originator_id, programme_id=e.programme_id, organisation_id=e.organisation_id,
        path=path_text(e.meta["org"]), form=e.form, mentor_id=e.mentor_id,
        size=len(e.mentee_ids), status=status, order_ref=e.order_ref, score=e.score,
        formed_on=e.formed_on, last_meeting_on=None, meetings=0, last_kind=None,
        mentor_organisation_id=getattr(e, "mentor_organisation_id", None)
        or (mentor.organisation_id if mentor else None),
        mentor_path=mentor.path if mentor else None))
    # A proposal holds its mentees too: nobody pairs them elsewhere while the answer is awaited.
    conn.execute(pair_mentees.insert(), [{"pair_id": e.originator_id, "mentee_id": m,
                                          "active": True} for m in e.mentee_ids])


def _proposed(conn: sa.Connection, e: Any) -> None:
    _formed(conn, e, status="proposed")


def _confirmed(conn: sa.Connection, e: Any) -> None:
    conn.execute(pairs.update().where(pairs.c.id == e.originator_id).values(
        status="active", formed_on=e.formed_on))


def _meeting(conn: sa.Connection, e: Any) -> None:
    conn.execute(pairs.update().where(pairs.c.id == e.originator_id).values(
        last_meeting_on=e.date, meetings=e.number, last_kind=e.kind))


def _closed(status: str) -> Callable[[sa.Connection, Any], None]:
    def handle(conn: sa.Connection, e: Any) -> None:
        conn.execute(pairs.update().where(pairs.c.id == e.originator_id).values(status=status))
        conn.execute(pair_mentees.update().where(pair_mentees.c.pair_id == e.originator_id)
                     .values(active=False))
    return handle


HANDLERS: dict[str, Callable[[sa.Connection, Any], None]] = {
    "PairFormed": _formed,
    "MeetingHeld": _meeting,
    "PairCompleted": _closed("completed"),
    "PairDissolved": _closed("dissolved"),
    "PairProposed": _proposed,
    "PairProposalConfirmed": _confirmed,
    "PairProposalDeclined": _closed("declined"),
}
