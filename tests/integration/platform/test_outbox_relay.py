"""The outbox relay publishes every stored event exactly once, in order — even when killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from services.registry.application import RegistryStore
from services.registry.domain import Organisation
from shared.auth import OrgPath, system_actor
from shared.bus import ensure_streams
from shared.contracts import POSITION_HEADER, Envelope, stream_name
from shared.nats_server import EmbeddedNats
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.store import CommandContext
from tests.conftest import TEST_SECRET

STREAM = stream_name("registry")


@pytest.fixture
def store(settings: Settings) -> Iterator[RegistryStore]:
    registry_store = RegistryStore(settings)
    yield registry_store
    registry_store.close()


def store_organisations(store: RegistryStore, count: int, prefix: str = "s") -> None:
    """Store `count` OrganisationRegistered events, a thousand per transaction."""
    ctx = CommandContext(system_actor("demo"))
    for start in range(0, count, 1000):
        batch = []
        for n in range(start, min(start + 1000, count)):
            path = OrgPath(region="demo", municipality="m1", organisation=f"{prefix}{n}")
            batch.append(Organisation(code=f"{prefix}{n}", name=f"Школа {n}", kind="school",
                                      parent_id=None, path=path.model_dump(), meta=ctx.meta(path)))
        store.save(*batch)


async def stream_positions(js: JetStreamContext) -> list[int]:
    info = await js.stream_info(STREAM)
    positions = []
    for seq in range(1, info.state.last_seq + 1):
        message = await js.get_msg(STREAM, seq=seq)
        positions.append(int((message.headers or {})[POSITION_HEADER]))
    return positions


async def stream_count(js: JetStreamContext) -> int:
    return (await js.stream_info(STREAM)).state.messages


async def wait_for_count(js: JetStreamContext, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = await stream_count(js)
        if count >= at_least:
            return count
        await asyncio.sleep(0.02)
    raise AssertionError(f"stream has {await stream_count(js)} messages, expected {at_least}")


async def test_publishes_each_stored_event_once_in_order(store: RegistryStore,
                                                         fresh_nats: EmbeddedNats) -> None:
    store_organisations(store, 2500)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)
    relay = OutboxRelay(store, js, batch=400)

    assert await relay.publish_pending() == 2500
    assert await relay.publish_pending() == 0  # nothing new: nothing published again
    assert await stream_positions(js) == list(range(1, 2501))

    first = Envelope.from_bytes((await js.get_msg(STREAM, seq=1)).data)
    assert first.type == "OrganisationRegistered"
    assert first.source == "registry" and first.source_position == 1
    assert first.org == OrgPath(region="demo", municipality="m1", organisation="s0")
    assert first.actor.user == "system"
    assert first.subject == "nastavnik.registry.demo.m1.OrganisationRegistered"
    await nc.close()


async def test_two_relays_racing_on_one_store_publish_each_event_once(
        store: RegistryStore, fresh_nats: EmbeddedNats) -> None:
    store_organisations(store, 3000)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)
    relays = [OutboxRelay(store, js, batch=250), OutboxRelay(store, js, batch=300)]

    async def drain(relay: OutboxRelay) -> None:
        while True:
            try:
                await relay.publish_pending()
                return
            except Exception:  # the loser of a race re-reads the stream tail and carries on
                await asyncio.sleep(0.01)

    await asyncio.gather(*(drain(r) for r in relays))
    assert await stream_positions(js) == list(range(1, 3001))
    await nc.close()


def start_relay_process(settings: Settings, nats_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NASTAVNIK_NATS_URL": nats_url,
           "NASTAVNIK_DATABASE_URL": settings.database_url, "NASTAVNIK_RELAY_BATCH": "50",
           "NASTAVNIK_TOKEN_SECRET": TEST_SECRET}
    cli = Path(sys.executable).with_name("nastavnik")
    return subprocess.Popen([str(cli), "relay", "registry", "--data-dir", str(settings.data_dir)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_relay_killed_between_store_and_publish_loses_and_doubles_nothing(
        settings: Settings, store: RegistryStore, fresh_nats: EmbeddedNats) -> None:
    store_organisations(store, 4000)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await ensure_streams(js)

    relay = start_relay_process(settings, fresh_nats.url)
    try:
        published_before_kill = await wait_for_count(js, 500)
        relay.send_signal(signal.SIGKILL)
        relay.wait(timeout=10)
    finally:
        if relay.poll() is None:
            relay.kill()
    published_at_kill = await stream_count(js)
    assert published_before_kill <= published_at_kill < 4000, "the kill must land mid-way"

    # More events stored while no relay runs: stored, not yet published.
    store_organisations(store, 500, prefix="late")

    relay = start_relay_process(settings, fresh_nats.url)
    try:
        await wait_for_count(js, 4500)
    finally:
        relay.terminate()
        relay.wait(timeout=10)
    assert await stream_positions(js) == list(range(1, 4501))
    await nc.close()
