"""Feeding the fold from the audit log: live (``DashboardProjector`` tails the log into the
tables, its position committed with the counts), rebuilt from position 0, or as of a date
(``replay_as_of``, in memory)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Full, Queue
from typing import Any

import orjson
import sqlalchemy as sa

from services.monitoring.audit.history import Basis
from services.monitoring.audit.store import AuditStore
from shared.auth import OrgPath
from shared.logging import get_logger

from .disclosure import hidden_figures, protect
from .fold import DashboardFold, FoldSettings, new_deltas, rolled_counts
from .render import children_of, render_dashboard
from .tables import (
    Counts,
    T,
    _placeholder,
    counts_table,
    create_tables,
    level_of,
    metadata,
    read_progress,
    scope_key,
    state_table,
    write_counts,
    write_progress,
    write_state,
)

log = get_logger(__name__)


# --- reading the audit log ------------------------------------------------------------------

_END = object()


def read_ahead(make: Callable[[], Iterator[T]], depth: int = 2) -> Iterator[T]:
    """The items of ``make()``, produced in a thread of its own up to ``depth`` ahead.

    ``make`` runs entirely in that thread (it opens its own connection there). Closing the
    returned generator stops the thread after the item it is on.
    """
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False  # the reading side has gone

    def run() -> None:
        try:
            with contextlib.closing(make()) as items:
                for item in items:
                    if not offer(item):
                        return
            offer(_END)
        except BaseException as exc:  # noqa: BLE001 - handed over to the reading side
            offer(exc)

    thread = threading.Thread(target=run, name="dashboards-read-ahead", daemon=True)
    thread.start()
    try:
        while (item := queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()




def log_pages(store: AuditStore, conn: sa.Connection, after: int, page: int,
              until: datetime | None = None,
              basis: Basis = "shown") -> Iterator[list[tuple[int, str, bytes]]]:
    """Pages of (position, event type, data) in log order after ``after``.

    With ``until``: basis ``shown`` — the prefix of the log appended up to that moment;
    basis ``known`` — every entry whose business date is up to it (see ``audit.history``).
    Straight through the driver's cursor: SQLAlchemy's per-row processing would cost more than
    the fold itself on millions of rows.
    """
    t = store.entries
    ph = _placeholder(conn)
    name = t.fullname
    bound: Any = None
    where = f"position > {ph}"
    if until is not None:
        bound = until.astimezone(UTC)
        if conn.dialect.name == "sqlite":
            bound = bound.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        if basis == "known":
            # Entries of format 1 carry no business date: the time they occurred stands for it.
            where += (f" AND (business_at <= {ph} OR (business_at IS NULL"
                      f" AND occurred_at <= {ph}))")
    sql = (f"SELECT position, event_type, data FROM {name} WHERE {where} "
           f"ORDER BY position LIMIT {int(page)}")
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if bound is not None and basis == "shown":
            # The last position appended up to the moment, found on the time indexes (format 1
            # entries by when they occurred): the replay is the log's prefix up to there, so a
            # record appended later, whatever date it carries, never changes it.
            # "+ 0" keeps the planners from answering max() by walking the positions backwards
            # (9.7 million rows as of the first month of a 10-million log, 86 s instead of 0.15).
            cursor.execute(f"SELECT max(position + 0) FROM {name} WHERE appended_at <= {ph}",
                           (bound,))
            found = cursor.fetchone()
            cursor.execute(f"SELECT max(position + 0) FROM {name} WHERE occurred_at <= {ph}"
                           " AND appended_at IS NULL", (bound,))
            older = cursor.fetchone()
            last_position = max((int(r[0]) for r in (found, older) if r and r[0] is not None),
                                default=None)
            if last_position is None:
                return
            sql = sql.replace(" ORDER BY", f" AND position <= {last_position} ORDER BY")
        params: tuple[Any, ...] = (bound, bound) if bound is not None and basis == "known" else ()
        last = after
        while True:
            cursor.execute(sql, (last, *params))
            rows = cursor.fetchall()
            if rows:
                yield rows
            if len(rows) < page:
                return
            last = int(rows[-1][0])
    finally:
        cursor.close()


@dataclass(frozen=True)
class Replayed:
    """Every scope's counts as they stood at a moment, folded from the audit log alone into
    memory (a scratch copy: no live table is read or written)."""

    moment: datetime
    counts: Counts
    where: dict[str, tuple[str, str | None]]
    names: dict[str, str]
    events: int
    settings: FoldSettings
    basis: Basis = "shown"

    def dashboard(self, org: OrgPath, period: str | None = None) -> dict[str, Any]:
        """The dashboard of ``org`` as it showed then: the same rendering as the live one."""
        scope = scope_key(org)
        children = children_of(self.counts, self.where, scope)
        body = render_dashboard(scope, level_of(org), self.counts.get(scope, {}), children,
                                self.settings, {c: self.names[c] for c in children if c in self.names},
                                period)
        # The same protection as the live dashboard, from the replayed counts of every level.
        hidden = hidden_figures(org, self.counts_with_units, self.settings)
        body = protect(body, hidden, self.settings.min_group)
        return {**body, "as_of": self.moment.isoformat(), "events": self.events}

    def counts_with_units(self, scope: str, metrics: Sequence[str]
                          ) -> tuple[Mapping[str, float], dict[str, Mapping[str, float]]]:
        """A scope's counts and those of the units directly under it (``disclosure``)."""
        units = {s: self.counts.get(s, {}) for s, (_, parent) in self.where.items()
                 if parent == scope}
        return self.counts.get(scope, {}), units

    def regions(self) -> list[str]:
        return sorted(scope for scope, (level, _) in self.where.items() if level == "region")


def replay_as_of(store: AuditStore, moment: datetime, settings: FoldSettings | None = None,
                 page: int = 20000, basis: Basis = "shown") -> Replayed:
    """Every scope's counts at ``moment`` from the audit log alone: as the dashboards showed
    them then (``shown``), or as true then by what the log knows now (``known``)."""
    fold = DashboardFold(settings)
    events = 0

    def pages() -> Iterator[list[tuple[int, str, bytes]]]:
        with store.engine.connect() as conn:
            yield from log_pages(store, conn, 0, page, until=moment, basis=basis)

    with contextlib.closing(read_ahead(pages)) as source:  # reading overlaps folding
        for rows in source:
            fold.apply_rows(rows)
            events += len(rows)
    counts, where = rolled_counts(fold)
    names = {key: info["name"] for key, info in fold.state["org"].items()}
    return Replayed(moment, counts, where, names, events, fold.settings, basis)


# --- writing: the projector -----------------------------------------------------------------




def organisations_in(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """Every organisation the dashboards know (path → kind, name, code…), on ``conn``: a reader
    already inside a transaction of this database need not take another connection."""
    return {r[0]: orjson.loads(r[1]) for r in conn.execute(
        sa.select(state_table.c.key, state_table.c.value).where(state_table.c.kind == "org"))}

class DashboardProjector:
    """Tails the audit log into the dashboard tables; the position commits with the counts.

    The fold's state is kept in memory between batches; a transaction that finds the committed
    position elsewhere than expected (another replica, a rebuild) reloads it first.
    """

    def __init__(self, store: AuditStore, write_engine: sa.Engine,
                 settings: FoldSettings | None = None,
                 on_reports: Callable[[list[str]], None] = lambda _ids: None) -> None:
        self.store = store
        self.engine = write_engine
        self.fold = DashboardFold(settings)
        self.position: int | None = None  # what the in-memory state corresponds to
        self.on_reports = on_reports
        self.applied_total = 0
        self._lock = threading.Lock()
        create_tables(write_engine)

    def reload(self, conn: sa.Connection) -> int:
        # Should another writer commit between these two reads, the first commit from here
        # finds the position moved and reloads again (``_commit``): nothing is counted twice.
        position, _ = read_progress(conn)
        # Through the driver's cursor: millions of rows at a large region's restart.
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT kind, key, value FROM {state_table.fullname}")
            self.fold.load_state(cursor)
        finally:
            cursor.close()
        self.fold.deltas = new_deltas()
        self.position = position
        return position

    def submitted_reports(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(
                sa.select(state_table.c.key).where(state_table.c.kind == "rep"))]

    def organisations(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return organisations_in(conn)

    def catch_up(self, page: int = 5000, max_events: int | None = None,
                 commit_every: int = 5000, rebuilding: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
        """Fold whatever the log holds after the committed position. Returns events folded."""
        with self._lock:
            return self._catch_up(page, max_events, commit_every, rebuilding, progress)

    def _catch_up(self, page: int, max_events: int | None, commit_every: int, rebuilding: bool,
                  progress: Callable[[int], None] | None) -> int:
        # Read through the reading engine: on SQLite the writing one begins every transaction
        # with the write lock, which this poll (50 times a second) would take from the feeder.
        with self.store.engine.connect() as conn:
            committed, in_rebuild = read_progress(conn)
            if in_rebuild and not rebuilding:
                return 0  # a rebuild owns the tables until it finishes
            if self.position != committed:
                self.reload(conn)
        start = self.position or 0
        done = 0
        pending = 0
        last = start

        def pages() -> Iterator[list[tuple[int, str, bytes]]]:
            with self.store.engine.connect() as read:
                yield from log_pages(self.store, read, start, page)

        apply = self.fold.apply_rows
        # A rebuild reads the next page in a thread of its own while this one folds: the
        # database's part of reading runs without the GIL, so it takes another core.
        with contextlib.closing(read_ahead(pages) if rebuilding else pages()) as source:
            for rows in source:
                apply(rows)
                last = rows[-1][0]
                done += len(rows)
                pending += len(rows)
                if pending >= commit_every:
                    self._commit(start, last, rebuilding)
                    start, pending = last, 0
                    if progress is not None:
                        progress(done)
                if max_events is not None and done >= max_events:
                    break
        if pending:
            self._commit(start, last, rebuilding)
            if progress is not None:
                progress(done)
        return done

    def _commit(self, expected: int, position: int, rebuilding: bool) -> None:
        deltas = self.fold.take_deltas()
        state = self.fold.take_dirty()
        reports, self.fold.submitted_reports = self.fold.submitted_reports, []
        try:
            with self.engine.begin() as conn:
                committed, _ = read_progress(conn, lock=True)
                if committed != expected:
                    raise _Moved(committed)
                write_counts(conn, deltas)
                write_state(conn, state)
                write_progress(conn, position, rebuilding)
        except BaseException:
            self.position = None  # memory is ahead of the database: reload on the next round
            raise
        self.position = position
        self.applied_total += position - expected
        if reports:
            self.on_reports(reports)

    def reset(self) -> None:
        """Empty the read model and mark a rebuild in progress from position 0."""
        with self._lock, self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # Dropped rather than emptied: quicker for millions of rows, and a read model
                # made by an older version takes the current layout (WITHOUT ROWID).
                counts_table.drop(conn)
                state_table.drop(conn)
                metadata.create_all(conn, tables=[counts_table, state_table])
            else:
                conn.execute(counts_table.delete())
                conn.execute(state_table.delete())
            write_progress(conn, 0, True)
            self.fold = DashboardFold(self.fold.settings)
            self.position = 0

    def finish_rebuild(self) -> None:
        with self._lock, self.engine.begin() as conn:
            position, _ = read_progress(conn, lock=True)
            write_progress(conn, position, False)


class _Moved(RuntimeError):
    """Someone else advanced the position; this batch is dropped and redone from the database."""

