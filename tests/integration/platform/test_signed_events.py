"""Signed events between a relay and a consumer: what the relay did not sign neither moves its
position nor reaches a read model; it is quarantined, and the stream goes on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence

import nats
import pytest
import sqlalchemy as sa

from services.registry.application import RegistryStore
from shared import signing
from shared.bus import ensure_streams
from shared.consumer import ConsumerRunner, event_quarantine
from shared.contracts import MESSAGE_ID_HEADER, POSITION_HEADER, Envelope, stream_name
from shared.nats_server import EmbeddedNats
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.store import view_engine
from tests.integration.platform.test_outbox_relay import store_organisations, stream_positions

STREAM = stream_name("registry")


@pytest.fixture
def store(settings: Settings) -> Iterator[RegistryStore]:
    registry_store = RegistryStore(settings)
    yield registry_store
    registry_store.close()


class Codes:
    name = "codes"
    sources = ("registry",)

    def __init__(self) -> None:
        self.applied: list[str] = []

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        self.applied += [e.payload["code"] for e in envelopes]


def forged(genuine: Envelope, code: str) -> Envelope:
    return genuine.model_copy(update={"event_id": uuid.uuid4(), "source_position": 999_999,
                                      "payload": {**genuine.payload, "code": code}})


async def test_forged_tail_neither_stops_the_relay_nor_reaches_a_consumer(
        settings: Settings, store: RegistryStore, fresh_nats: EmbeddedNats) -> None:
    store_organisations(store, 5)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)
    assert await OutboxRelay(store, js).publish_pending() == 5

    genuine = Envelope.from_bytes((await js.get_msg(STREAM, seq=5)).data)
    fake = forged(genuine, "fake")
    await js.publish(fake.subject, fake.to_bytes(), headers={
        MESSAGE_ID_HEADER: str(fake.event_id), POSITION_HEADER: "999999",
        signing.SIGNATURE_HEADER: signing.Keyring.generate().signer("registry").sign(fake.to_bytes())})

    store_organisations(store, 3, prefix="late")
    # A relay starting now (no memory of its tail) walks past the forged message.
    assert await OutboxRelay(store, js).publish_pending() == 3
    assert await stream_positions(js) == [1, 2, 3, 4, 5, 999999, 6, 7, 8]

    engine = view_engine(settings, "signed-test")
    codes = Codes()
    runner = ConsumerRunner(engine, js, codes)
    await runner.consume("registry", until_caught_up=True)
    assert codes.applied == [*(f"s{n}" for n in range(5)), *(f"late{n}" for n in range(3))]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(event_quarantine.c.seq, event_quarantine.c.reason)).all()
    assert [tuple(r) for r in rows] == [(6, "bad_signature")]
    assert runner.position("registry") == 9
    engine.dispose()
    await nc.close()


async def test_a_tail_published_before_signatures_is_trusted_only_when_the_store_agrees(
        store: RegistryStore, fresh_nats: EmbeddedNats) -> None:
    """Streams written before events were signed: an unsigned message counts as the relay's own
    only when its bytes are the store's event at the position it claims."""
    store_organisations(store, 6)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)
    for envelope in list(store.envelopes_after(0, 3)):  # as the relay published them before
        await js.publish(envelope.subject, envelope.to_bytes(), headers={
            MESSAGE_ID_HEADER: str(envelope.event_id), POSITION_HEADER: str(envelope.source_position)})
    assert await OutboxRelay(store, js).publish_pending() == 3
    assert await stream_positions(js) == [1, 2, 3, 4, 5, 6]

    # An unsigned message claiming a position whose stored bytes differ is not the relay's.
    sixth = next(iter(store.envelopes_after(5, 1)))
    claimed = forged(sixth, "other").model_copy(update={"source_position": 6})
    await js.publish(claimed.subject, claimed.to_bytes(), headers={POSITION_HEADER: "6"})
    store_organisations(store, 2, prefix="late")
    assert await OutboxRelay(store, js).publish_pending() == 2
    assert await stream_positions(js) == [1, 2, 3, 4, 5, 6, 6, 7, 8]
    await nc.close()
