"""A logout reaches every process: the registry announces revoked tokens on the bus (a key-value
bucket only it may write, entries it signs), and every process reads them onto its deny-list —
those of before its start at once, the new ones live."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from nats.aio.client import Client

from shared import bus, revocations, signing
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.loops import supervise
from shared.nats_server import EmbeddedNats, free_port
from shared.settings import Settings
from shared.tokens import RevokedTokens
from tests.conftest import TEST_SECRET, async_wait_until, wait_until

KEYS = signing.Keyring.generate()


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, Settings]]:
    settings = Settings(data_dir=tmp_path / "data")
    with EmbeddedNats(tmp_path / "nats", secrets_dir=settings.secrets_dir) as server:
        settings.nats_url = server.url
        yield server, settings


Connect = Callable[[str], Awaitable[Client]]


@pytest.fixture
async def connect(secured: tuple[EmbeddedNats, Settings]) -> AsyncIterator[Connect]:
    """Connects to the bus as a service (its credentials, its rights); closed after the test."""
    server, settings = secured
    clients: list[Client] = []

    async def connecting(service: str) -> Client:
        clients.append(await bus.connect(server.url, service, settings, service=service))
        return clients[-1]

    yield connecting
    for client in reversed(clients):
        await client.close()


async def following(client: Client, settings: Settings, stop: asyncio.Event,
                    keys: signing.Keyring = KEYS) -> tuple[RevokedTokens, asyncio.Task[None]]:
    """Another process's deny-list, fed from the bus."""
    deny = RevokedTokens()
    # Supervised as in ``shared.host``: a follower that starts before the registry has made the
    # bucket fails and is started again.
    task = asyncio.create_task(supervise(
        "revocations", lambda halt: revocations.follow(client.jetstream(), settings, halt, deny,
                                                       keys), stop))
    return deny, task


async def test_a_revocation_reaches_other_processes_at_start_and_live(
        secured: tuple[EmbeddedNats, Settings], connect: Connect) -> None:
    _, settings = secured
    registry, pairing, portal = [await connect(s) for s in ("registry", "pairing", "portal")]
    stop = asyncio.Event()
    feed = revocations.RevocationFeed(lambda: KEYS)
    # Taken now, not at import: the suite may run this test long after collecting it, and an
    # entry already expired is rightly never applied.
    later = time.time() + 600
    try:
        # The registry starts with one logout in its table: announced at start.
        announcing = asyncio.create_task(feed.run(registry.jetstream(), settings, stop,
                                                  backlog=lambda: {"before-start": later}))
        pairing_deny, pairing_task = await following(pairing, settings, stop)
        await async_wait_until(lambda: "before-start" in pairing_deny, message="the backlog")

        feed.announce({"logged-out": later, "already-expired": time.time() - 1})
        await async_wait_until(lambda: "logged-out" in pairing_deny, message="a live logout")
        assert "already-expired" not in pairing_deny

        # A process started later reads everything announced before it.
        portal_deny, portal_task = await following(portal, settings, stop)
        await async_wait_until(lambda: "before-start" in portal_deny and "logged-out" in portal_deny,
                               message="a late start")

        # An entry the registry did not sign (here: another key) is refused, never applied.
        with structlog.testing.capture_logs() as logs:
            kv = await revocations.bucket(registry.jetstream(), settings)
            await kv.put("forged", revocations.entry(signing.Keyring.generate(), "forged", later))
            feed.announce({"marker": later})
            await async_wait_until(lambda: "marker" in pairing_deny, message="the marker")
        assert "forged" not in pairing_deny
        assert any(e["event"] == "security.revocation_refused" for e in logs)
        stop.set()
        await asyncio.gather(announcing, pairing_task, portal_task)
    finally:
        stop.set()


# SIGTERM: the server tells waiting pull requests it shuts down; SIGKILL: it falls silent.
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
async def test_a_follower_catches_up_on_what_was_revoked_while_the_bus_was_away(
        secured: tuple[EmbeddedNats, Settings], connect: Connect, sig: signal.Signals) -> None:
    """The server restarts (the followers' consumers, kept in memory, are gone with it) and a
    logout is announced meanwhile: every follower has it once the bus is back."""
    server, settings = secured
    registry, pairing = await connect("registry"), await connect("pairing")
    stop = asyncio.Event()
    feed = revocations.RevocationFeed(lambda: KEYS)
    later = time.time() + 600
    try:
        announcing = asyncio.create_task(feed.run(registry.jetstream(), settings, stop,
                                                  retry_seconds=0.5))
        pairing_deny, pairing_task = await following(pairing, settings, stop)
        feed.announce({"before": later})
        await async_wait_until(lambda: "before" in pairing_deny, message="the first logout")

        await asyncio.to_thread(server.stop, sig)
        feed.announce({"while-away": later})
        await asyncio.to_thread(server.start)
        # The follower is told, or notices the silence after two missed heartbeats
        # (shared.pull), and reads the bucket anew.
        await async_wait_until(lambda: "while-away" in pairing_deny, timeout=60,
                               message="the logout made while the bus was away")
        stop.set()
        await asyncio.gather(announcing, pairing_task)
    finally:
        stop.set()


async def test_only_the_registry_may_write_the_revocations(
        secured: tuple[EmbeddedNats, Settings], connect: Connect) -> None:
    _, settings = secured
    registry, pairing = await connect("registry"), await connect("pairing")
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    pairing._error_cb = on_error  # nats-py's own hook; bus.connect takes no callback
    await revocations.bucket(registry.jetstream(), settings)
    kv = await revocations.bucket(pairing.jetstream(), settings)  # it may read the bucket
    with pytest.raises(Exception):  # noqa: B017 - refused: no stream ever acknowledges it
        await kv.put("forged", b"{}")
    with pytest.raises(Exception):  # noqa: B017
        await pairing.jetstream().purge_stream(f"KV_{revocations.BUCKET}")
    await async_wait_until(lambda: any("permissions violation for publish" in e.lower()
                                       and revocations.BUCKET in e for e in errors),
                           message="the refusal")


# ---- two services as processes (distributed mode): a logout at the registry ends the token at
# pairing at once, not when it expires --------------------------------------------------------

CLI = str(Path(sys.executable).with_name("nastavnik"))


class Process:
    def __init__(self, service: str, data_dir: Path, nats_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"{service}.log"
        env = {**os.environ, "NASTAVNIK_NATS_URL": nats_url, "NASTAVNIK_TOKEN_SECRET": TEST_SECRET,
               "NASTAVNIK_REGION": "demo", "NASTAVNIK_LOG_LEVEL": "WARNING",
               "NASTAVNIK_API_REQUESTS_PER_MINUTE": "0"}
        with open(self.log, "ab") as out:  # noqa: PTH123 - a log file for the failure message
            self.process = subprocess.Popen(
                [CLI, "serve", service, "--data-dir", str(data_dir), "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def test_a_logout_at_the_registry_ends_the_token_in_another_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    with EmbeddedNats(tmp_path / "nats", secrets_dir=settings.secrets_dir) as server:
        started: list[Process] = []
        try:
            started = [Process("registry", data_dir, server.address),
                       Process("pairing", data_dir, server.address)]
            registry, pairing = started
            for process in started:
                wait_until(process.ready, timeout=180, interval=0.2, message="a service ready")
            token = issue_token(Actor(user="curator", role=Role.CURATOR,
                                      scope=OrgPath.parse("demo/m1/school-a")), TEST_SECRET)
            headers = {"Authorization": f"Bearer {token}"}
            assert httpx.get(f"{pairing.url}/pairing/pairs", headers=headers).status_code == 200

            assert httpx.post(f"{registry.url}/auth/logout", headers=headers).status_code == 204

            def refused_at_pairing() -> bool:
                response = httpx.get(f"{pairing.url}/pairing/pairs", headers=headers)
                return response.status_code == 401 and response.json()["code"] == "TOKEN_REVOKED"

            wait_until(refused_at_pairing, timeout=10, message="pairing to refuse the token")
        finally:
            for process in started:
                process.stop()
