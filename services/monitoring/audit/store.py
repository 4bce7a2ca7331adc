"""SQLAlchemy Core storage for the audit log (SQLite and PostgreSQL).

Appends run inside the caller's transaction so the JetStream consumer can commit its position
atomically with the entries. ``audit_state`` holds the size, chain hash and Merkle frontier, so
an append costs O(log n) regardless of log length, and it doubles as the append lock.

Verification (``verify_store``) and export (``export``) are parts of ``AuditStore`` of their own.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .chain import ZERO_HASH, CompactRange, encode_fields
from .export import StoreExport
from .heads import HeadsFile, HeadSigner, SignedHead
from .history import business_time
from .records import (
    _ENTRY_FIELDS,
    _IN_CHUNK,
    AuditEnvelope,
    SigningRecord,
    StoredEntry,
    TreeHead,
    _utc,
    build_metadata,
)
from .verify_store import StoreVerification


class AuditStore(StoreVerification, StoreExport):
    def __init__(self, engine: sa.Engine, schema: str | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 zone: ZoneInfo | None = None) -> None:
        self.engine = engine
        # The log's own clock (when an entry is appended) and the region's zone (a meeting's
        # date is the start of that day there); see ``history``.
        self.clock = clock
        self.zone = zone or ZoneInfo("Europe/Moscow")
        self.metadata = build_metadata(schema)
        self.entries = self.metadata.tables[self._qualified("audit_entries", schema)]
        self.state = self.metadata.tables[self._qualified("audit_state", schema)]
        self.signing_table = self.metadata.tables[self._qualified("audit_signing", schema)]
        # SQLite drops tzinfo when storing; we store naive UTC there and aware UTC elsewhere.
        self._sqlite = engine.dialect.name == "sqlite"
        self._naive_times = self._sqlite
        # Driver-level executemany for the hot insert: SQLAlchemy's per-row parameter
        # processing costs ~3x the SQLite insert itself. Only for the two dialects we test;
        # the statement text still comes from the Core table, so it stays portable.
        t = self.entries
        self._q_ids = sa.select(t.c.event_id).where(
            t.c.event_id.in_(sa.bindparam("ids", expanding=True))
        )
        # The state row's statements, built once: building one costs more than running it on
        # the live path (a batch of a few events per commit).
        state = self.state
        self._q_touch_state = sa.update(state).where(state.c.id == 1).values(size=state.c.size)
        self._q_state = sa.select(state.c.size, state.c.chain_hash, state.c.frontier).where(
            state.c.id == 1)
        self._q_set_state = sa.update(state).where(state.c.id == 1).values(
            size=sa.bindparam("size"), chain_hash=sa.bindparam("chain"),
            frontier=sa.bindparam("frontier"))
        signing = self.signing_table
        self._q_first_entry = sa.update(signing).where(
            signing.c.id == 1, signing.c.first_entry_at.is_(None)).values(
            first_entry_at=sa.bindparam("at"))
        self._q_sp = sa.select(t.c.source_position).where(
            t.c.source == sa.bindparam("source"),
            t.c.source_position.in_(sa.bindparam("positions", expanding=True)),
        )
        # psycopg prepares a statement after 5 runs and PostgreSQL then caches a generic plan
        # costed while the table was still empty: a sequential scan per duplicate check, which
        # made appends O(n) (measured: 566 entries/s at 100k). Unprepared "= ANY(array)"
        # lookups are planned on every call with the real array and always use the indexes.
        self._pg_lookup: tuple[str, str] | None = None
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            ids_q = sa.select(t.c.event_id).where(t.c.event_id == sa.func.any(sa.bindparam("ids")))
            sp_q = sa.select(t.c.source_position).where(
                t.c.source == sa.bindparam("source"),
                t.c.source_position == sa.func.any(sa.bindparam("positions")),
            )
            self._pg_lookup = (
                str(ids_q.compile(dialect=engine.dialect)),
                str(sp_q.compile(dialect=engine.dialect)),
            )
        self._fast_insert: tuple[str, tuple[str, ...] | None] | None = None
        if engine.dialect.name in ("sqlite", "postgresql"):
            compiled = self.entries.insert().compile(dialect=engine.dialect)
            order = tuple(compiled.positiontup) if compiled.positional else None
            self._fast_insert = (str(compiled), order)

    @staticmethod
    def _qualified(name: str, schema: str | None) -> str:
        return f"{schema}.{name}" if schema else name

    # ---------------------------------------------------------------- schema

    def create_schema(self) -> None:
        self.metadata.create_all(self.engine)
        self._add_history_columns()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(self.state.c.id)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            self.state.insert().values(
                                id=1, size=0, chain_hash=ZERO_HASH, frontier="[]"
                            )
                        )
                except sa.exc.IntegrityError:
                    pass  # another process initialised it first
            if conn.execute(sa.select(self.signing_table.c.id)).first() is None:
                # A log older than this record starts its clock now: no head is demanded of
                # it before one interval has passed, as for a new log.
                size = conn.execute(sa.select(self.state.c.size)).scalar_one()
                try:
                    with conn.begin_nested():
                        conn.execute(self.signing_table.insert().values(
                            id=1, heads=0, signed_size=0, signed_at=None,
                            first_entry_at=self._stored_time(datetime.now(UTC)) if size else None))
                except sa.exc.IntegrityError:
                    pass

    def _add_history_columns(self) -> None:
        """A log created before entry format 2 gains its two nullable times; its old entries
        keep format 1 (nulls there) and verify as before."""
        t = self.entries
        with self.engine.begin() as conn:
            present = {c["name"] for c in sa.inspect(conn).get_columns(t.name, schema=t.schema)}
            for name in ("appended_at", "business_at"):
                if name in present:
                    continue
                column_type = t.c[name].type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {t.fullname} ADD COLUMN {name} {column_type}")
                index = next(i for i in t.indexes if i.name == f"ix_audit_entries_{name}")
                index.create(conn, checkfirst=True)

    def exists(self, conn: sa.Connection) -> bool:
        """Whether the log's tables exist (readers never create them)."""
        return sa.inspect(conn).has_table(self.entries.name, schema=self.entries.schema)

    def _stored_time(self, value: datetime) -> datetime:
        value = _utc(value)
        return value.replace(tzinfo=None) if self._naive_times else value

    # ---------------------------------------------------------------- append

    def _lock_state(self, conn: sa.Connection) -> tuple[int, bytes, CompactRange]:
        # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite before
        # we read, so concurrent appenders serialise instead of assigning the same positions.
        conn.execute(self._q_touch_state)
        row = conn.execute(self._q_state).one()
        size = int(row.size)
        return size, bytes(row.chain_hash), CompactRange.from_hex(size, json.loads(row.frontier))

    def _existing(
        self, conn: sa.Connection, batch: Sequence[AuditEnvelope]
    ) -> tuple[set[str], set[tuple[str, int]]]:
        # Expanding bind parameters keep one cached compiled statement per query instead of
        # coercing every value into a fresh literal list on each call.
        if self._pg_lookup is not None:
            return self._existing_pg(conn, batch, *self._pg_lookup)
        ids = [e.event_id for e in batch]
        found_ids: set[str] = set()
        for i in range(0, len(ids), _IN_CHUNK):
            found_ids.update(
                conn.execute(self._q_ids, {"ids": ids[i : i + _IN_CHUNK]}).scalars()
            )
        by_source: dict[str, list[int]] = defaultdict(list)
        for e in batch:
            by_source[e.source].append(int(e.source_position))
        found_sp: set[tuple[str, int]] = set()
        for source, positions in by_source.items():
            for i in range(0, len(positions), _IN_CHUNK):
                rows = conn.execute(
                    self._q_sp, {"source": source, "positions": positions[i : i + _IN_CHUNK]}
                ).scalars()
                found_sp.update((source, int(p)) for p in rows)
        return found_ids, found_sp

    @staticmethod
    def _existing_pg(
        conn: sa.Connection, batch: Sequence[AuditEnvelope], ids_sql: str, sp_sql: str
    ) -> tuple[set[str], set[tuple[str, int]]]:
        by_source: dict[str, list[int]] = defaultdict(list)
        for e in batch:
            by_source[e.source].append(int(e.source_position))
        # Driver cursor of this same connection, so the lookups see the caller's transaction.
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(ids_sql, {"ids": [e.event_id for e in batch]}, prepare=False)
            found_ids = {row[0] for row in cursor.fetchall()}
            found_sp: set[tuple[str, int]] = set()
            for source, positions in by_source.items():
                cursor.execute(sp_sql, {"source": source, "positions": positions}, prepare=False)
                found_sp.update((source, int(row[0])) for row in cursor.fetchall())
        finally:
            cursor.close()
        return found_ids, found_sp

    def append_batch(self, conn: sa.Connection, entries: Iterable[AuditEnvelope]) -> int:
        """Append in arrival order; redelivered events are skipped. Returns the count appended.

        Runs in the caller's transaction and never commits: the consumer commits its stream
        position together with the entries, so a crash cannot log an event twice or lose one.
        """
        batch = list(entries)
        if not batch:
            return 0
        size, chain, acc = self._lock_state(conn)

        # Duplicates inside the batch itself (JetStream may redeliver within one fetch).
        seen_ids: set[str] = set()
        seen_sp: set[tuple[str, int]] = set()
        unique: list[AuditEnvelope] = []
        for e in batch:
            sp = (e.source, int(e.source_position))
            if e.event_id in seen_ids or sp in seen_sp:
                continue
            seen_ids.add(e.event_id)
            seen_sp.add(sp)
            unique.append(e)
        found_ids, found_sp = self._existing(conn, unique)
        fresh = [e for e in unique
                 if e.event_id not in found_ids and (e.source, int(e.source_position)) not in found_sp]
        if not fresh:
            return 0
        first = size == 0
        rows, size, chain = self._chained_rows(fresh, size, chain, acc)
        self._insert_rows(conn, rows)
        self._write_state(conn, size, chain, acc)
        if first:
            self._note_first_entry(conn)
        return len(rows)

    def _note_first_entry(self, conn: sa.Connection) -> None:
        # Once per log, in the appending transaction: from now on a first head is due.
        conn.execute(self._q_first_entry, {"at": self._stored_time(datetime.now(UTC))})

    def bulk_load(self, entries: Iterable[AuditEnvelope], batch: int = 100_000) -> int:
        """Append many entries fast, ``batch`` to a transaction; returns the count appended.

        For filling a log from a trusted, duplicate-free source (benchmarks, migrations): the
        duplicate lookups of ``append_batch`` are skipped, everything else is the same, so the
        chain, the Merkle state and every row are exactly what ``append_batch`` would store.
        """
        appended = 0
        chunk: list[AuditEnvelope] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= batch:
                appended += self._bulk_chunk(chunk)
                chunk = []
        if chunk:
            appended += self._bulk_chunk(chunk)
        return appended

    def _bulk_chunk(self, chunk: list[AuditEnvelope]) -> int:
        with self.engine.begin() as conn:
            size, chain, acc = self._lock_state(conn)
            first = size == 0
            rows, size, chain = self._chained_rows(chunk, size, chain, acc)
            self._insert_rows(conn, rows)
            self._write_state(conn, size, chain, acc)
            if first and rows:
                self._note_first_entry(conn)
        return len(rows)

    def _chained_rows(self, entries: Iterable[AuditEnvelope], size: int, chain: bytes,
                      acc: CompactRange) -> tuple[list[tuple[Any, ...]], int, bytes]:
        """Rows in ``_ENTRY_FIELDS`` order, each hashed and chained after the previous one."""
        rows: list[tuple[Any, ...]] = []
        sha = hashlib.sha256
        naive = self._naive_times
        fast = self._fast_insert is not None
        appended = _utc(self.clock())
        appended_iso = appended.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        appended_text = f"{appended_iso[:10]}T{appended_iso[11:]}Z"
        appended_stored: Any = (appended_iso if fast else appended.replace(tzinfo=None)) if naive \
            else appended
        zone = self.zone
        for e in entries:
            occurred = _utc(e.occurred_at)
            # One isoformat per row serves both the hashed canonical text and SQLite's column.
            iso = occurred.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            data = bytes(e.data)
            business = _utc(e.business_at) if e.business_at is not None else business_time(
                e.event_type, data, occurred, zone)
            if business == occurred:
                business_iso = iso
            else:
                business_iso = business.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            leaf = sha(b"\x00" + encode_fields(
                e.source, e.source_position, e.event_id, e.event_type, f"{iso[:10]}T{iso[11:]}Z",
                e.aggregate_id, e.region, e.municipality, e.organisation, data,
                appended_text, f"{business_iso[:10]}T{business_iso[11:]}Z",
            )).digest()
            chain = sha(chain + leaf).digest()
            acc.append(leaf)
            size += 1
            if naive:
                # Same text SQLAlchemy's SQLite DateTime writes, so Core reads parse it.
                stored_time: Any = iso if fast else occurred.replace(tzinfo=None)
                stored_business: Any = business_iso if fast else business.replace(tzinfo=None)
            else:
                stored_time, stored_business = occurred, business
            # Tuple in _ENTRY_FIELDS order: cheaper than a dict per row at 1M rows.
            rows.append((
                size, e.source, int(e.source_position), e.event_id, e.event_type, stored_time,
                e.aggregate_id, e.region, e.municipality, e.organisation, data, leaf, chain,
                appended_stored, stored_business,
            ))
        return rows, size, chain

    def _insert_rows(self, conn: sa.Connection, rows: list[tuple[Any, ...]]) -> None:
        if self._fast_insert is not None:
            sql, order = self._fast_insert
            if order is None:  # named paramstyle (psycopg)
                params: list[Any] = [dict(zip(_ENTRY_FIELDS, r, strict=True)) for r in rows]
            elif order == _ENTRY_FIELDS:
                params = rows
            else:
                index = [_ENTRY_FIELDS.index(k) for k in order]
                params = [tuple(r[i] for i in index) for r in rows]
            conn.exec_driver_sql(sql, params)  # one executemany
        else:
            conn.execute(
                self.entries.insert(), [dict(zip(_ENTRY_FIELDS, r, strict=True)) for r in rows]
            )

    def _write_state(self, conn: sa.Connection, size: int, chain: bytes, acc: CompactRange) -> None:
        conn.execute(self._q_set_state,
                     {"size": size, "chain": chain, "frontier": json.dumps(acc.to_hex())})

    # ---------------------------------------------------------------- reads

    def head(self, conn: sa.Connection) -> TreeHead:
        row = conn.execute(self._q_state).one()
        acc = CompactRange.from_hex(int(row.size), json.loads(row.frontier))
        return TreeHead(int(row.size), acc.root(), bytes(row.chain_hash))

    def sign_head(
        self, conn: sa.Connection, signer: HeadSigner, heads_file: HeadsFile | None = None
    ) -> SignedHead:
        """Sign the current head (call after the append transaction commits)."""
        size, root, chain = self.head(conn)
        head = signer.sign(size, root.hex(), chain.hex())
        self._keep(head, heads_file)
        return head

    def _keep(self, head: SignedHead, heads_file: HeadsFile | None) -> None:
        """Append a head to the heads file, then count it in the store.

        In this order, and read in the opposite one by ``verify`` (the record before the file),
        the file always holds at least what the record counts: a head being signed while a
        verify runs is never taken for a missing one."""
        if heads_file is None:
            return
        heads_file.append(head)
        s = self.signing_table
        # Its own short transaction: the caller's connection may be a read that never commits.
        with self.engine.begin() as conn:
            conn.execute(sa.update(s).where(s.c.id == 1).values(
                heads=s.c.heads + 1,
                signed_size=sa.case((s.c.signed_size < head.size, head.size),
                                    else_=s.c.signed_size),
                signed_at=self._stored_time(datetime.now(UTC))))

    def signing(self, conn: sa.Connection) -> SigningRecord | None:
        """The store's record of signing; None for a log older than the record."""
        s = self.signing_table
        if not sa.inspect(conn).has_table(s.name, schema=s.schema):
            return None
        row = conn.execute(sa.select(s.c.heads, s.c.signed_size, s.c.signed_at,
                                     s.c.first_entry_at).where(s.c.id == 1)).first()
        if row is None:
            return None
        return SigningRecord(int(row.heads), int(row.signed_size),
                             _utc(row.signed_at) if row.signed_at is not None else None,
                             _utc(row.first_entry_at) if row.first_entry_at is not None else None)

    def _to_entry(self, row: Any) -> StoredEntry:
        return StoredEntry(
            position=int(row.position),
            source=row.source,
            source_position=int(row.source_position),
            event_id=row.event_id,
            event_type=row.event_type,
            occurred_at=_utc(row.occurred_at),
            aggregate_id=row.aggregate_id,
            region=row.region,
            municipality=row.municipality,
            organisation=row.organisation,
            data=bytes(row.data),
            leaf_hash=bytes(row.leaf_hash),
            chain_hash=bytes(row.chain_hash),
            appended_at=_utc(row.appended_at) if row.appended_at is not None else None,
            business_at=_utc(row.business_at) if row.business_at is not None else None,
        )

    def _pages(self, conn: sa.Connection, columns: Sequence[Any], start: int, batch: int,
               where: Any = None) -> Iterator[Sequence[Any]]:
        # Keyset pagination: portable, constant memory, and no server-side cursor needed.
        t = self.entries
        last = start - 1
        while True:
            query = sa.select(*columns).where(t.c.position > last)
            if where is not None:
                query = query.where(where)
            rows = conn.execute(query.order_by(t.c.position).limit(batch)).all()
            if not rows:
                return
            yield rows
            last = int(rows[-1][0])
            if len(rows) < batch:
                return

    def iter_entries(
        self, conn: sa.Connection, start: int = 1, batch: int = 10000
    ) -> Iterator[StoredEntry]:
        cols = [self.entries.c[name] for name in _ENTRY_FIELDS]
        for rows in self._pages(conn, cols, start, batch):
            for row in rows:
                yield self._to_entry(row)

    def entries_for_aggregate(self, conn: sa.Connection, aggregate_id: str) -> list[StoredEntry]:
        t = self.entries
        rows = conn.execute(
            sa.select(*[t.c[n] for n in _ENTRY_FIELDS])
            .where(t.c.aggregate_id == aggregate_id)
            .order_by(t.c.position)
        ).all()
        return [self._to_entry(r) for r in rows]

    def _time_bound(self, value: datetime) -> datetime:
        value = _utc(value)
        return value.replace(tzinfo=None) if self._naive_times else value

    def entries_between(
        self, conn: sa.Connection, from_dt: datetime, to_dt: datetime
    ) -> list[StoredEntry]:
        """Entries with ``from_dt <= occurred_at < to_dt`` in log order."""
        return list(self._iter_between(conn, from_dt, to_dt))

    def _iter_between(
        self, conn: sa.Connection, from_dt: datetime, to_dt: datetime, batch: int = 5000
    ) -> Iterator[StoredEntry]:
        t = self.entries
        where = sa.and_(
            t.c.occurred_at >= self._time_bound(from_dt), t.c.occurred_at < self._time_bound(to_dt)
        )
        cols = [t.c[name] for name in _ENTRY_FIELDS]
        for rows in self._pages(conn, cols, 1, batch, where):
            for row in rows:
                yield self._to_entry(row)

