"""Fixtures for every test: a real nats-server, and a store backend per test (SQLite file, and
PostgreSQL in a fresh schema whenever NASTAVNIK_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import eventsourcing.domain
import pytest
import sqlalchemy as sa

from deploy.tools.nats_auth import NatsUser
from shared import signing
from shared.contracts import MESSAGE_ID_HEADER, Envelope
from shared.nats_server import EmbeddedNats
from shared.settings import Settings

POSTGRES_URL = os.environ.get("NASTAVNIK_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]
TEST_SECRET = "test-secret-of-at-least-thirty-two-bytes"
#: Roadmaps from the field (copies of ../shared/samples/roadmaps, so a clone tests on its own).
FIELD_ROADMAPS = Path(__file__).resolve().parent / "fixtures" / "roadmaps" / "field"


#: The tests' own clients (counting a stream, publishing by hand) connect as this user, whose
#: credentials ride in the servers' ``url``; services started on such a URL with a data folder
#: holding the server's users file connect as themselves (shared.bus.connect_options).
TESTER = NatsUser(user="tester", password=secrets.token_urlsafe(16), publish=(">",), subscribe=(">",))


def secured_nats(store_dir: Path, secrets_dir: Path) -> EmbeddedNats:
    """An embedded server with the credentials ``nastavnik up`` generates, plus :data:`TESTER`."""
    return EmbeddedNats(store_dir, secrets_dir=secrets_dir, extra_users=[TESTER], url_user=TESTER.user)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    folder = tmp_path_factory.mktemp("nats")
    with secured_nats(folder / "store", folder / "secrets") as server:
        yield server


@pytest.fixture
def fresh_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A server of this test's own, for tests that count everything on a stream. Its users file
    is in the data folder of the ``settings`` fixture, so services connect with their own
    credentials and permissions."""
    with secured_nats(tmp_path / "nats", tmp_path / "data" / "secrets") as server:
        yield server


def _postgres_admin_url() -> sa.URL:
    url = sa.make_url(POSTGRES_URL)
    return url.set(drivername="postgresql+psycopg")


#: Tests that open many PostgreSQL connections at once (service processes, replicas, a system
#: per fault): each runs with the database to itself, so that two test processes (``make test``
#: runs two) or two runs on one machine stay within its ``max_connections``.
MANY_CONNECTIONS = ("fault", "many_connections")


@contextlib.contextmanager
def postgres_turn(exclusive: bool) -> Iterator[None]:
    """A turn at the test database, shared by ordinary tests and alone for the heavy ones."""
    digest = hashlib.sha256(POSTGRES_URL.encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"nastavnik-tests-{digest}.lock", "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def _needs_the_database_alone(request: pytest.FixtureRequest) -> bool:
    return any(request.node.get_closest_marker(name) for name in MANY_CONNECTIONS)


@pytest.fixture(autouse=True)
def _heavy_postgres_user(request: pytest.FixtureRequest) -> Iterator[None]:
    if POSTGRES_URL and _needs_the_database_alone(request):
        with postgres_turn(exclusive=True):
            yield
    else:
        yield


@pytest.fixture
def postgres_schema(request: pytest.FixtureRequest) -> Iterator[str]:
    with contextlib.ExitStack() as turn:
        if not _needs_the_database_alone(request):  # the heavy ones hold it alone already
            turn.enter_context(postgres_turn(exclusive=False))
        yield from _fresh_schema()


def _fresh_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(_postgres_admin_url())
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    # Every connection the test opens (libpq reads PGAPPNAME, child processes inherit it) is
    # named after the schema, so the clean-up below ends this test's sessions and no other's:
    # another test run may use the same database at the same time.
    previous_name = os.environ.get("PGAPPNAME")
    os.environ["PGAPPNAME"] = schema
    try:
        yield schema
    finally:
        if previous_name is None:
            os.environ.pop("PGAPPNAME", None)
        else:
            os.environ["PGAPPNAME"] = previous_name
        # Every service of the test is stopped by now, yet a pool some component did not close
        # keeps its connections open; left alone they pile up, test after test, to PostgreSQL's
        # max_connections.
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE application_name = :schema AND pid <> pg_backend_pid()"),
                         {"schema": schema})
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for one test: its own data folder, and its own schema on PostgreSQL."""
    database_url = ""
    if backend == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        url = sa.make_url(POSTGRES_URL)
        database_url = (f"postgresql://{url.username or 'postgres'}"
                        f"{':' + url.password if url.password else ''}@{url.host or '127.0.0.1'}:"
                        f"{url.port or 5432}/{url.database}?schema={schema}")
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, token_secret=TEST_SECRET)
    # The data folder's event keys, as a host installs them: relays and consumers built by the
    # test and the service processes it starts on this folder sign and check with the same keys.
    signing.install(signing.load_keyring(settings))
    return settings


@contextlib.contextmanager
def events_at(now: Callable[[], datetime]) -> Iterator[None]:
    """Events created inside carry ``now()`` as their moment, not the machine's: a test whose
    clock is in the past registers its organisations then, as the reporting calendar needs
    (it asks no report of a period that ended before an organisation was registered)."""
    with mock.patch.object(eventsourcing.domain, "datetime_now_with_tzinfo", now):
        yield


def signed_headers(envelope: Envelope) -> dict[str, str]:
    """Headers of an event a test publishes in place of its service: signed with that service's
    key from the installed keyring (the ``settings`` fixture's data folder), as its relay would."""
    return {MESSAGE_ID_HEADER: str(envelope.event_id),
            signing.SIGNATURE_HEADER: signing.current().signer(envelope.source).sign(envelope.to_bytes())}


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05,
               message: str = "condition") -> None:
    """Poll for a condition rather than sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


async def async_wait_until(condition: Callable[[], bool], timeout: float = 20.0,
                           message: str = "condition", quiet: bool = False) -> None:
    """Poll for a condition; ``quiet`` returns at the timeout instead of failing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    if not quiet:
        raise AssertionError(f"timed out waiting for {message}")


async def publish_until_delivered(client: Any, subject: str, data: bytes, delivered: list[bytes],
                                  timeout: float = 20.0) -> None:
    """Core NATS is at most once: across a cluster, a subscriber's interest reaches the other
    nodes a moment after its flush, and a message published there before it is dropped. So the
    publisher repeats until the subscriber has the message, the way a periodic publisher would."""
    deadline = time.monotonic() + timeout
    while data not in delivered:
        if time.monotonic() > deadline:
            raise AssertionError(f"{subject} never delivered")
        await client.publish(subject, data)
        await client.flush()
        await async_wait_until(lambda: data in delivered, timeout=0.5, quiet=True)
