"""A consumer applies each event once and in order, whatever is redelivered or replayed; replicas
of a service share one durable consumer and split the work between them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext

from services.registry.application import RegistryStore
from shared.bus import ensure_streams
from shared.consumer import ConsumerRunner, consumer_durables, consumer_positions
from shared.contracts import Envelope, stream_name
from shared.nats_server import EmbeddedNats
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.store import view_engine
from tests.conftest import async_wait_until, wait_until
from tests.integration.platform.test_outbox_relay import store_organisations

seen = sa.MetaData()
applied = sa.Table("test_applied", seen,
                   sa.Column("position", sa.Integer, primary_key=True),
                   sa.Column("code", sa.String(50), nullable=False),
                   sa.Column("replica", sa.String(10), nullable=False))


class Hold:
    """Stops a replica inside its transaction once past ``after``, until released; it then dies
    (the transaction rolls back), as a process killed while applying a batch would."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.holding = threading.Event()
        self.release = threading.Event()


class Recorder:
    """Records every applied event and who applied it; a primary key makes any double apply fail
    loudly, and a batch that does not follow the last applied event fails it too."""

    name = "test-recorder"
    sources = ("registry",)

    def __init__(self, fail_at: int | None = None, replica: str = "a", hold: Hold | None = None,
                 first_waits: Callable[[], None] | None = None) -> None:
        self.fail_at = fail_at
        self.replica = replica
        self.hold = hold
        #: Called once, before the first batch is applied.
        self.first_waits = first_waits

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        if self.first_waits is not None:
            waits, self.first_waits = self.first_waits, None
            waits()
        hold = self.hold
        if hold is not None and envelopes[0].source_position > hold.after and not hold.holding.is_set():
            hold.holding.set()
            hold.release.wait(30)
            raise RuntimeError("replica died holding a batch")
        last = conn.execute(sa.select(sa.func.max(applied.c.position))).scalar() or 0
        for envelope in envelopes:
            if envelope.source_position == self.fail_at:
                raise RuntimeError("projection failed half-way through a batch")
            assert envelope.source_position == last + 1, f"{envelope.source_position} after {last}"
            last = envelope.source_position
            conn.execute(applied.insert().values(position=envelope.source_position,
                                                 code=envelope.payload["code"], replica=self.replica))


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = view_engine(settings, "consumer-test")
    seen.create_all(engine)
    yield engine
    engine.dispose()


async def publish(settings: Settings, nats_url: str, count: int) -> None:
    store = RegistryStore(settings)
    store_organisations(store, count)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    await OutboxRelay(store, js).publish_pending()
    await nc.close()
    store.close()


def positions(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(applied.c.position).order_by(applied.c.position)).scalars())


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(applied)).scalar() or 0)


def per_replica(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {str(replica): int(n) for replica, n in conn.execute(
            sa.select(applied.c.replica, sa.func.count()).group_by(applied.c.replica))}


@pytest.fixture
def second_engine(settings: Settings, engine: sa.Engine) -> Iterator[sa.Engine]:
    """The same database through a pool of its own, as a second replica's process has."""
    other = view_engine(settings, "consumer-test")
    yield other
    other.dispose()


async def ack_floor(js: JetStreamContext, durable: str, reaches: int) -> int:
    """The durable's ack floor once it reaches ``reaches`` (acks are not waited for), or as it is."""
    floor = 0
    for _ in range(200):
        info = await js.consumer_info(stream_name("registry"), durable)
        floor = info.ack_floor.stream_seq if info.ack_floor else 0
        if floor >= reaches:
            break
        await asyncio.sleep(0.05)
    return floor


async def stop_all(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    for result in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


async def test_replay_and_redelivery_change_nothing_twice(settings: Settings, engine: sa.Engine,
                                                          fresh_nats: EmbeddedNats) -> None:
    await publish(settings, fresh_nats.url, 1200)
    nc = await nats.connect(fresh_nats.url)
    runner = ConsumerRunner(engine, nc.jetstream(), Recorder(), batch=250)
    assert await runner.consume("registry", until_caught_up=True) == 1200
    assert positions(engine) == list(range(1, 1201))

    # A second runner (a restart) resumes after the committed position: nothing applied twice.
    again = ConsumerRunner(engine, nc.jetstream(), Recorder(), batch=250)
    assert await again.consume("registry", until_caught_up=True) == 0

    # A batch delivered again (as after a lost ack) is recognised by its stream sequence.
    stream = stream_name("registry")
    redelivered = [(seq, Envelope.from_bytes((await nc.jetstream().get_msg(stream, seq=seq)).data))
                   for seq in range(1190, 1201)]
    runner._commit(stream, redelivered)
    assert positions(engine) == list(range(1, 1201))
    await nc.close()


async def test_a_failed_batch_leaves_neither_rows_nor_position(settings: Settings, engine: sa.Engine,
                                                               fresh_nats: EmbeddedNats) -> None:
    await publish(settings, fresh_nats.url, 300)
    nc = await nats.connect(fresh_nats.url)
    failing = ConsumerRunner(engine, nc.jetstream(), Recorder(fail_at=150), batch=100)
    with pytest.raises(RuntimeError):
        await failing.consume("registry", until_caught_up=True)
    assert positions(engine) == list(range(1, 101))  # the batch holding 150 left no trace
    assert failing.position("registry") == 100

    fixed = ConsumerRunner(engine, nc.jetstream(), Recorder(), batch=100)
    assert await fixed.consume("registry", until_caught_up=True) == 200
    assert positions(engine) == list(range(1, 301))
    await nc.close()


async def test_two_replicas_share_the_stream_each_event_applied_once_in_order(
        settings: Settings, engine: sa.Engine, second_engine: sa.Engine, fresh_nats: EmbeddedNats) -> None:
    # Small batches, many of them. Each replica applies its first batch only once the other has
    # been given one too: the other then has its share whatever the timing, and must apply it
    # in order, after (or before) the first.
    total = 1200
    await publish(settings, fresh_nats.url, total)
    nc_a, nc_b = await nats.connect(fresh_nats.url), await nats.connect(fresh_nats.url)
    given = {"a": threading.Event(), "b": threading.Event()}

    class Announcing(ConsumerRunner):
        """A replica that says when the server gave it a batch."""

        def __init__(self, replica: str, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.replica = replica

        async def _handle(self, source: str, durable: str, messages: list[Any],
                          stop: asyncio.Event | None) -> tuple[int, str]:
            given[self.replica].set()
            return await super()._handle(source, durable, messages, stop)

    def after(other: str) -> Callable[[], None]:
        return lambda: wait_until(given[other].is_set, timeout=30, message=f"a batch for {other}")

    a = Announcing("a", engine, nc_a.jetstream(),
                   Recorder(replica="a", first_waits=after("b")), batch=10)
    b = Announcing("b", second_engine, nc_b.jetstream(),
                   Recorder(replica="b", first_waits=after("a")), batch=10)
    assert a.durable_name("registry") == b.durable_name("registry")  # one durable, shared
    stop = asyncio.Event()
    tasks = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
    try:
        await async_wait_until(lambda: count(engine) >= total, timeout=60, message="all applied")
    finally:
        await stop_all(stop, tasks)
    assert positions(engine) == list(range(1, total + 1))
    shares = per_replica(engine)
    print(f"events applied per replica: {shares}")
    assert shares["a"] > 0 and shares["b"] > 0 and shares["a"] + shares["b"] == total
    assert a.applied_total + b.applied_total == total
    await nc_a.close()
    await nc_b.close()


async def test_a_replica_dying_with_a_batch_leaves_it_to_the_other(
        settings: Settings, engine: sa.Engine, second_engine: sa.Engine, fresh_nats: EmbeddedNats) -> None:
    total = 400
    await publish(settings, fresh_nats.url, total)
    nc_a, nc_b = await nats.connect(fresh_nats.url), await nats.connect(fresh_nats.url)
    hold = Hold(after=100)
    # A short ack_wait: the dead replica's batch comes back to the other within the test's patience.
    a = ConsumerRunner(engine, nc_a.jetstream(), Recorder(replica="a", hold=hold), batch=50, ack_wait=2.0)
    b = ConsumerRunner(second_engine, nc_b.jetstream(), Recorder(replica="b"), batch=50, ack_wait=2.0)
    stop = asyncio.Event()
    task_a = asyncio.create_task(a.run(stop))
    others: list[asyncio.Task[None]] = []
    try:
        # Alone, replica a surely gets a batch past ``after``; with b beside it, b could take
        # every such batch first and a would never hold one.
        await async_wait_until(hold.holding.is_set, timeout=60, message="replica a holds a batch")
        others.append(asyncio.create_task(b.run(stop)))
        # The process dies: its connection goes first, so nothing is handed back by a nak —
        # only the expiry of ack_wait returns the batch.
        await nc_a.close()
        task_a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        hold.release.set()
        await async_wait_until(lambda: count(engine) >= total, timeout=60, message="b finished")
    finally:
        hold.release.set()
        task_a.cancel()
        await stop_all(stop, others)
    assert positions(engine) == list(range(1, total + 1))
    assert per_replica(engine)["b"] > 0
    await nc_b.close()


async def test_a_rebuilt_read_model_consumes_the_stream_again_from_the_start(
        settings: Settings, engine: sa.Engine, fresh_nats: EmbeddedNats) -> None:
    await publish(settings, fresh_nats.url, 300)
    nc = await nats.connect(fresh_nats.url)
    runner = ConsumerRunner(engine, nc.jetstream(), Recorder(), batch=100)
    assert await runner.consume("registry", until_caught_up=True) == 300
    durable = runner.durable_name("registry")
    assert await ack_floor(nc.jetstream(), durable, reaches=300) == 300

    # The read model is rebuilt (emptied, position 0); the durable still says 300 were done.
    with engine.begin() as conn:
        conn.execute(applied.delete())
        conn.execute(consumer_positions.update().values(last_seq=0))
    rebuilt = ConsumerRunner(engine, nc.jetstream(), Recorder(), batch=100)
    assert await rebuilt.consume("registry", until_caught_up=True) == 300
    assert positions(engine) == list(range(1, 301))
    assert rebuilt.durable_name("registry") == durable  # the same durable, recreated from position 0
    await nc.close()


async def test_a_durable_named_before_services_named_theirs_is_replaced_from_the_stored_position(
        settings: Settings, engine: sa.Engine, fresh_nats: EmbeddedNats) -> None:
    """Upgrade: a read model whose database recorded a random durable (before durables were named
    ``<service>_<model>``, which the NATS permissions name) carries on under the new name from
    its own position: nothing applied twice, nothing skipped."""
    await publish(settings, fresh_nats.url, 300)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    old = ConsumerRunner(engine, js, Recorder(), batch=100)
    assert await old.consume("registry", until_caught_up=True) == 300
    old_durable = "test-recorder-0123456789ab"  # what the earlier release had named it
    with engine.begin() as conn:
        conn.execute(consumer_durables.update().values(durable=old_durable))
    await publish(settings, fresh_nats.url, 50)

    upgraded = ConsumerRunner(engine, js, Recorder(), batch=100, service="pairing")
    assert upgraded.durable_name("registry") == "pairing_test_recorder"
    assert await upgraded.consume("registry", until_caught_up=True) == 50
    assert positions(engine) == list(range(1, 351))
    with engine.connect() as conn:
        assert conn.execute(sa.select(consumer_durables.c.durable)).scalars().all() == [
            "pairing_test_recorder"]
    await nc.close()


async def waiting_requests(js: JetStreamContext, durable: str) -> int:
    with contextlib.suppress(nats.js.errors.NotFoundError):
        return (await js.consumer_info(stream_name("registry"), durable)).num_waiting or 0
    return 0


async def test_a_replica_stopped_while_its_pull_waits_leaves_what_comes_next_to_the_other(
        settings: Settings, engine: sa.Engine, second_engine: sa.Engine, fresh_nats: EmbeddedNats) -> None:
    """An idle replica's pull waits on the server for the next message; a replica that stops
    meanwhile stops promptly, and what comes after goes to the other at once, not after ack_wait."""
    nc, nc_a, nc_b = [await nats.connect(fresh_nats.url) for _ in range(3)]
    await ensure_streams(nc.jetstream())
    # Longer than the test's patience: nothing may wait for a redelivery.
    a = ConsumerRunner(engine, nc_a.jetstream(), Recorder(replica="a"), batch=50, ack_wait=600.0)
    b = ConsumerRunner(second_engine, nc_b.jetstream(), Recorder(replica="b"), batch=50, ack_wait=600.0)
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a))
    durable = await asyncio.to_thread(a.durable_name, "registry")
    for _ in range(400):  # until a's pull waits on the server
        if await waiting_requests(nc.jetstream(), durable):
            break
        await asyncio.sleep(0.05)
    task_b = asyncio.create_task(b.run(stop_b))
    try:
        await stop_all(stop_a, [task_a])
        await publish(settings, fresh_nats.url, 120)
        await async_wait_until(lambda: count(engine) >= 120, timeout=60, message="b applied all")
    finally:
        await stop_all(stop_b, [task_b])
    assert positions(engine) == list(range(1, 121))
    assert per_replica(engine) == {"b": 120}
    for client in (nc, nc_a, nc_b):
        await client.close()
