"""The dashboard tables: counts per scope (rolled up to municipality and region), the fold's
state and the projector's position, with their reads and bulk writes."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

import orjson
import sqlalchemy as sa

from shared.auth import OrgPath, org_key_text
from shared.logging import get_logger

log = get_logger(__name__)


PROJECTOR = "dashboards"
#: Growth is a difference of means over up to 10 questions; ×2520 (lcm of 1..10) keeps it exact.
GROWTH_SCALE = 2520
DEMO_LOADER = "demo-loader"
#: Kinds of organisation that report to their municipality on the calendar.
REPORTING_KINDS = frozenset({"school", "college", "additional"})
#: What the table of units under a dashboard shows for each of them.
#: The figures of each unit listed under a dashboard; "organisations" lists every unit, even
#: one with nobody in its bases yet.
HEADLINE = ("organisations", "mentors", "mentees", "pairs.formed", "pairs.active", "pairs.completed",
            "meetings.held", "feedback.submitted", "feedback.expected")

metadata = sa.MetaData()
counts_table = sa.Table(
    "monitoring_dashboard", metadata,
    sa.Column("scope", sa.String(400), primary_key=True),
    sa.Column("metric", sa.String(200), primary_key=True),
    sa.Column("level", sa.String(20), nullable=False),
    sa.Column("parent", sa.String(400), nullable=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Index("ix_monitoring_dashboard_parent", "parent", "metric"),
    # Rows live in their primary key's B-tree: half the work per upsert.
    sqlite_with_rowid=False,
)
state_table = sa.Table(
    "monitoring_dashboard_state", metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
progress_table = sa.Table(
    "monitoring_dashboard_progress", metadata,
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("rebuilding", sa.Boolean, nullable=False, default=False),
)

T = TypeVar("T")
OrgKey = tuple[str, str | None, str | None]
Counts = dict[str, dict[str, float]]
#: organisation key → metric → change: one dict per organisation, so each event adds to plain
#: string keys instead of building and hashing an (organisation, metric) tuple per count.
Deltas = defaultdict[OrgKey, defaultdict[str, float]]


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    # The progress row exists before the first fold commits: replicas take turns by locking it
    # (SELECT ... FOR UPDATE), and a row not there yet locks nothing, so two replicas' first
    # commits on PostgreSQL both added their counts (an event counted twice).
    with contextlib.suppress(sa.exc.IntegrityError), engine.begin() as conn:
        if conn.execute(sa.select(progress_table.c.name)
                        .where(progress_table.c.name == PROJECTOR)).first() is None:
            conn.execute(progress_table.insert().values(name=PROJECTOR, position=0, rebuilding=False))


# --- scopes ---------------------------------------------------------------------------------

def scope_key(org: OrgPath) -> str:
    return str(org)


def key_scopes(key: OrgKey) -> list[tuple[str, str, str | None]]:
    """(level, scope, parent) of every scope an organisation key counts in."""
    region, municipality, organisation = key
    scopes: list[tuple[str, str, str | None]] = [("region", region, None)]
    if municipality is not None:
        scopes.append(("municipality", f"{region}/{municipality}", region))
    if organisation is not None:
        parent = f"{region}/{municipality}" if municipality is not None else region
        scopes.append(("organisation", org_key_text(region, municipality, organisation), parent))
    return scopes


def level_of(org: OrgPath) -> str:
    if org.organisation is not None:
        return "organisation"
    return "municipality" if org.municipality is not None else "region"


def _key_text(key: OrgKey) -> str:
    return org_key_text(*key)


# --- the fold -------------------------------------------------------------------------------

def school_year_of(occurred_at: str) -> str:
    """The school year (1 September to 31 August) an ISO moment falls in: ``2025/2026``."""
    year, month = int(occurred_at[:4]), int(occurred_at[5:7])
    start = year if month >= 9 else year - 1
    return f"{start}/{start + 1}"




#: who: a registered person's role, category and birth year; act: the (period, scope, metric)
#: counts a person is in; wd: the day a person withdrew consent (see ``activity``).
STATE_KINDS = ("org", "cont", "pair", "part", "qual", "grow", "rep", "fbp", "srp", "who", "act",
               "wd", "trn")
#: State kinds whose value is always 1: the key is the fact (fbp, srp: people who answered;
#: trn: mentors with a confirmed training).
FLAG_KINDS = frozenset({"part", "rep", "fbp", "srp", "trn"})



def _placeholder(conn: sa.Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"




def _executemany(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk upsert through the driver: the statement is fixed, only the values vary."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql.replace("?", _placeholder(conn)), rows)
    finally:
        cursor.close()


def write_counts(conn: sa.Connection, deltas: Mapping[tuple[str, str, str | None, str], float]) -> None:
    if not deltas:
        return
    t = counts_table.fullname
    _executemany(conn, f"INSERT INTO {t} (level, scope, parent, metric, value) VALUES (?, ?, ?, ?, ?) "
                       f"ON CONFLICT (scope, metric) DO UPDATE SET value = {t}.value + excluded.value",
                 [(level, scope, parent, metric, float(value))
                  for (level, scope, parent, metric), value in sorted(deltas.items())])


def write_state(conn: sa.Connection, rows: list[tuple[str, str, bytes]]) -> None:
    """Upsert state rows, given in key order (``take_dirty``'s) so writers lock alike."""
    if not rows:
        return
    t = state_table.fullname
    _executemany(conn, f"INSERT INTO {t} (kind, key, value) VALUES (?, ?, ?) "
                       f"ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value", rows)


# Built once: the live tail reads the position 50 times a second.
_PROGRESS = sa.select(progress_table.c.position, progress_table.c.rebuilding).where(
    progress_table.c.name == PROJECTOR)
_PROGRESS_LOCKED = _PROGRESS.with_for_update()
_SET_PROGRESS = progress_table.update().where(progress_table.c.name == PROJECTOR).values(
    position=sa.bindparam("position"), rebuilding=sa.bindparam("rebuilding"))


def read_progress(conn: sa.Connection, lock: bool = False) -> tuple[int, bool]:
    row = conn.execute(_PROGRESS_LOCKED if lock and conn.dialect.name == "postgresql"
                       else _PROGRESS).first()
    return (int(row[0]), bool(row[1])) if row else (0, False)


def write_progress(conn: sa.Connection, position: int, rebuilding: bool) -> None:
    updated = conn.execute(_SET_PROGRESS, {"position": position, "rebuilding": rebuilding})
    if updated.rowcount == 0:
        conn.execute(progress_table.insert().values(name=PROJECTOR, position=position,
                                                    rebuilding=rebuilding))




def read_scope(conn: sa.Connection, scope: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A scope's counts and the headline counts of the units directly under it.

    Two indexed range reads on the driver's cursor: a region's dashboard is some 500 rows, and
    SQLAlchemy's per-row work was half of its time."""
    t, ph = counts_table.fullname, _placeholder(conn)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"SELECT metric, value FROM {t} WHERE scope = {ph}", (scope,))
        own = {m: float(v) for m, v in cursor.fetchall()}
        cursor.execute(f"SELECT scope, metric, value FROM {t} WHERE parent = {ph} AND metric IN "
                       f"({', '.join([ph] * len(HEADLINE))})", (scope, *HEADLINE))
        children: dict[str, dict[str, float]] = defaultdict(dict)
        for child, metric, value in cursor.fetchall():
            children[child][metric] = float(value)
    finally:
        cursor.close()
    return own, dict(children)



def pair_members(conn: sa.Connection, pair_id: UUID) -> tuple[str, list[str]] | None:
    """(mentor id, mentee ids) of a pair the dashboards have seen formed, else None."""
    found = pair_record(conn, pair_id)
    return (found[0], found[1]) if found is not None else None


def pair_record(conn: sa.Connection, pair_id: UUID) -> tuple[str, list[str], str | None] | None:
    """(mentor id, mentee ids, the pair's organisation path — None if folded before it was
    kept) of a pair the dashboards have seen formed, else None."""
    value = conn.execute(sa.select(state_table.c.value).where(
        state_table.c.kind == "pair", state_table.c.key == str(pair_id))).scalar()
    if value is None:
        return None
    pair = orjson.loads(value)
    if len(pair) <= 4:
        return None
    return pair[3], list(pair[4]), pair[5] if len(pair) > 5 else None


def org_names(conn: sa.Connection) -> dict[str, str]:
    return {r[0]: orjson.loads(r[1])["name"] for r in conn.execute(
        sa.select(state_table.c.key, state_table.c.value).where(state_table.c.kind == "org"))}
