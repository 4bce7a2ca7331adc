"""Feeds the audit log from JetStream and signs its heads.

``AuditFeeder`` is a ``shared.consumer`` projection: the ConsumerRunner commits each stream's
position in the same transaction as the appended entries, so a crash can neither log an event
twice nor skip one. ``HeadSigningLoop`` signs a head whenever the log grew (and on demand),
appends it to the heads file outside the database and announces it on NATS. ``AuditReader``
is the log as a reader opens it (``audit verify``, an auditor's copy): nothing is created.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import nats.errors
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nats.aio.client import Client

from shared.bus import AUDIT_HEADS_SUBJECT
from shared.contracts import SOURCES, Envelope
from shared.logging import get_logger
from shared.loops import periodic, wait_any
from shared.settings import Settings
from shared.store import view_engine

from .checkpoint import NoteSigner, SignedNote
from .checkpoint_stream import publish_checkpoint
from .heads import (
    AuditKeyMissing,
    HeadsFile,
    HeadSigner,
    SignedHead,
    create_key,
    load_private_key,
    load_signing_key,
)
from .proofs import note_of, origin_of
from .store import AuditEnvelope, AuditStore

log = get_logger(__name__)

SERVICE = "monitoring"
FEEDER_NAME = "audit-log"
HEADS_FILE_NAME = "audit-heads.jsonl"
KEY_FILE_NAME = "audit-head.key"
#: The file ``shared.store.view_engine`` keeps the monitoring tables in on SQLite.
VIEWS_FILE_NAME = "views.sqlite"


def audit_envelope(envelope: Envelope) -> AuditEnvelope:
    """The log keeps the canonical bytes that were published, plus the columns it indexes."""
    return AuditEnvelope(
        data=envelope.to_bytes(),
        source=envelope.source,
        source_position=envelope.source_position,
        event_id=str(envelope.event_id),
        event_type=envelope.type,
        occurred_at=envelope.occurred_at,
        aggregate_id=str(envelope.aggregate_id),
        region=envelope.org.region,
        municipality=envelope.org.municipality,
        organisation=envelope.org.organisation,
    )


class AuditFeeder:
    """Appends every envelope of every stream, in delivery order, to the audit log."""

    name = FEEDER_NAME
    sources: tuple[str, ...] = SOURCES

    def __init__(self, store: AuditStore) -> None:
        self.store = store

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        self.store.append_batch(conn, [audit_envelope(e) for e in envelopes])


def write_engine(settings: Settings) -> sa.Engine:
    """The monitoring engine for writers.

    Several consumer loops write to one SQLite file; a deferred transaction that read first and
    writes second fails at once with "database is locked" (SQLite does not wait in that case).
    ``BEGIN IMMEDIATE`` takes the write lock up front, so writers queue on the busy timeout.
    """
    engine = view_engine(settings, SERVICE)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def key_path_of(settings: Settings) -> Path:
    # Built, not asked of Settings: its accessors create the folders they name.
    return settings.data_dir / "secrets" / KEY_FILE_NAME


def init_key(settings: Settings, exist_ok: bool = False) -> tuple[Path, bool]:
    """The explicit step that creates the log's signing key; (path, created).

    ``exist_ok`` is for the documented first start of embedded mode and test fixtures: a key
    already there is kept, never replaced."""
    path = key_path_of(settings)
    try:
        create_key(path)
    except FileExistsError:
        if not exist_ok:
            raise
        load_private_key(path)  # a broken file is an error here, not at the first head
        return path, False
    return path, True


@dataclass
class AuditLog:
    """Everything one deployment's audit log consists of, found from the settings.

    The signing key must exist (``init_key``): opening refuses with ``AuditKeyMissing``
    unless ``signing=False`` (a rebuild that only reads the entries)."""

    store: AuditStore
    _signer: HeadSigner | None
    heads: HeadsFile
    key_path: Path
    origin: str = origin_of("demo")

    @classmethod
    def open(cls, settings: Settings, engine: sa.Engine | None = None, *,
             signing: bool = True) -> AuditLog:
        key_path = key_path_of(settings)
        # The key first: a refusal leaves nothing behind (no schema, no folder).
        signer = HeadSigner(load_signing_key(key_path)) if signing else None
        store = AuditStore(engine or view_engine(settings, SERVICE), zone=settings.zone)
        store.create_schema()
        heads = HeadsFile(settings.service_dir(SERVICE) / HEADS_FILE_NAME)
        return cls(store, signer, heads, key_path, origin_of(settings.region))

    def checkpoint_note(self, head: SignedHead) -> SignedNote:
        """The head as a C2SP checkpoint, signed by the same key (``checkpoint.py``)."""
        return note_of(head, NoteSigner(self.origin, self.signer.private_key))

    @property
    def signer(self) -> HeadSigner:
        if self._signer is None:
            raise AuditKeyMissing(self.key_path)
        return self._signer

    def size(self) -> int:
        with self.store.engine.connect() as conn:
            return self.store.head(conn).size

    def sign_head(self) -> SignedHead:
        with self.store.engine.connect() as conn:
            return self.store.sign_head(conn, self.signer, self.heads)


@dataclass
class AuditReader:
    """The deployment's log opened for reading only: no schema, no key, no head is created.

    On SQLite the database is opened read-only (``mode=ro``), so not even a stray write can
    reach it; a log that does not exist yet reads as an empty one (kept in memory). The public
    key is the one given (an auditor's own copy) or else the deployment's, when its private key
    file is at hand; None when neither is.
    """

    store: AuditStore
    heads: HeadsFile
    public_key: Ed25519PublicKey | None

    @classmethod
    def open(cls, settings: Settings, public_key: Ed25519PublicKey | None = None) -> AuditReader:
        # Paths are built, not asked of Settings: its accessors create the folders they name.
        service_dir = settings.data_dir / SERVICE
        if public_key is None:
            key_path = settings.data_dir / "secrets" / KEY_FILE_NAME
            if key_path.exists():
                public_key = load_private_key(key_path).public_key()
        heads = HeadsFile(service_dir / HEADS_FILE_NAME)
        store: AuditStore | None = None
        path = service_dir / VIEWS_FILE_NAME
        if settings.uses_postgres:
            store = AuditStore(view_engine(settings, SERVICE))
        elif path.exists():
            store = AuditStore(sa.create_engine(
                f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true",
                connect_args={"timeout": 30}))
        if store is not None and not _has_log(store):
            store.engine.dispose()
            store = None
        if store is None:
            store = AuditStore(sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool))
            store.create_schema()  # in memory only: the empty log nobody has written yet
        return cls(store, heads, public_key)

    def close(self) -> None:
        self.store.engine.dispose()


def _has_log(store: AuditStore) -> bool:
    with store.engine.connect() as conn:
        return store.exists(conn)


class HeadSigningLoop:
    """Signs a head every ``interval`` seconds when the log grew, or at once on ``request()``.

    ``request()`` may be called from any thread; ``sign_now()`` (on the loop's event loop)
    requests a head and waits for it, for on-demand signing over HTTP.
    """

    def __init__(self, audit: AuditLog, interval: float = 10.0) -> None:
        self.audit = audit
        self.interval = interval
        self.wake = asyncio.Event()
        latest = audit.heads.latest()
        self.signed_size = latest.size if latest is not None else 0
        self.last_head: SignedHead | None = latest
        self._loop: asyncio.AbstractEventLoop | None = None  # set while run() runs
        self._waiters: list[asyncio.Future[SignedHead | None]] = []

    @property
    def running(self) -> bool:
        return self._loop is not None

    def request(self) -> None:
        """Sign a head now (even if the log did not grow); safe from any thread."""
        loop = self._loop
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is not None and current is not loop:
            # asyncio.Event is not thread-safe: set it on the loop that waits on it.
            loop.call_soon_threadsafe(self.wake.set)
        else:
            self.wake.set()

    async def sign_now(self, timeout: float) -> SignedHead | None:
        """Request a head and wait for it; None if the loop is not running, failed or is slow.

        Must run on the loop's own event loop (an ``async`` route of the same app)."""
        if self._loop is None or self._loop is not asyncio.get_running_loop():
            return None
        waiter: asyncio.Future[SignedHead | None] = self._loop.create_future()
        self._waiters.append(waiter)
        self.request()
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return None
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def sign_if_grown(self, force: bool = False) -> SignedHead | None:
        if not force and self.audit.size() <= self.signed_size:
            return None
        head = self.audit.sign_head()
        self.signed_size = head.size
        self.last_head = head
        return head

    async def run(self, nc: Client | None, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                waking = asyncio.create_task(self.wake.wait())
                await asyncio.wait({waking, stopping}, timeout=self.interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                waking.cancel()
                if stop.is_set():
                    break
                forced = self.wake.is_set()
                self.wake.clear()
                await self._sign_and_publish(nc, forced)
            # A last head on the way out, so the heads file covers everything logged.
            await self._sign_and_publish(None, bool(self._waiters))
        finally:
            stopping.cancel()
            self._loop = None
            self._answer(self._waiters, None)

    @staticmethod
    def _answer(waiters: list[asyncio.Future[SignedHead | None]],
                head: SignedHead | None) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(head)

    async def _sign_and_publish(self, nc: Client | None, forced: bool) -> None:
        # Those who asked before this signing starts get its head; later ones wait for the next
        # (the wake event is set again by their request, so it follows at once).
        waiters, self._waiters = self._waiters, []
        try:
            head = await asyncio.to_thread(self.sign_if_grown, forced or bool(waiters))
        except (sa.exc.DBAPIError, OSError) as exc:
            log.warning("audit.head_failed", error=repr(exc))
            self._answer(waiters, None)
            return
        self._answer(waiters, head)
        if head is None:
            return
        log.debug("audit.head_signed", size=head.size, root=head.root_hex[:16])
        if nc is not None and nc.is_connected:
            try:
                await nc.publish(AUDIT_HEADS_SUBJECT, head.to_json().encode())
            except (nats.errors.Error, OSError) as exc:
                # The heads file is the anchor; the NATS copy is a courtesy to watchers.
                log.warning("audit.head_publish_failed", error=repr(exc))
            try:  # the checkpoint, for witnesses: kept for good in a stream of its own
                await publish_checkpoint(nc, self.audit.checkpoint_note(head))
            except (nats.errors.Error, OSError) as exc:
                log.warning("audit.checkpoint_publish_failed", error=repr(exc))


#: An idle log is checkpointed this often at most (writes wake the checkpointer).
IDLE_CHECKPOINT_SECONDS = 3600.0


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file from a loop of its own.

    By default the commit that grows that log past 1,000 pages copies them into the database
    file and syncs it, holding up whichever writer it happens to be. Each audit entry dirties
    pages of its own in the random-id indexes (about 2.7 pages an entry), so at 1,000 events/s
    that came every half second and stalled the feeder, and the events behind it, for up to
    0.6 s on a 1M-entry log. Here the writers only append to the write-ahead log, and a passive
    checkpoint every ``interval`` seconds, off their path, copies what they wrote; it waits for
    no reader or writer.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.checkpoints = 0
        #: Something was written since the last round: an idle log is neither looked at nor
        #: woken for (a look twice a second was a good part of an idle system's CPU).
        self.dirty = asyncio.Event()
        self.dirty.set()

    def written(self) -> None:
        """The writers committed (called on the loop); a round copies it ``interval`` later."""
        self.dirty.set()

    @classmethod
    def of(cls, engine: sa.Engine, interval: float = 0.5) -> WalCheckpointer | None:
        """Set up for the writers of ``engine``; None when it is not SQLite."""
        if engine.dialect.name != "sqlite":
            return None

        @sa.event.listens_for(engine, "connect")
        def _no_checkpoint_on_commit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

        return cls(interval)

    def checkpoint(self, engine: sa.Engine) -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        self.checkpoints += 1

    async def run(self, stop: asyncio.Event, engine: sa.Engine) -> None:
        """A round ``interval`` after the first write since the last one, until ``stop``; a
        failed round (say, busy) is copied by the next."""
        async def round_after_writes() -> None:
            await wait_any(stop, timeout=self.interval)  # later writes go in the same round
            await asyncio.to_thread(self.checkpoint, engine)

        await periodic("monitoring-checkpoint", round_after_writes, IDLE_CHECKPOINT_SECONDS, stop,
                       self.dirty)
