"""The outbox relay: publishes every stored event exactly once, in order, after it is stored.

The service's notification log (written in the same transaction as the events) is the outbox.
The stream itself records how far the relay got: its last message carries the position it came
from. Every publish says which stream sequence it expects to follow
(``Nats-Expected-Last-Sequence``), so a message can neither be stored twice nor overtake a lost
one, even with hundreds in flight, a crash at any point, or two relays racing on one store.
``Nats-Msg-Id`` (the event id) de-duplicates retries as a second line of defence.

With several replicas of a service, one relay per event store holds a lease (a key with a TTL in
a NATS KV bucket) and publishes; the others stand by and take over when it lapses. The lease is
an efficiency measure only: the expected-sequence guard stays the safety net when two relays
overlap (a paused holder waking up after its lease expired).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from shared import signing
from shared.contracts import (
    EXPECTED_LAST_SEQUENCE_HEADER,
    MESSAGE_ID_HEADER,
    POSITION_HEADER,
    Envelope,
    stream_name,
)
from shared.logging import get_logger
from shared.loops import wait_any
from shared.memory import bulk_work
from shared.metrics import EVENTS_PUBLISHED, RELAY_LEASE_HELD, RELAY_PUBLISHED_POSITION, error, watch_stored
from shared.store import ServiceApplication

log = get_logger(__name__)
TRACEPARENT_HEADER = "traceparent"


LEASE_BUCKET = "nastavnik_relay_leases"


class RelayInterrupted(Exception):
    """Some publishes of a batch were refused; the stream tail is the truth to resume from."""


class EventTooLarge(RelayInterrupted):
    """A stored event is larger than the server accepts (``max_payload``). Publishing stops
    before it, since events leave in order; the store refuses such events at command time, so
    only a store written before that check (or a server configured tighter) can hold one, and
    the cure is the operator's: raise the server's ``max_payload``."""

    def __init__(self, envelope: Envelope, size: int, limit: int) -> None:
        super().__init__(f"event at position {envelope.source_position} ({envelope.type}) is "
                         f"{size} bytes, the server accepts {limit}")
        self.position = envelope.source_position
        self.type = envelope.type
        self.size = size
        self.limit = limit


#: Room left for the headers a publish carries (message id, position, expected sequence, trace).
HEADERS_ALLOWANCE_BYTES = 512


class RelayLease:
    """Who publishes a store: the replica whose key in the lease bucket has not expired.

    The holder rewrites its key every third of the TTL (compare-and-set on the revision it
    wrote); a stand-by tries to create the key, which succeeds only once it has expired or was
    released. A holder that cannot refresh in time loses the lease on its next attempt.
    """

    def __init__(self, js: JetStreamContext, key: str, holder: str, ttl: float,
                 replicas: int = 1) -> None:
        self.js = js
        self.key = key
        self.holder = holder.encode()
        self.ttl = ttl
        self.replicas = replicas
        self.revision: int | None = None
        self.refreshed = 0.0
        self._kv: KeyValue | None = None

    @property
    def standby_seconds(self) -> float:
        return max(self.ttl / 4, 0.05)

    async def bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(LEASE_BUCKET)
            except BucketNotFoundError:
                self._kv = await self.js.create_key_value(KeyValueConfig(
                    bucket=LEASE_BUCKET, history=1, ttl=self.ttl, storage=StorageType.FILE,
                    replicas=self.replicas, description="Аренда ретранслятора outbox"))
        return self._kv

    async def acquire(self) -> bool:
        """True while this replica holds the lease, refreshing it when a third of the TTL passed."""
        now = time.monotonic()
        if self.revision is not None and now - self.refreshed < self.ttl / 3:
            return True
        kv = await self.bucket()
        try:
            if self.revision is not None:
                self.revision = await kv.update(self.key, self.holder, last=self.revision)
            else:
                self.revision = await kv.create(self.key, self.holder)
        except KeyWrongLastSequenceError:
            if self.revision is not None:
                log.warning("relay.lease_lost", key=self.key)
            self.revision = None
            return False
        self.refreshed = now
        return True

    async def release(self) -> None:
        """On a clean stop the stand-by takes over at once instead of after the TTL."""
        if self.revision is None or self._kv is None:
            return
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._kv.delete(self.key, last=self.revision)
        self.revision = None


#: Publishes awaiting their acks at once (see ``publish_pending``).
PUBLISH_WINDOW = 100
#: The longest an idle relay waits before looking at its store unwoken (``_next_wait``).
RELAY_IDLE_MAX_SECONDS = 30.0


class OutboxRelay:
    def __init__(self, app: ServiceApplication, js: JetStreamContext, batch: int = 1000,
                 idle_seconds: float = 0.2, keyring: signing.Keyring | None = None) -> None:
        self.app = app
        self.keyring = keyring or signing.current()
        self.signer = self.keyring.signer(app.source)
        #: The last stream message known to be this relay's own: (sequence, store position).
        self.trusted_tail = (0, 0)
        self.progress_at = time.monotonic()
        self.failing: str | None = None
        self.js = js
        self.stream = stream_name(app.source)
        self.batch = batch
        self.idle_seconds = idle_seconds
        self.wake = asyncio.Event()
        self.published_total = 0
        self.ack_timeout = 10.0
        self.lease: RelayLease | None = None
        watch_stored(app.source, app.max_position)

    def use_lease(self, holder: str, ttl: float, replicas: int = 1) -> None:
        """Publish only while holding the store's lease (several replicas of one service)."""
        self.lease = RelayLease(self.js, self.app.source, holder, ttl, replicas) if ttl > 0 else None

    async def stream_tail(self) -> tuple[int, int]:
        """(last stream sequence, store position of the last event this service signed).

        Only a message the service signed tells its position: anything else on the stream
        (published by someone holding its subjects' rights, or forged) is walked past, down to
        the last message known to be its own, and said in the log.
        """
        info = await self.js.stream_info(self.stream)
        last_seq = info.state.last_seq
        known_seq, known_position = self.trusted_tail
        seq = last_seq
        while seq > known_seq:
            try:
                message = await self.js.get_msg(self.stream, seq=seq)
            except NotFoundError:  # deleted, or gone by the stream's limits
                seq -= 1
                continue
            headers = message.headers or {}
            if await self._own(message.data or b"", headers):
                self.trusted_tail = (seq, int(headers.get(POSITION_HEADER, 0)))
                return last_seq, self.trusted_tail[1]
            log.error("relay.foreign_message", source=self.app.source, stream=self.stream, seq=seq,
                      subject=message.subject)
            seq -= 1
        return last_seq, known_position if seq == known_seq else 0

    async def _own(self, data: bytes, headers: dict[str, str]) -> bool:
        """Signed by this service, or (published before events were signed) the very bytes its
        store holds at the position the message claims."""
        if self.keyring.signed_by(self.app.source, data, headers):
            return True
        raw = str(headers.get(POSITION_HEADER, ""))
        claimed = int(raw) if raw.isdigit() else 0
        if claimed <= 0:
            return False
        stored = await asyncio.to_thread(lambda: list(self.app.envelopes_after(claimed - 1, 1)))
        return bool(stored) and stored[0].source_position == claimed and stored[0].to_bytes() == data

    async def publish_pending(self) -> int:
        """Publish everything stored and not yet on the stream. Returns how many were published."""
        last_seq, position = await self.stream_tail()
        published = 0
        while True:
            if self.lease is not None and not await self.lease.acquire():
                return published
            # Read, encode and sign off the loop: a batch of 1,000 (a bulk import) costs
            # hundreds of milliseconds, which every request of the process would wait out.
            envelopes, encoded, signatures = await asyncio.to_thread(self._signed_batch, position)
            if not envelopes:
                return published
            keep = self._publishable_prefix(encoded)
            if keep == 0:
                raise EventTooLarge(envelopes[0], len(encoded[0]), self._max_payload())
            # Everything stored before a too large event still leaves; it stops the next pass.
            envelopes, encoded = envelopes[:keep], encoded[:keep]
            # Concurrent requests rather than ``publish_async``: nats-py 2.16 never resolves an
            # async publish whose ack is an error, which would hang the relay on a refusal.
            # At most PUBLISH_WINDOW at once: a thousand publishes and their acks gathered
            # together are one loop iteration of ~100 ms that every request would wait out.
            signatures = signatures[:keep]
            for start in range(0, len(envelopes), PUBLISH_WINDOW):
                acks = await asyncio.gather(*(
                    self.js.publish(envelope.subject, data, timeout=self.ack_timeout,
                                    headers={
                                        MESSAGE_ID_HEADER: str(envelope.event_id),
                                        signing.SIGNATURE_HEADER: signature,
                                        TRACEPARENT_HEADER: traceparent(envelope),
                                        POSITION_HEADER: str(envelope.source_position),
                                        EXPECTED_LAST_SEQUENCE_HEADER: str(last_seq + offset),
                                    })
                    for offset, envelope, data, signature in zip(
                        range(start, len(envelopes)), envelopes[start:start + PUBLISH_WINDOW],
                        encoded[start:start + PUBLISH_WINDOW],
                        signatures[start:start + PUBLISH_WINDOW], strict=False)),
                    return_exceptions=True)
                failed = [ack for ack in acks if isinstance(ack, BaseException)]
                if failed:
                    raise RelayInterrupted(f"{len(failed)} of {len(acks)} refused: {failed[0]!r}")
            last_seq += len(envelopes)
            position = envelopes[-1].source_position
            self.trusted_tail = (last_seq, position)
            published += len(envelopes)
            self.published_total += len(envelopes)
            EVENTS_PUBLISHED.labels(self.app.source).inc(len(envelopes))
            RELAY_PUBLISHED_POSITION.labels(self.app.source).set(position)

    def _signed_batch(self, position: int) -> tuple[list[Envelope], list[bytes], list[str]]:
        with bulk_work():
            return self._sign_batch(position)

    def _sign_batch(self, position: int) -> tuple[list[Envelope], list[bytes], list[str]]:
        envelopes = list(self.app.envelopes_after(position, self.batch))
        encoded = [envelope.to_bytes() for envelope in envelopes]
        return envelopes, encoded, [self.signer.sign(data) for data in encoded]

    def _max_payload(self) -> int:
        return int(getattr(getattr(self.js, "_nc", None), "max_payload", 0) or 0)

    def _publishable_prefix(self, encoded: list[bytes]) -> int:
        """How many of the batch fit the server's ``max_payload``, counted from the first."""
        limit = self._max_payload()
        if limit <= 0:
            return len(encoded)  # not connected yet: the publish itself will say so
        for index, data in enumerate(encoded):
            if len(data) + HEADERS_ALLOWANCE_BYTES > limit:
                return index
        return len(encoded)

    def stalled(self, after: float) -> str | None:
        """Why the relay is stuck, once its passes have failed for ``after`` seconds."""
        if self.failing is None or time.monotonic() - self.progress_at < after:
            return None
        return self.failing

    def notify(self) -> None:
        """Called after a command stored events, so they leave at once rather than at the next poll."""
        self.wake.set()

    def _next_wait(self, waited: float, published: int) -> float:
        """How long to wait for a wake-up before looking at the store again.

        Every command of this process wakes the relay; the look is only for events stored by
        another process. Alone on its store (no lease) those are rare (an operator's command),
        so the wait doubles while nothing comes, up to ``RELAY_IDLE_MAX_SECONDS``. Sharing the
        store with replicas (a lease), their commands never wake this relay, and a user's next
        request may go to another service that must already see them: the look stays frequent.
        """
        if published or self.lease is not None:
            return self.idle_seconds
        return max(self.idle_seconds, min(waited * 2, RELAY_IDLE_MAX_SECONDS))

    async def run(self, stop: asyncio.Event) -> None:
        wait = self.idle_seconds
        try:
            while not stop.is_set():
                # Cleared before the pass: a command stored during it wakes the next one.
                self.wake.clear()
                count = 0
                try:
                    if self.lease is not None and not await self.lease.acquire():
                        RELAY_LEASE_HELD.labels(self.app.source).set(0)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=self.lease.standby_seconds)
                        continue
                    if self.lease is not None:
                        RELAY_LEASE_HELD.labels(self.app.source).set(1)
                    count = await self.publish_pending()
                    self.progress_at, self.failing = time.monotonic(), None
                    if count:
                        log.debug("relay.published", source=self.app.source, count=count)
                except EventTooLarge as exc:
                    # It cannot pass by itself: said loudly, and retried rarely (the operator may
                    # raise the server's max_payload meanwhile).
                    log.error("relay.event_too_large", source=self.app.source, position=exc.position,
                              type=exc.type, size=exc.size, max_payload=exc.limit)
                    error("relay", exc)
                    self.failing = f"event too large at position {exc.position}"
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=30.0)
                    continue
                except (RelayInterrupted, nats.errors.Error, TimeoutError, ConnectionError,
                        OSError) as exc:
                    # OSError: the store itself may be restarting (PostgreSQL failover).
                    log.warning("relay.retry", source=self.app.source, error=repr(exc))
                    self.failing = repr(exc)
                    error("relay", exc)
                    await asyncio.sleep(0.5)
                    continue
                except Exception as exc:  # noqa: BLE001 - e.g. the store's driver errors; keep going
                    log.warning("relay.store_retry", source=self.app.source, error=repr(exc))
                    self.failing = repr(exc)
                    error("relay", exc)
                    await asyncio.sleep(0.5)
                    continue
                wait = self._next_wait(wait, count)
                await wait_any(stop, self.wake, timeout=wait)
        finally:
            if self.lease is not None:
                await self.lease.release()


def traceparent(envelope: Envelope) -> str:
    """W3C trace context: the correlation id is the trace, the event id the span.

    Both are already 128-bit ids, so any OpenTelemetry-aware consumer joins the event to the
    request that caused it without a tracing SDK in this process.
    """
    return f"00-{envelope.correlation_id.hex}-{envelope.event_id.hex[:16]}-01"
