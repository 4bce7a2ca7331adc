"""SQLAlchemy Core storage for the audit log (SQLite and PostgreSQL).

Appends run inside the caller's transaction so the JetStream consumer can commit its position
atomically with the entries. ``audit_state`` holds the size, chain hash and Merkle frontier, so
an append costs O(log n) regardless of log length, and it doubles as the append lock.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import (
    DELETED,
    EDITED,
    HEAD_INVALID,
    HEADS_MISSING,
    INSERTED,
    REORDERED,
    TRUNCATED,
    ZERO_HASH,
    CompactRange,
    MerkleTree,
    Problem,
    VerifyResult,
    canonical_time,
    encode_entry,
    encode_fields,
    verify_consistency,
    verify_entries,
    verify_inclusion,
)
from .heads import (
    HeadsFile,
    HeadSigner,
    SignedHead,
    key_id_of,
    load_public_key,
    public_key_pem,
    verify_head,
    verify_signature,
)

EXPORT_FORMAT = "nastavnik-audit-export/v1"
EXPORT_DOMAIN = b"nastavnik-audit-export-manifest/v1"
MANIFEST_MISMATCH = "MANIFEST_MISMATCH"

# SQLite's historic bound-parameter limit is 999; 500 keeps IN lists portable.
_IN_CHUNK = 500

#: The signing loop's default interval (NASTAVNIK_AUDIT_HEAD_INTERVAL), in seconds.
DEFAULT_HEAD_INTERVAL = 10.0
#: How late the first head may be beyond one interval before its absence counts: the loop's
#: start, a slow first signature and the clocks of two machines (verify runs anywhere).
HEAD_GRACE_SECONDS = 60.0


class AuditIntegrityError(RuntimeError):
    """The stored log contradicts itself or its signed heads; refuse to certify it."""


def build_metadata(schema: str | None = None) -> sa.MetaData:
    metadata = sa.MetaData(schema=schema)
    sa.Table(
        "audit_entries",
        metadata,
        # On SQLite "INTEGER PRIMARY KEY" makes the position the rowid itself: entries are read
        # and appended in one B-tree instead of the table plus a separate position index.
        # (Logs created before keep their BIGINT key and still work, only slower.)
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_position", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("aggregate_id", sa.String(200), nullable=False),
        sa.Column("region", sa.String(500), nullable=False),
        sa.Column("municipality", sa.String(500), nullable=True),
        sa.Column("organisation", sa.String(500), nullable=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("event_id", name="uq_audit_entries_event_id"),
        sa.UniqueConstraint("source", "source_position", name="uq_audit_entries_source_pos"),
        sa.Index("ix_audit_entries_aggregate_id", "aggregate_id"),
        sa.Index("ix_audit_entries_occurred_at", "occurred_at"),
    )
    sa.Table(
        "audit_state",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),  # JSON list of hex subtree roots
    )
    # What the store knows about the heads kept outside it, so that a heads file that goes
    # missing is noticed: how many heads were written to it and up to which size, and when
    # the log first held an entry (this machine's clock), from which a first head is due.
    sa.Table(
        "audit_signing",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("heads", sa.BigInteger, nullable=False),
        sa.Column("signed_size", sa.BigInteger, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_entry_at", sa.DateTime(timezone=True), nullable=True),
    )
    return metadata


metadata = build_metadata()


@dataclass(frozen=True)
class AuditEnvelope:
    """One incoming event as delivered by JetStream; ``data`` is opaque canonical JSON."""

    data: bytes
    source: str
    source_position: int
    event_id: str
    event_type: str
    occurred_at: datetime
    aggregate_id: str
    region: str
    municipality: str | None = None
    organisation: str | None = None


@dataclass(frozen=True)
class StoredEntry:
    position: int
    source: str
    source_position: int
    event_id: str
    event_type: str
    occurred_at: datetime
    aggregate_id: str
    region: str
    municipality: str | None
    organisation: str | None
    data: bytes
    leaf_hash: bytes
    chain_hash: bytes

    def entry_bytes(self) -> bytes:
        return _entry_bytes(self)


class TreeHead(NamedTuple):
    size: int
    root: bytes
    chain: bytes


@dataclass(frozen=True)
class SigningRecord:
    """The store's own account of signing (``audit_signing``); see ``AuditStore.verify``."""

    heads: int  # heads written to the heads file
    signed_size: int  # the largest size among them
    signed_at: datetime | None
    first_entry_at: datetime | None  # when the log first held an entry


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    entries: int
    head: SignedHead


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _entry_bytes(e: Any) -> bytes:
    return encode_entry(
        source=e.source,
        source_position=e.source_position,
        event_id=e.event_id,
        event_type=e.event_type,
        occurred_at=e.occurred_at,
        aggregate_id=e.aggregate_id,
        region=e.region,
        municipality=e.municipality,
        organisation=e.organisation,
        data=bytes(e.data),
    )


_ENTRY_FIELDS = (
    "position", "source", "source_position", "event_id", "event_type", "occurred_at",
    "aggregate_id", "region", "municipality", "organisation", "data", "leaf_hash", "chain_hash",
)


class AuditStore:
    def __init__(self, engine: sa.Engine, schema: str | None = None) -> None:
        self.engine = engine
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
        for e in entries:
            occurred = _utc(e.occurred_at)
            # One isoformat per row serves both the hashed canonical text and SQLite's column.
            iso = occurred.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            data = bytes(e.data)
            leaf = sha(b"\x00" + encode_fields(
                e.source, e.source_position, e.event_id, e.event_type, f"{iso[:10]}T{iso[11:]}Z",
                e.aggregate_id, e.region, e.municipality, e.organisation, data,
            )).digest()
            chain = sha(chain + leaf).digest()
            acc.append(leaf)
            size += 1
            if naive:
                # Same text SQLAlchemy's SQLite DateTime writes, so Core reads parse it.
                stored_time: Any = iso if fast else occurred.replace(tzinfo=None)
            else:
                stored_time = occurred
            # Tuple in _ENTRY_FIELDS order: cheaper than a dict per row at 1M rows.
            rows.append((
                size, e.source, int(e.source_position), e.event_id, e.event_type, stored_time,
                e.aggregate_id, e.region, e.municipality, e.organisation, data, leaf, chain,
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

    # ---------------------------------------------------------------- verify

    def _verify_rows(
        self, conn: sa.Connection, batch: int
    ) -> Iterator[tuple[int, bytes, bytes, bytes]]:
        t = self.entries
        cols: list[Any] = [t.c[name] for name in _ENTRY_FIELDS]
        encode = encode_fields
        if self._sqlite:
            # Read SQLite's stored UTC text and reshape it into canonical_time form: parsing a
            # datetime per row would double the cost of verifying. Any other stored format
            # simply fails the hash check, which is the right outcome for a tampered value.
            cols[5] = sa.type_coerce(t.c.occurred_at, sa.String).label("occurred_at")
            # One ordered scan on the driver cursor of this same connection (and transaction):
            # plain tuples, no Row objects or result processors, ~2x faster at 1M rows.
            sql = str(sa.select(*cols).order_by(t.c.position).compile(dialect=conn.dialect))
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(sql)
                while rows := cursor.fetchmany(batch):
                    for r in rows:
                        ts = r[5]
                        yield (
                            r[0],
                            encode(r[1], r[2], r[3], r[4], f"{ts[:10]}T{ts[11:]}Z", r[6], r[7],
                                   r[8], r[9], r[10]),
                            r[11],
                            r[12],
                        )
            finally:
                cursor.close()  # also when the verifier stops early at the first problem
            return
        for rows in self._pages(conn, cols, 1, batch):
            for r in rows:
                yield (
                    r[0],
                    encode(r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]),
                    r[11],
                    r[12],
                )

    def verify(
        self,
        conn: sa.Connection,
        heads_file: HeadsFile | None,
        public_key: Ed25519PublicKey | str | bytes | None,
        batch: int = 20000,
        *,
        head_interval: float = DEFAULT_HEAD_INTERVAL,
        now: datetime | None = None,
    ) -> VerifyResult:
        """Full streaming verification against the stored hashes and the signed heads.

        Reads only: a log whose tables do not exist is verified as empty (so a heads file that
        signed entries reports them truncated). With a heads file, heads that should be in it
        and are not are a problem of their own (``HEADS_MISSING``), see ``_missing_heads``;
        ``head_interval`` is the signing loop's interval and ``now`` the time to judge by.
        """
        present = self.exists(conn)
        # The record is read before the heads file: a head signed meanwhile is then in the
        # file but not yet counted, never the other way round (see ``_keep``).
        record = self.signing(conn) if present and heads_file is not None else None
        heads: list[SignedHead] = []
        issues = []
        if heads_file is not None:
            if public_key is not None:
                heads, issues = heads_file.checked(load_public_key(public_key))
            elif heads_file.all():
                raise ValueError("для проверки по файлу вершин нужен открытый ключ")
        if present:
            # The state row is an unsigned, in-DB checkpoint: it still exposes a truncation or
            # rewrite that forgot to update it. Signed heads of the same size take precedence.
            state = self.head(conn)
            state_cp = _Checkpoint(state.size, state.root.hex(), state.chain.hex())
            result = verify_entries(
                self._verify_rows(conn, batch),
                checkpoints=[state_cp, *heads] if state.size else heads,
            )
        else:
            result = verify_entries((), checkpoints=heads)
        # Only signed heads count as "signed"; the state row matched too but proves nothing.
        signed = max((h.size for h in heads if h.size <= result.signed_size), default=0)
        result = dataclasses.replace(result, signed_size=signed)
        if issues:
            # A forged or broken heads file undermines the external anchor: report it first.
            first = issues[0]
            notes = tuple(i.message_ru for i in issues[1:]) + (f"проверка записей: {result}",)
            return VerifyResult(
                ok=False,
                entries=result.entries,
                root_hex=result.root_hex,
                chain_hex=result.chain_hex,
                problem=Problem(first.size or 0, HEAD_INVALID, first.message_ru),
                signed_size=result.signed_size,
                notes=notes,
            )
        if heads_file is None:
            return result
        missing = self._missing_heads(conn, heads_file, heads, record, result.entries if present
                                      else 0, head_interval, now or datetime.now(UTC))
        if missing is None:
            return result
        if not result.ok:
            return dataclasses.replace(result, notes=(*result.notes, str(missing)))
        return dataclasses.replace(result, ok=False, problem=missing)

    def _missing_heads(
        self,
        conn: sa.Connection,
        heads_file: HeadsFile,
        heads: list[SignedHead],
        record: SigningRecord | None,
        entries: int,
        head_interval: float,
        now: datetime,
    ) -> Problem | None:
        """Heads that must exist and are not in the file.

        Two witnesses, both inside the database (the file itself cannot vouch for what was
        taken out of it): the store's count of the heads it wrote, and the age of the log. A
        head is due one signing interval after the first entry (``HEAD_GRACE_SECONDS`` more
        for a late start and clock drift), so a log just started, whose first head is not yet
        due, passes; a log older than that with no head at all does not. A log that predates
        the record is timed by its first event instead.
        """
        kept = len(heads)
        top = max((h.size for h in heads), default=0)
        if not heads_file.path.exists():
            where = f"файл вершин {heads_file.path} отсутствует"
        elif kept == 0:
            where = f"файл вершин {heads_file.path} пуст"
        else:
            where = f"в файле вершин {kept} подписанных вершин (последняя — размер {top})"
        if record is not None and (kept < record.heads or top < record.signed_size):
            told = (f"{where}, а хранилище журнала записало, что подписано вершин: "
                    f"{record.heads} (до размера {record.signed_size}): вершины удалены из "
                    "файла")
            if top < record.signed_size:
                return Problem(top + 1, HEADS_MISSING, f"{told}; записи {top + 1}–"
                               f"{record.signed_size} больше ничем не подтверждены вне базы",
                               record.signed_size)
            return Problem(0, HEADS_MISSING, told)
        if entries == 0 or kept > 0:
            return None
        started = record.first_entry_at if record is not None else None
        if started is None:
            t = self.entries
            first = conn.execute(sa.select(t.c.occurred_at).where(t.c.position == 1)).scalar()
            if first is None:
                return None
            started = _utc(first)
        due = started + timedelta(seconds=head_interval + HEAD_GRACE_SECONDS)
        if _utc(now) <= due:
            return None  # the first head is not due yet
        return Problem(1, HEADS_MISSING, (
            f"{where}, хотя журнал ведётся с {started:%Y-%m-%d %H:%M:%S} UTC, а вершины "
            f"подписываются каждые {head_interval:g} с: вершины удалены или не подписываются; "
            f"записи 1–{entries} ничем не подтверждены вне базы"), entries)

    # ---------------------------------------------------------------- export

    def export(
        self,
        conn: sa.Connection,
        out_path: str | Path,
        from_dt: datetime,
        to_dt: datetime,
        signer: HeadSigner,
        heads_file: HeadsFile | None = None,
        *,
        head: SignedHead | None = None,
    ) -> ExportSummary:
        """Write a self-verifying JSON Lines export of entries with from_dt <= occurred_at < to_dt.

        Layout: header (with the public key), a signed head, optionally a consistency proof
        from the previous signed head, one line per entry with its inclusion proof, and a
        signed manifest (count + digest) so dropped or substituted lines are noticed.

        The head is a fresh one, signed and kept in ``heads_file`` (unless the latest head
        already covers the whole log), or, when ``head`` is given, that existing head: then
        nothing is signed but the manifest, nothing is written anywhere but ``out_path``, and
        the export covers the entries up to ``head.size`` (a read-only export).
        """
        out_path = Path(out_path)
        state = self.head(conn)
        leaves = bytearray()
        expected = 1
        t = self.entries
        for rows in self._pages(conn, [t.c.position, t.c.leaf_hash], 1, 50000):
            for pos, leaf in rows:
                if pos != expected:
                    raise AuditIntegrityError(f"пропуск в журнале на позиции {expected}")
                leaves += leaf
                expected += 1
        tree = MerkleTree(leaves)
        if tree.size != state.size or tree.root() != state.root:
            raise AuditIntegrityError("хэши записей не совпадают с состоянием журнала")

        consistency: dict[str, Any] | None = None
        if head is not None:
            if not verify_head(head, signer.public_key):
                raise AuditIntegrityError(f"подпись вершины размера {head.size} недействительна")
            chain_at = ZERO_HASH if head.size == 0 else conn.execute(
                sa.select(t.c.chain_hash).where(t.c.position == head.size)).scalar()
            if (head.size > tree.size or tree.root(head.size).hex() != head.root_hex
                    or chain_at is None or bytes(chain_at).hex() != head.chain_hex):
                raise AuditIntegrityError(
                    f"журнал не согласован с подписанной вершиной размера {head.size}"
                )
        else:
            previous = heads_file.latest() if heads_file is not None else None
            if previous is not None and verify_head(previous, signer.public_key):
                if (previous.size > tree.size
                        or tree.root(previous.size).hex() != previous.root_hex):
                    raise AuditIntegrityError(
                        f"журнал не согласован с подписанной вершиной размера {previous.size}"
                    )
                if 0 < previous.size < tree.size:
                    consistency = {
                        "type": "consistency",
                        "from_head": previous.to_dict(),
                        "proof": [p.hex() for p in tree.consistency_proof(previous.size)],
                    }
            if previous is not None and previous.size == tree.size and verify_head(
                previous, signer.public_key
            ):
                head = previous
            else:
                head = signer.sign(tree.size, state.root.hex(), state.chain.hex())
                self._keep(head, heads_file)
        covered = head.size

        from_s, to_s = canonical_time(from_dt), canonical_time(to_dt)
        digest = hashlib.sha256()
        count = 0
        tmp = out_path.with_name(out_path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as fh:
            header = {
                "type": "header",
                "format": EXPORT_FORMAT,
                "from": from_s,
                "to": to_s,
                "created_at": datetime.now(UTC).isoformat(),
                "key_id": signer.key_id,
                "public_key_pem": public_key_pem(signer.public_key),
            }
            fh.write(_dumps(header))
            fh.write(_dumps({"type": "head", **head.to_dict()}))
            if consistency is not None:
                fh.write(_dumps(consistency))
            for e in self._iter_between(conn, from_dt, to_dt):
                if e.position > covered:
                    break  # appended after the head (or after we read the leaves): not covered
                leaf = hashlib.sha256(b"\x00" + e.entry_bytes()).digest()
                if leaf != tree.leaf(e.position - 1):
                    raise AuditIntegrityError(f"запись {e.position} изменена в базе")
                count += 1
                digest.update(_manifest_item(count, e.position, leaf))
                fh.write(_dumps({
                    "type": "entry",
                    "seq": count,
                    "position": e.position,
                    "source": e.source,
                    "source_position": e.source_position,
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "occurred_at": canonical_time(e.occurred_at),
                    "aggregate_id": e.aggregate_id,
                    "region": e.region,
                    "municipality": e.municipality,
                    "organisation": e.organisation,
                    "data_b64": base64.b64encode(e.data).decode("ascii"),
                    "leaf_hash": leaf.hex(),
                    "proof": [p.hex() for p in tree.inclusion_proof(e.position - 1, covered)],
                }))
            manifest = {
                "type": "manifest",
                "count": count,
                "entries_digest": digest.hexdigest(),
                "head_size": head.size,
                "head_root": head.root_hex,
                "from": from_s,
                "to": to_s,
                "key_id": signer.key_id,
            }
            manifest["signature_b64"] = signer.sign_bytes(_manifest_message(manifest))
            fh.write(_dumps(manifest))
        tmp.replace(out_path)  # readers never see a half-written export
        return ExportSummary(out_path, count, head)


@dataclass(frozen=True)
class _Checkpoint:
    size: int
    root_hex: str
    chain_hex: str


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _manifest_item(seq: int, position: int, leaf: bytes) -> bytes:
    return f"{seq}:{position}:".encode() + leaf


def _manifest_message(m: dict[str, Any]) -> bytes:
    return b"\n".join(
        str(x).encode()
        for x in (
            EXPORT_DOMAIN.decode(), m["count"], m["entries_digest"], m["head_size"],
            m["head_root"], m["from"], m["to"], m["key_id"],
        )
    )


def check_export(
    path: str | Path, public_key: Ed25519PublicKey | str | bytes | Path | None = None
) -> VerifyResult:
    """Verify an export file on its own. Without ``public_key`` the embedded key is trusted,
    which proves internal consistency only; pass the published key to prove authorship."""
    path = Path(path)
    notes: list[str] = []

    def fail(position: int, code: str, message: str, head: SignedHead | None = None,
             entries: int = 0) -> VerifyResult:
        return VerifyResult(
            ok=False, entries=entries,
            root_hex=head.root_hex if head else "", chain_hex=head.chain_hex if head else "",
            problem=Problem(position, code, message), signed_size=head.size if head else 0,
            notes=tuple(notes),
        )

    with open(path, encoding="utf-8") as fh:
        lines = (json.loads(line) for line in fh if line.strip())
        try:
            header = next(lines)
            head_raw = next(lines)
        except (StopIteration, json.JSONDecodeError):
            return fail(0, HEAD_INVALID, "файл выгрузки повреждён: нет заголовка или вершины")
        if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
            return fail(0, HEAD_INVALID, "неизвестный формат файла выгрузки")
        embedded = load_public_key(header["public_key_pem"])
        if public_key is None:
            key = embedded
            notes.append("ключ взят из самого файла: подтверждена только внутренняя целостность")
        else:
            key = load_public_key(public_key)
            if key_id_of(key) != key_id_of(embedded):
                return fail(0, HEAD_INVALID, "выгрузка подписана не тем ключом, что предъявлен")
        try:
            head = SignedHead.from_dict({k: v for k, v in head_raw.items() if k != "type"})
        except (KeyError, ValueError, TypeError):
            return fail(0, HEAD_INVALID, "вершина в выгрузке повреждена")
        if head_raw.get("type") != "head" or not verify_head(head, key):
            return fail(head.size, HEAD_INVALID, "подпись вершины в выгрузке недействительна")
        root = bytes.fromhex(head.root_hex)

        digest = hashlib.sha256()
        count = 0
        last_pos = 0
        manifest: dict[str, Any] | None = None
        try:
            for line in lines:
                kind = line.get("type")
                if manifest is not None:
                    return fail(last_pos + 1, INSERTED, "строки после манифеста выгрузки", head,
                                count)
                if kind == "consistency":
                    prev = SignedHead.from_dict(
                        {k: v for k, v in line["from_head"].items() if k != "type"}
                    )
                    proof = [bytes.fromhex(p) for p in line["proof"]]
                    if not (verify_head(prev, key) and verify_consistency(
                        prev.size, head.size, bytes.fromhex(prev.root_hex), root, proof
                    )):
                        return fail(prev.size, HEAD_INVALID,
                                    "вершина выгрузки не продолжает прежнюю подписанную вершину",
                                    head, count)
                    notes.append(f"согласована с прежней вершиной размера {prev.size}")
                elif kind == "entry":
                    pos = int(line["position"])
                    seq = int(line["seq"])
                    if seq != count + 1:
                        code = DELETED if seq > count + 1 else INSERTED
                        return fail(pos, code,
                                    f"в выгрузке нарушена нумерация строк: ожидалась {count + 1}, "
                                    f"найдена {seq} (позиция журнала {pos})", head, count)
                    if pos <= last_pos:
                        code = INSERTED if pos == last_pos else REORDERED
                        return fail(pos, code, f"позиция {pos} идёт после {last_pos}", head, count)
                    entry_bytes = encode_entry(
                        source=line["source"], source_position=int(line["source_position"]),
                        event_id=line["event_id"], event_type=line["event_type"],
                        occurred_at=datetime.fromisoformat(line["occurred_at"]),
                        aggregate_id=line["aggregate_id"], region=line["region"],
                        municipality=line["municipality"], organisation=line["organisation"],
                        data=base64.b64decode(line["data_b64"], validate=True),
                    )
                    leaf = hashlib.sha256(b"\x00" + entry_bytes).digest()
                    proof = [bytes.fromhex(p) for p in line["proof"]]
                    if not verify_inclusion(leaf, pos - 1, head.size, proof, root):
                        return fail(pos, EDITED,
                                    f"запись {pos} в выгрузке изменена: доказательство включения "
                                    "не сходится с подписанной вершиной", head, count)
                    count += 1
                    last_pos = pos
                    digest.update(_manifest_item(seq, pos, leaf))
                elif kind == "manifest":
                    manifest = line
                else:
                    return fail(last_pos + 1, INSERTED, f"неизвестная строка выгрузки: {kind}",
                                head, count)
        except (KeyError, ValueError, TypeError) as exc:
            return fail(last_pos + 1, EDITED, f"строка выгрузки после позиции {last_pos} "
                        f"повреждена: {exc}", head, count)

    if manifest is None:
        return fail(last_pos + 1, TRUNCATED, "выгрузка обрезана: нет подписанного манифеста",
                    head, count)
    if not verify_signature(key, _manifest_message(manifest), manifest.get("signature_b64", "")):
        return fail(0, HEAD_INVALID, "подпись манифеста выгрузки недействительна", head, count)
    if manifest["head_size"] != head.size or manifest["head_root"] != head.root_hex:
        return fail(0, HEAD_INVALID, "манифест относится к другой вершине", head, count)
    if manifest["count"] != count:
        code = TRUNCATED if manifest["count"] > count else INSERTED
        return fail(last_pos + 1, code,
                    f"в выгрузке {count} записей, а в подписанном манифесте {manifest['count']}",
                    head, count)
    if manifest["entries_digest"] != digest.hexdigest():
        return fail(0, MANIFEST_MISMATCH,
                    "набор записей выгрузки не совпадает с подписанным манифестом", head, count)
    return VerifyResult(
        ok=True, entries=count, root_hex=head.root_hex, chain_hex=head.chain_hex,
        signed_size=head.size, notes=tuple(notes),
    )
