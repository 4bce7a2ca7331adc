"""Idempotent, in-order consumers: a read model and its stream position change in one transaction.

Replicas of a service share the work: each (projection, stream) has ONE durable pull consumer,
bound by every replica that shares the read model's database, and each fetched batch goes to
exactly one of them. The durable admits one waiting pull request at a time, so messages are
dealt to one replica at a time, in stream order, and at most two batches are out
(``max_ack_pending``): one being applied, the next already fetched and waiting its turn. A replica
that dies holding a batch leaves it to come back to another after ``ack_wait``.

The database position stays the truth. A message at or below it is acknowledged and skipped; a
message that does not directly follow it (a gap: another replica still holds the batch before it)
is never applied: the replica waits a moment for the predecessor's commit, then gives the batch
back. When the durable has acknowledged more than the database holds (the read model was rebuilt
or restored), or its configuration changed, it is deleted and created again from the position.

Why this runs on nats-py rather than as a FastStream subscriber: ``docs/events.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import nats.errors
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from shared import signing
from shared.contracts import Envelope, publisher_of, stream_name, stream_subjects
from shared.databases import create_tables
from shared.logging import get_logger
from shared.memory import bulk_work
from shared.metrics import CONSUMER_LAG, EVENTS_CONSUMED, error
from shared.pull import DurablePull, _nak, _wait, durable_for

log = get_logger(__name__)

#: Past it, a batch not acknowledged goes to another replica: what a dead replica held waits this
#: long. A batch still being applied then is harmless: its second commit applies nothing.
ACK_WAIT_SECONDS = 10.0
#: How long a replica holding a batch out of turn waits for the batch before it to be committed.
GAP_WAIT_SECONDS = 1.0
#: The first look again is quick (a replica's commit takes milliseconds), later ones slower.
GAP_POLL_SECONDS = (0.005, 0.05)
FETCH_SECONDS = 0.5
#: How often a consumer looks again for a stream its owner has not declared yet.
STREAM_WAIT_SECONDS = 0.5
TURNED_AWAY_SECONDS = 0.05
#: An idle replica refreshes the lag from the durable at most this often (one API call each).
LAG_REFRESH_SECONDS = 2.0
#: Only removes durables nobody binds any more (their database was replaced); a live one is
#: always pulled from, and one removed after a long stop is recreated from the database position.
DURABLE_INACTIVE_SECONDS = 7 * 24 * 3600.0

metadata = sa.MetaData()
consumer_positions = sa.Table(
    "consumer_positions", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("stream", sa.String(100), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)
# The durable's name lives with the read model: replicas sharing the database share the durable,
# while another deployment (or another test) on the same NATS, with a database of its own, never
# takes their messages.
consumer_durables = sa.Table(
    "consumer_durables", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("stream", sa.String(100), primary_key=True),
    sa.Column("durable", sa.String(100), nullable=False),
)
#: Messages refused as forged (shared.signing): kept with the reason, never applied. The stored
#: bytes are what an attacker sent, for the investigation; they count as the read model's.
event_quarantine = sa.Table(
    "event_quarantine", metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("stream", sa.String(100), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
)
#: Consumers running in this process, for the /ready check (shared.host).
_RUNNING: weakref.WeakSet[ConsumerRunner] = weakref.WeakSet()


def running_consumers() -> list[ConsumerRunner]:
    return list(_RUNNING)


class Projection(Protocol):
    """A read model fed by events. ``apply`` runs inside the caller's transaction."""

    name: str
    sources: tuple[str, ...]

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None: ...


def read_position(conn: sa.Connection, consumer: str, stream: str) -> int:
    value = conn.execute(
        sa.select(consumer_positions.c.last_seq).where(
            consumer_positions.c.consumer == consumer, consumer_positions.c.stream == stream)
    ).scalar()
    return int(value or 0)


def write_position(conn: sa.Connection, consumer: str, stream: str, last_seq: int) -> None:
    updated = conn.execute(
        consumer_positions.update()
        .where(consumer_positions.c.consumer == consumer, consumer_positions.c.stream == stream)
        .values(last_seq=last_seq)
    )
    if updated.rowcount == 0:
        conn.execute(consumer_positions.insert().values(
            consumer=consumer, stream=stream, last_seq=last_seq))


class ConsumerRunner:
    def __init__(self, engine: sa.Engine, js: JetStreamContext, projection: Projection,
                 batch: int = 500, filter_subject: str | None = None,
                 ack_wait: float = ACK_WAIT_SECONDS, gap_wait: float = GAP_WAIT_SECONDS,
                 keyring: signing.Keyring | None = None, service: str | None = None,
                 on_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        #: The service whose read model this is: its name leads the durable's (``durable_for``).
        self.service = service
        #: Called on the loop after a batch's commit applied events: a follower of the read
        #: model (the dashboards follow the audit log) wakes then instead of polling.
        self.on_commit = on_commit
        self.keyring = keyring or signing.current()
        self.progress_at = time.monotonic()
        self.failing: str | None = None
        self.js = js
        self.projection = projection
        self.batch = batch
        # Two batches out at most: one being applied, the next fetched whole by another replica
        # (with one, it would be dealt the first batch's slots one by one as they are acked).
        self.window = 2 * batch
        self.filter_subject = filter_subject
        self.ack_wait = ack_wait
        self.gap_wait = gap_wait
        self.applied_total = 0
        create_tables(metadata, engine)

    def position(self, source: str) -> int:
        with self.engine.connect() as conn:
            return read_position(conn, self.projection.name, stream_name(source))

    def durable_name(self, source: str) -> str:
        """The durable of this read model on the stream: :func:`durable_for`, recorded with the
        read model. A database from before durables were named by their service still records
        a random name: the row takes the new one and the durable is created anew from the
        database's position (the truth); the old durable, bound by nobody, is removed by the
        server after ``DURABLE_INACTIVE_SECONDS`` (the service may no longer delete it)."""
        stream = stream_name(source)
        name = self.projection.name
        wanted = durable_for(self.service, name)
        where = (consumer_durables.c.consumer == name, consumer_durables.c.stream == stream)
        for attempt in range(3):
            try:
                with self.engine.begin() as conn:
                    durable = conn.execute(sa.select(consumer_durables.c.durable).where(*where)).scalar()
                    if durable is None:
                        conn.execute(consumer_durables.insert().values(
                            consumer=name, stream=stream, durable=wanted))
                    elif durable != wanted:
                        conn.execute(consumer_durables.update().where(*where).values(durable=wanted))
                        log.info("consumer.durable_renamed", consumer=name, stream=stream,
                                 old=durable, new=wanted)
                    # A position row from the start: every commit then locks an existing row.
                    if conn.execute(sa.select(consumer_positions.c.last_seq).where(
                            consumer_positions.c.consumer == name,
                            consumer_positions.c.stream == stream)).first() is None:
                        conn.execute(consumer_positions.insert().values(
                            consumer=name, stream=stream, last_seq=0))
                    return wanted
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
                # Another replica named it at the same moment: the next round reads theirs.
        raise AssertionError("unreachable")

    def _alive(self) -> None:  # the server answered a pull, if only to say it still waits
        self.progress_at = time.monotonic()

    def stalled(self, after: float) -> str | None:
        """Why this consumer is stuck, once it made no progress for ``after`` seconds."""
        if time.monotonic() - self.progress_at < after:
            return None
        return self.failing or f"no fetch completed for {after:.0f}s"

    def _commit(self, stream: str, batch: list[tuple[int, Envelope | Msg]],
                after: int | None = None) -> int | None:
        """Apply what the database does not hold yet; the number applied, or None when the
        position went back below ``after`` (the read model was reset under this batch)."""
        # The turn before the database's write lock, as every bulk work takes them: a turn
        # waited for while holding the lock could wait on a holder that waits for the lock.
        with bulk_work():
            return self._commit_in_turn(stream, batch, after)

    def _commit_in_turn(self, stream: str, batch: list[tuple[int, Envelope | Msg]],
                        after: int | None) -> int | None:
        name = self.projection.name
        where = (consumer_positions.c.consumer == name, consumer_positions.c.stream == stream)
        with self.engine.begin() as conn:
            # Touching the row first takes the row lock (PostgreSQL) or the write lock (SQLite,
            # where SELECT ... FOR UPDATE means nothing): a replica committing an overlapping,
            # redelivered batch waits here and then sees this commit.
            conn.execute(consumer_positions.update().where(*where)
                         .values(last_seq=consumer_positions.c.last_seq))
            committed = conn.execute(sa.select(consumer_positions.c.last_seq).where(*where)).scalar() or 0
            if after is not None and committed < after:
                return None
            # Whatever another runner (or an earlier attempt) committed is not applied twice.
            newer = [(seq, item) for seq, item in batch if seq > committed]
            if not newer:
                return 0
            fresh = [item for _, item in newer if isinstance(item, Envelope)]
            if fresh:
                # A batch's objects die with it: no collector pause walks them meanwhile.
                with bulk_work():
                    self.projection.apply(conn, fresh)
            self._quarantine(conn, stream, [(seq, m) for seq, m in newer if not isinstance(m, Envelope)])
            write_position(conn, name, stream, batch[-1][0])
        EVENTS_CONSUMED.labels(name, stream).inc(len(fresh))
        return len(fresh)

    def _check_all(self, source: str, chain: list[tuple[int, Msg]]) -> list[tuple[int, Envelope | Msg]]:
        with bulk_work():
            return [(seq, self._check(source, m)) for seq, m in chain]

    def _check(self, source: str, message: Msg) -> Envelope | Msg:
        """The envelope, or the message itself when it is forged (quarantined on commit)."""
        try:
            return self.keyring.check(publisher_of(source), message.subject, message.data,
                                      message.headers)
        except signing.ForgedEvent as forged:
            message.forged_reason = forged.reason  # type: ignore[attr-defined]
            return message

    def _quarantine(self, conn: sa.Connection, stream: str, forged: list[tuple[int, Msg]]) -> None:
        for seq, message in forged:
            reason = getattr(message, "forged_reason", "forged")
            conn.execute(event_quarantine.insert().values(
                consumer=self.projection.name, stream=stream, seq=seq, subject=message.subject[:300],
                reason=reason, data=message.data, quarantined_at=datetime.now(UTC)))
            # The alarm: an event nobody signed is an attack or a broken publisher.
            log.error("consumer.event_quarantined", consumer=self.projection.name, stream=stream,
                      seq=seq, subject=message.subject, reason=reason)
            signing.EVENTS_QUARANTINED.labels(self.projection.name, stream, reason).inc()

    # --- the durable ---------------------------------------------------------------------------

    def _subject(self, source: str) -> str:
        return self.filter_subject or stream_subjects(source)[0]

    def _config(self, durable: str, subject: str, after: int) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
            opt_start_seq=after + 1 if after else None,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_ack_pending=self.window,
            filter_subject=subject,
            inactive_threshold=DURABLE_INACTIVE_SECONDS,
            max_waiting=1,
        )

    def _differs(self, config: ConsumerConfig, subject: str) -> bool:
        wanted = (subject, AckPolicy.EXPLICIT.value, float(self.ack_wait), self.window, 1)
        policy = config.ack_policy
        have = (config.filter_subject, policy.value if isinstance(policy, AckPolicy) else policy,
                float(config.ack_wait or 0), config.max_ack_pending, config.max_waiting)
        return have != wanted

    async def _info(self, stream: str, durable: str) -> ConsumerInfo | None:
        try:
            return await self.js.consumer_info(stream, durable)
        except NotFoundError:
            return None

    async def _bind(self, source: str) -> tuple[DurablePull, str]:
        """Bind to the durable, (re)creating it from the database position when it is missing,
        ahead of the database, or configured otherwise."""
        stream = stream_name(source)
        subject = self._subject(source)
        durable = await asyncio.to_thread(self.durable_name, source)
        for attempt in range(5):
            info = await self._info(stream, durable)
            # Read after the info: a commit always precedes its ack, so a floor ahead of this
            # position cannot be a replica's commit landing in between.
            position = await asyncio.to_thread(self.position, source)
            if info is not None:
                ahead = info.ack_floor is not None and info.ack_floor.stream_seq > position
                if not ahead and not self._differs(info.config, subject):
                    self._set_lag(stream, info)
                    return await DurablePull(self.js, stream, durable, self._alive).open(), durable
                log.info("consumer.recreate", consumer=self.projection.name, stream=stream,
                         durable=durable, position=position, ahead=ahead)
                with contextlib.suppress(NotFoundError):
                    await self.js.delete_consumer(stream, durable)
            try:
                info = await self.js.add_consumer(stream, self._config(durable, subject, position))
            except APIError as exc:
                # Another replica created it a moment before, perhaps from another position:
                # look again.
                log.info("consumer.create_raced", consumer=self.projection.name, error=repr(exc))
                if attempt == 4:
                    raise
                continue
            self._set_lag(stream, info)
            return await DurablePull(self.js, stream, durable, self._alive).open(), durable
        raise AssertionError("unreachable")

    async def _await_stream(self, stream: str, stop: asyncio.Event | None) -> bool:
        """Wait for the stream to exist; False when stopped first. Only its owner declares it
        (``shared.bus.ensure_streams``): a service started before the owner waits for it,
        fetching nothing and failing nothing meanwhile (not a stall: nothing is there to read)."""
        waited = False
        while stop is None or not stop.is_set():
            try:
                await self.js.stream_info(stream)
                if waited:
                    log.info("consumer.stream_found", consumer=self.projection.name, stream=stream)
                return True
            except NotFoundError:
                if not waited:
                    log.warning("consumer.stream_missing", consumer=self.projection.name,
                                stream=stream, reason="not declared by its owner yet")
                waited = True
                self.progress_at = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_wait(stop), timeout=STREAM_WAIT_SECONDS)
        return False

    def _set_lag(self, stream: str, info: ConsumerInfo) -> None:
        # Not yet delivered plus delivered but not acknowledged: the whole service's backlog.
        CONSUMER_LAG.labels(self.projection.name, stream).set(
            (info.num_pending or 0) + (info.num_ack_pending or 0))

    async def _follows(self, stream: str, subject: str, previous: int, seq: int) -> bool:
        """Is ``seq`` the next message after ``previous`` this consumer can see? Asked of the
        stream only on a jump (a filtered stream, deleted messages, or a real gap)."""
        if seq == previous + 1:
            return True
        try:
            found = await self.js.get_msg(stream, seq=previous + 1, subject=subject, next=True)
        except NotFoundError:
            return False
        return found.seq == seq

    async def _await_position(self, source: str, position: int, stop: asyncio.Event | None) -> int:
        """The position once it moves off ``position``, or as it is after ``gap_wait``."""
        deadline = time.monotonic() + self.gap_wait
        interval, longest = GAP_POLL_SECONDS
        while True:
            now = await asyncio.to_thread(self.position, source)
            if now != position or time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return now
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, longest)

    async def _handle(self, source: str, durable: str, messages: list[Msg],
                      stop: asyncio.Event | None) -> tuple[int, str]:
        """Apply one fetched batch in order: (applied, "ok" | "gap" | "reseek")."""
        stream = stream_name(source)
        # Redeliveries may arrive out of stream order; within a batch, order is restored here.
        held = sorted({m.metadata.sequence.stream: m for m in messages}.items())
        applied = 0
        try:
            position = await asyncio.to_thread(self.position, source)
            while held:
                chain = await self._chain(stream, self._subject(source), position, held)
                if chain:
                    # Checking signatures of a large batch is too long for the loop.
                    envelopes = await asyncio.to_thread(self._check_all, source, chain)
                    result = await asyncio.to_thread(self._commit, stream, envelopes, position)
                    if result is None:  # the read model was reset meanwhile: judge the batch again
                        position = await asyncio.to_thread(self.position, source)
                        continue
                    applied += result
                    self.applied_total += result
                    if result and self.on_commit is not None:
                        self.on_commit()
                    position = chain[-1][0]
                # Everything at or below the position is in the read model: done with.
                for _, message in (item for item in held if item[0] <= position):
                    await message.ack()
                held = [(seq, m) for seq, m in held if seq > position]
                if not held:
                    return applied, "ok"
                # A gap: another replica holds the messages before these, or the durable is ahead
                # of the read model. Wait for that replica's commit; if none comes, find out which.
                moved = await self._await_position(source, position, stop)
                if moved != position:
                    position = moved
                    continue
                log.info("consumer.gap", consumer=self.projection.name, stream=stream,
                         position=position, first=held[0][0])
                error("consumer", "gap")
                info = await self._info(stream, durable)
                current = await asyncio.to_thread(self.position, source)
                if info is None or (info.ack_floor is not None and info.ack_floor.stream_seq > current):
                    return applied, "reseek"  # what it holds belongs to a durable about to go
                await _nak([m for _, m in held])
                return applied, "gap"
            return applied, "ok"
        except BaseException:
            # Failed or cancelled: the batch goes back at once rather than after ack_wait.
            await _nak([m for _, m in held])
            raise

    async def _chain(self, stream: str, subject: str, position: int,
                     held: list[tuple[int, Msg]]) -> list[tuple[int, Msg]]:
        """The held messages that directly follow the position, one after another."""
        chain: list[tuple[int, Msg]] = []
        previous = position
        for seq, message in held:
            if seq <= position:
                continue
            if not await self._follows(stream, subject, previous, seq):
                break
            chain.append((seq, message))
            previous = seq
        return chain

    async def consume(self, source: str, stop: asyncio.Event | None = None,
                      until_caught_up: bool = False) -> int:
        """Apply the stream's events in order. With ``until_caught_up``, return when none pend."""
        stream = stream_name(source)
        applied = 0
        while stop is None or not stop.is_set():
            if not await self._await_stream(stream, stop):
                return applied
            pull, durable = await self._bind(source)
            lag_at = time.monotonic()
            backoff = TURNED_AWAY_SECONDS
            # Caught up is known from a request that ends soon; others wait for the next message.
            expires = FETCH_SECONDS if until_caught_up else None
            interrupting = asyncio.create_task(pull.interrupt_on(stop))
            try:
                while stop is None or not stop.is_set():
                    messages, turned_away = await pull.fetch(self.batch, expires)
                    self.progress_at, self.failing = time.monotonic(), None
                    if not messages:
                        if turned_away:
                            # Another replica's request waits: ask again soon, less often idle.
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(_wait(stop), timeout=backoff)
                            backoff = min(backoff * 2, FETCH_SECONDS)
                        if not until_caught_up and time.monotonic() - lag_at < LAG_REFRESH_SECONDS:
                            continue
                        # Nothing here, but another replica may hold a batch: ask the durable.
                        info = await self._info(stream, durable)
                        if info is None:
                            break  # deleted (another replica re-seeks it): bind again
                        self._set_lag(stream, info)
                        lag_at = time.monotonic()
                        if until_caught_up and not info.num_pending and not info.num_ack_pending:
                            return applied
                        continue
                    backoff = TURNED_AWAY_SECONDS
                    done, outcome = await self._handle(source, durable, messages, stop)
                    applied += done
                    CONSUMER_LAG.labels(self.projection.name, stream).set(
                        messages[-1].metadata.num_pending)
                    lag_at = time.monotonic()
                    if outcome == "reseek":
                        break  # binding again finds the durable ahead and recreates it
                    if until_caught_up and outcome == "ok" and messages[-1].metadata.num_pending == 0:
                        return applied
            finally:
                interrupting.cancel()
                await pull.close()
        return applied

    async def run(self, stop: asyncio.Event) -> None:
        _RUNNING.add(self)
        self.progress_at = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    await asyncio.gather(*(self.consume(s, stop) for s in self.projection.sources))
                except (nats.errors.Error, TimeoutError, ConnectionError) as exc:
                    log.warning("consumer.retry", consumer=self.projection.name, error=repr(exc))
                    self.failing = repr(exc)
                    error("consumer", exc)
                    await asyncio.sleep(0.5)
        finally:
            _RUNNING.discard(self)
