"""Where notifications live: the bell's items per audience, who read which, the mail outbox and
the deliveries made, and the little the sweep must know of each pair (ids and dates only).

``NotificationInbox`` is a ``shared.consumer`` projection: the notifications an event gives are
written in the transaction that records the consumer's position, so a redelivered or replayed
event adds nothing (the ids are derived from the event). With mail configured, each new
notification also gets an outbox row in that transaction; ``mailer.Mailer`` empties the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from services.monitoring.dashboards.projector import organisations_in
from services.monitoring.notifications import rules
from shared.contracts import Envelope

metadata = sa.MetaData()

notifications = sa.Table(
    "monitoring_notifications", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("audience", sa.String(250), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("meeting", sa.JSON, nullable=True),
    sa.Column("link", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
reads = sa.Table(
    "monitoring_notification_reads", metadata,
    sa.Column("notification_id", sa.Uuid, primary_key=True),
    sa.Column("user", sa.String(200), primary_key=True),
)
#: The mail outbox: a row per notification still to be mailed.
outbox = sa.Table(
    "monitoring_notification_outbox", metadata,
    sa.Column("notification_id", sa.Uuid, primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
)
#: One row per message handed to the SMTP server: what makes a restart skip it.
deliveries = sa.Table(
    "monitoring_notification_deliveries", metadata,
    sa.Column("notification_id", sa.Uuid, primary_key=True),
    sa.Column("login", sa.String(200), primary_key=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
)
pairs = sa.Table(
    "monitoring_notification_pairs", metadata,
    sa.Column("pair_id", sa.Uuid, primary_key=True),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("members", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("since", sa.String(10), nullable=False),
    sa.Column("last_meeting", sa.String(10), nullable=True),
    #: The last meeting's number and the sides that answered about it.
    sa.Column("meeting_number", sa.Integer, nullable=True),
    sa.Column("answered", sa.JSON, nullable=False, default=list),
)
ENDED = ("PairCompleted", "PairDissolved")


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def insert_new(conn: sa.Connection, found: Sequence[rules.Notification], mail: bool,
               now: datetime) -> int:
    """Keep the notifications not kept yet (and queue them for mail); returns how many."""
    if not found:
        return 0
    known = set(conn.execute(sa.select(notifications.c.id).where(
        notifications.c.id.in_([n.id for n in found]))).scalars())
    fresh = [n for n in found if n.id not in known]
    for n in fresh:
        conn.execute(notifications.insert().values(
            id=n.id, audience=n.audience, kind=n.kind, title=n.title, body=n.body, path=n.path,
            event_id=n.event_id, meeting=n.meeting, link=n.link, created_at=now))
        if mail:
            conn.execute(outbox.insert().values(notification_id=n.id, attempts=0))
    return len(fresh)


class NotificationInbox:
    """Projection of the monitoring and pairing streams into notifications."""

    name = "monitoring-notifications"
    sources = ("monitoring", "pairing")

    def __init__(self, mail: bool) -> None:
        self.mail = mail

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        # Nothing is woken from here: the caller's transaction has not committed yet, and a
        # mailer woken now could find no row. The runner's ``on_commit`` wakes it.
        known: Mapping[str, Mapping[str, Any]] | None = None

        def name_of(path: str) -> str | None:
            nonlocal known
            # What the dashboards know of organisations (their names), read once per batch.
            known = organisations_in(conn) if known is None else known
            name = (known.get(path) or {}).get("name")
            return str(name) if name else None

        for envelope in envelopes:
            members = self._track(conn, envelope)
            insert_new(conn, rules.from_event(envelope, members, name_of), self.mail,
                       envelope.occurred_at)

    @staticmethod
    def _track(conn: sa.Connection, envelope: Envelope) -> list[str]:
        """Keep the pair's members and its last meeting; the members of its pair."""
        pair_id = envelope.aggregate_id
        if envelope.type in rules.PAIR_FORMED:
            members = rules.members_of(envelope)
            conn.execute(pairs.delete().where(pairs.c.pair_id == pair_id))
            conn.execute(pairs.insert().values(
                pair_id=pair_id, path=str(envelope.org), members=members, active=True,
                since=envelope.occurred_at.date().isoformat(), answered=[]))
            return members
        row = conn.execute(sa.select(pairs).where(pairs.c.pair_id == pair_id)).first()
        if row is None:
            return []
        if envelope.type == "MeetingHeld":
            held = envelope.payload
            conn.execute(pairs.update().where(pairs.c.pair_id == pair_id).values(
                last_meeting=str(held["date"]), meeting_number=int(held["number"]), answered=[]))
        elif (answer := rules.feedback_side(envelope)) is not None:
            number, side = answer
            if number == row.meeting_number and side not in row.answered:
                conn.execute(pairs.update().where(pairs.c.pair_id == pair_id).values(
                    answered=[*row.answered, side]))
        elif envelope.type in ENDED:
            conn.execute(pairs.update().where(pairs.c.pair_id == pair_id).values(active=False))
        return list(row.members)


def sweep(engine: sa.Engine, today: date, inactive_days: int, feedback_days: int,
          mail: bool) -> int:
    """Curators hear of their active pairs without meetings for ``inactive_days`` and of last
    meetings left without a side's feedback for ``feedback_days``: once per quiet spell and
    per meeting (the ids are derived from them)."""
    found: list[rules.Notification] = []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(pairs).where(pairs.c.active.is_(True))).all()
    for row in rows:
        last = date.fromisoformat(row.last_meeting) if row.last_meeting else None
        quiet_since = last or date.fromisoformat(row.since)
        if (today - quiet_since).days > inactive_days:
            found += rules.pair_inactive(row.pair_id, row.path, last, inactive_days)
        if last and row.meeting_number and (today - last).days >= feedback_days:
            missing = [s for s in ("mentor", "mentee") if s not in row.answered]
            if missing:
                found += rules.feedback_missing(row.pair_id, row.path, row.meeting_number,
                                                row.last_meeting, missing)
    if not found:
        return 0
    with engine.begin() as conn:
        return insert_new(conn, found, mail, datetime.now(UTC))


def for_reader(engine: sa.Engine, audiences: list[str], user: str,
               limit: int = 100) -> list[dict[str, Any]]:
    read = sa.select(reads.c.notification_id).where(reads.c.user == user)
    query = (sa.select(notifications, notifications.c.id.in_(read).label("read"))
             .where(notifications.c.audience.in_(audiences))
             .order_by(notifications.c.created_at.desc()).limit(limit))
    with engine.connect() as conn:
        return [{"id": str(r.id), "kind": r.kind, "title": r.title, "body": r.body,
                 "path": r.path, "link": r.link, "created_at": r.created_at.isoformat(), "read": bool(r.read)}
                for r in conn.execute(query)]


def unread_count(engine: sa.Engine, audiences: list[str], user: str) -> int:
    read = sa.select(reads.c.notification_id).where(reads.c.user == user)
    query = sa.select(sa.func.count()).where(notifications.c.audience.in_(audiences),
                                             notifications.c.id.not_in(read))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def mark_read(engine: sa.Engine, audiences: list[str], user: str,
              ids: list[UUID] | None) -> int:
    """Mark the reader's notifications read (``ids`` None: all of them); others' are untouched."""
    query = sa.select(notifications.c.id).where(notifications.c.audience.in_(audiences))
    if ids is not None:
        query = query.where(notifications.c.id.in_(ids))
    with engine.begin() as conn:
        mine = set(conn.execute(query).scalars())
        done = set(conn.execute(sa.select(reads.c.notification_id).where(
            reads.c.user == user, reads.c.notification_id.in_(mine))).scalars())
        fresh = mine - done
        if fresh:
            conn.execute(reads.insert(), [{"notification_id": i, "user": user} for i in fresh])
        return len(fresh)
