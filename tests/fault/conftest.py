"""The fault-injection harness: a 3-node JetStream cluster, services as processes, a steady load
on every service, and a ledger that checks each event's way from store to every consumer.

A :class:`Deployment` starts ``nastavnik serve <service>`` processes (one or more replicas each)
on one data folder and one database (a fresh PostgreSQL schema when NASTAVNIK_TEST_POSTGRES_URL
is set, else SQLite files). A :class:`Load` drives every started service through its API at a
steady pace, so each one stores its own events while consuming the others':

* registry: schools, mentors and mentees (the others' input);
* pairing: pairs formed before the load, then plan goals; its pools consume the registry stream;
* monitoring: curator surveys; the audit log and the dashboards consume every stream, the
  reporting calendar stores a ``ReportDue`` for each school the registry registered;
* documents: practices and thanks letters; its inbox consumes ``ReportDue`` into report drafts.

Every test ends with :meth:`Deployment.settle`: a ledger per service (commands sent, accepted,
refused; events stored, published, projected, duplicated, lost) from one snapshot read
downstream first — projections, then streams, then stores — so anything a projection holds
that its store lacks is a real duplicate, never a race of the reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nats.errors
import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.monitoring.audit.feeder import init_key
from services.monitoring.audit.service_check import store_reader
from services.monitoring.audit.store import build_metadata
from shared import signing
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.bus import connect
from shared.consumer import ConsumerRunner
from shared.contracts import MESSAGE_ID_HEADER, SOURCES, Envelope, stream_name, stream_subjects
from shared.nats_cluster import NatsCluster
from shared.nats_server import free_port
from shared.settings import Settings
from shared.store import ServiceApplication, view_engine
from tests.conftest import POSTGRES_URL, TEST_SECRET, wait_until

CLI = str(Path(sys.executable).with_name("nastavnik"))
REGION = "fault"
MUNICIPALITY = "m1"
BASE_SCHOOL = "base"
BASE_PATH = f"{REGION}/{MUNICIPALITY}/{BASE_SCHOOL}"
#: Pairs formed before the load; the load sets plan goals on them.
SETUP_PAIRS = 4
#: Commands per second and service: modest, the machine has two cores for everything.
RATES: Mapping[str, float] = {"registry": 4.0, "pairing": 2.0, "monitoring": 2.0, "documents": 1.5}

#: What Prometheus would send for /metrics (shared.diagnostics).
DIAGNOSTICS_TOKEN = "fault-tests-diagnostics"


# --- the cluster and the store ----------------------------------------------------------------

@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with NatsCluster(tmp_path / "cluster") as running:
        yield running


def postgres_url_for(schema: str) -> str:
    url = sa.make_url(POSTGRES_URL)
    return (f"postgresql://{url.username or 'postgres'}{':' + url.password if url.password else ''}"
            f"@{url.host or '127.0.0.1'}:{url.port or 5432}/{url.database}?schema={schema}")


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """PostgreSQL (a fresh schema) when NASTAVNIK_TEST_POSTGRES_URL is set, else SQLite files."""
    if not POSTGRES_URL:
        return ""
    return postgres_url_for(request.getfixturevalue("postgres_schema"))


# --- services as processes --------------------------------------------------------------------

def lease_metric(source: str) -> str:
    return f'nastavnik_relay_lease_held{{source="{source}"}} 1.0'


class ServiceProcess:
    """``nastavnik serve <service>`` in its own process, killable and restartable on one port."""

    def __init__(self, service: str, data_dir: Path, nats_url: str, database_url: str,
                 replicas: int = 3, log_dir: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = (log_dir or data_dir) / f"{service}-{self.port}.log"
        self.env = {**os.environ, "NASTAVNIK_NATS_URL": nats_url,
                    "NASTAVNIK_DATABASE_URL": database_url, "NASTAVNIK_TOKEN_SECRET": TEST_SECRET,
                    "NASTAVNIK_STREAM_REPLICAS": str(replicas), "NASTAVNIK_REGION": REGION,
                    "NASTAVNIK_RELAY_LEASE_SECONDS": "2", "NASTAVNIK_LOG_LEVEL": "WARNING",
                    # The calendar notices new schools within a second, not half a minute.
                    "NASTAVNIK_CALENDAR_INTERVAL": "1",
                    # The load and the ledger's polls are one caller; no budget applies to them.
                    "NASTAVNIK_API_REQUESTS_PER_MINUTE": "0",
                    # Up to eight processes share one PostgreSQL (and CI's 100 connections).
                    "NASTAVNIK_DB_POOL_SIZE": "2",
                    "NASTAVNIK_DIAGNOSTICS_TOKEN": DIAGNOSTICS_TOKEN, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.service == "monitoring":  # the deployment's explicit step: a key, made once
            init_key(Settings(data_dir=self.data_dir), exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [CLI, "serve", self.service, "--data-dir", str(self.data_dir), "--port", str(self.port)],
                env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 180.0) -> float:
        started = time.monotonic()

        def check() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log_path.read_text()
            return self.ready()

        wait_until(check, timeout=timeout, interval=0.1, message=f"{self.service} ready")
        return time.monotonic() - started

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5,
                         headers={"Authorization": f"Bearer {DIAGNOSTICS_TOKEN}"}).text

    def holds_lease(self) -> bool:
        try:
            return lease_metric(self.service) in self.metrics()
        except httpx.HTTPError:
            return False


def stop_all(processes: Sequence[ServiceProcess], timeout: float = 30.0) -> None:
    """SIGTERM to all at once (each drains in parallel), then SIGKILL to any still running."""
    running = [p.process for p in processes if p.process is not None and p.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    """Every process a test starts is stopped when it ends."""
    started: list[ServiceProcess] = []
    yield started
    stop_all(started)


# --- a steady load of commands on every service -----------------------------------------------

def token(role: Role = Role.REGIONAL, scope: str = REGION, user: str = "load") -> str:
    return issue_token(Actor(user=user, role=role, scope=OrgPath.parse(scope)), TEST_SECRET)


def bearer(role: Role = Role.REGIONAL, scope: str = REGION) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, scope)}"}


REGIONAL = bearer()
CURATOR = bearer(Role.CURATOR, BASE_PATH)


@dataclass(frozen=True)
class Command:
    """One request and the event it must leave in its service's store once answered 2xx."""

    method: str
    path: str
    body: dict[str, Any]
    event_type: str
    aggregate_id: str | None = None  # None: the ``id`` of the answer
    headers: Mapping[str, str] = field(default_factory=lambda: REGIONAL)


class Load:
    """Commands for every given service at a steady pace: one thread per service, round-robin
    over its replicas, so a dead service only refuses its own share.

    A command counts as sent when attempted and as accepted when its service answered 2xx: an
    accepted command must have stored its event, which must reach the bus and every projection.
    """

    def __init__(self, urls: Mapping[str, Sequence[str]],
                 rates: Mapping[str, float] | None = None) -> None:
        self.urls = {service: list(u) for service, u in urls.items()}
        self.rates = {s: (rates or RATES)[s] for s in self.urls}
        self.sent: Counter[str] = Counter()
        self.accepted: dict[str, list[tuple[str, str]]] = {s: [] for s in self.urls}
        self.refused: dict[str, Counter[str]] = {s: Counter() for s in self.urls}
        self.org: dict[str, str] = {}
        self.pairs: list[str] = []
        self.started = 0.0
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        # Held while a command is sent: a pause waits on it for the commands in flight.
        self._busy = {s: threading.Lock() for s in self.urls}
        self._threads = [threading.Thread(target=self._run, args=(s,), daemon=True, name=f"load-{s}")
                         for s in self.urls]

    # --- the commands ---

    def send(self, service: str, clients: Sequence[httpx.Client], command: Command,
             first: int = 0) -> dict[str, Any] | None:
        """Send to ``clients[first]``; a refused connection (the request never arrived) goes to
        the next replica, as a load balancer would send it."""
        self.sent[service] += 1
        for attempt in range(len(clients)):
            try:
                response = clients[(first + attempt) % len(clients)].request(
                    command.method, command.path, json=command.body, headers=dict(command.headers))
                break
            except httpx.ConnectError as exc:
                if attempt == len(clients) - 1:
                    self.refused[service][type(exc).__name__] += 1
                    return None
            except httpx.HTTPError as exc:  # cut off in flight: its outcome is unknown
                self.refused[service][type(exc).__name__] += 1
                return None
        if not response.is_success:
            self.refused[service][str(response.status_code)] += 1
            return None
        answer: dict[str, Any] = response.json()
        self.accepted[service].append((command.aggregate_id or answer["id"], command.event_type))
        return answer

    def command(self, service: str, n: int) -> Command:
        if service == "registry":
            return self._registry(n)
        if service == "pairing":
            return Command("POST", f"/pairing/pairs/{self.pairs[n % len(self.pairs)]}/goals",
                           {"title": f"Цель наставничества № {n}"}, "PlanGoalSet",
                           self.pairs[n % len(self.pairs)])
        if service == "monitoring":
            return Command("POST", "/monitoring/surveys", {
                "organisation": BASE_PATH, "survey": "quality-curator", "stage": "quality",
                "respondent_role": "curator",
                "answers": {"overall": 1 + n % 10, "pairs_activity": 8, "documents": 7}},
                "SurveyRecorded")
        if n % 2:
            return Command("POST", "/documents/practices", {
                "org": BASE_PATH, "title": f"Практика № {n}", "form": "учитель – ученик",
                "description": "Наставник и ученик готовятся к олимпиаде по графику."},
                "PracticeSubmitted", headers=CURATOR)
        return Command("POST", "/documents/thanks-letter", {
            "org": BASE_PATH, "organisation_name": "МБОУ «Базовая школа»",
            "signatory": {"position": "Директор", "full_name": "Смирнова Ирина Петровна"},
            "addressee": "ООО «Партнёр»", "text": f"Благодарим за участие в программе, письмо {n}."},
            "DocumentIssued")

    def _registry(self, n: int) -> Command:
        if n % 3 == 0:
            return Command("POST", "/registry/organisations", {
                "code": f"s{n}", "name": f"Школа № {n}", "kind": "school",
                "parent_id": self.org[MUNICIPALITY]}, "OrganisationRegistered")
        return self._mentor(n) if n % 3 == 1 else self._mentee(n)

    def _mentor(self, n: int) -> Command:
        return Command("POST", "/registry/mentors", {
            "organisation_id": self.org[BASE_SCHOOL], "category": "teacher",
            "consent_given_by": "self", "competencies": ["олимпиада"], "capacity": 2,
            "person": {"last_name": "Петрова", "first_name": "Анна", "middle_name": "Сергеевна",
                       "birth_date": (date(1960, 1, 1) + timedelta(days=n)).isoformat()}},
            "MentorRegistered")

    def _mentee(self, n: int) -> Command:
        return Command("POST", "/registry/mentees", {
            "organisation_id": self.org[BASE_SCHOOL], "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": "Иванов", "first_name": "Пётр",
                       "birth_date": (date(2010, 1, 1) + timedelta(days=n)).isoformat(),
                       "guardian_name": "Иванова Мария Ивановна"}}, "MenteeRegistered")

    # --- before the load ---

    def setup(self) -> None:
        """The region, its municipality and base school; pairs to work on; the calendar."""
        with httpx.Client(base_url=self.urls["registry"][0], timeout=30) as registry:
            def organisation(code: str, kind: str, parent: str | None) -> None:
                answer = self.send("registry", [registry], Command("POST", "/registry/organisations", {
                    "code": code, "name": f"Организация {code}", "kind": kind, "parent_id": parent},
                    "OrganisationRegistered"))
                assert answer is not None, self.refused
                self.org[code] = answer["id"]

            organisation(REGION, "region", None)
            organisation(MUNICIPALITY, "municipality", self.org[REGION])
            organisation(BASE_SCHOOL, "school", self.org[MUNICIPALITY])
            if "pairing" in self.urls:
                # Negative numbers: no birth date the load will use later.
                people = [(self.send("registry", [registry], self._mentor(-1 - k)),
                           self.send("registry", [registry], self._mentee(-1 - k)))
                          for k in range(SETUP_PAIRS)]
                assert all(m and e for m, e in people), self.refused
                self._form_pairs([(m["id"], e["id"]) for m, e in people if m and e])
        if "monitoring" in self.urls:
            self._configure_calendar()

    def _form_pairs(self, pairs: list[tuple[str, str]]) -> None:
        people = {person for pair in pairs for person in pair}
        with httpx.Client(base_url=self.urls["pairing"][0], timeout=30, headers=REGIONAL) as pairing:
            def in_pool() -> bool:
                pool = pairing.get(f"/pairing/organisations/{self.org[BASE_SCHOOL]}/pool")
                if pool.status_code != 200:
                    return False
                ids = {p["id"] for p in pool.json()["mentors"] + pool.json()["mentees"]}
                return people <= ids

            wait_until(in_pool, timeout=60, interval=0.2, message="setup people in the pools")
            for mentor, mentee in pairs:
                answer = self.send("pairing", [pairing], Command("POST", "/pairing/pairs", {
                    "form": "teacher-student", "mentor_id": mentor, "mentee_ids": [mentee]},
                    "PairFormed"))
                assert answer is not None, self.refused
                self.pairs.append(answer["id"])

    def _configure_calendar(self) -> None:
        """Organisations report three days from now; the seven-day reminder is due at once, so
        every school the registry registers gets exactly one ``ReportDue``."""
        today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Moscow")).date()
        deadline = today + timedelta(days=3)
        response = httpx.put(f"{self.urls['monitoring'][0]}/monitoring/calendar", headers=REGIONAL,
                             timeout=30, json={
                                 "start": today.isoformat(),
                                 "levels": {"organisation": {
                                     "deadlines": [f"{deadline.month:02d}-{deadline.day:02d}"],
                                     "reminders": [7]}}})
        assert response.status_code == 200, response.text

    # --- running ---

    def _run(self, service: str) -> None:
        interval = 1.0 / self.rates[service]
        clients = [httpx.Client(base_url=url, timeout=10) for url in self.urls[service]]
        try:
            n = 0
            while not self._stop.is_set():
                began = time.monotonic()
                with self._busy[service]:
                    running = self._go.is_set()
                    if running:
                        self.send(service, clients, self.command(service, n), first=n)
                        n += 1
                if not running:
                    self._go.wait(0.1)  # paused; looks at the stop signal again now and then
                    continue
                # Pacing, not waiting for a condition: the load's rate is the point.
                self._stop.wait(max(0.0, interval - (time.monotonic() - began)))
        finally:
            for client in clients:
                client.close()

    def start(self) -> Load:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No command in flight nor sent until the block ends."""
        self._go.clear()
        for lock in self._busy.values():
            with lock:
                pass
        try:
            yield
        finally:
            self._go.set()

    def wait_accepted(self, service: str, more: int, timeout: float = 60.0) -> None:
        target = len(self.accepted[service]) + more
        wait_until(lambda: len(self.accepted[service]) >= target, timeout=timeout, interval=0.05,
                   message=f"{more} more accepted {service} commands")


# --- the counting consumer --------------------------------------------------------------------

seen_metadata = sa.MetaData()
seen = sa.Table("fault_seen", seen_metadata,
                sa.Column("event_id", sa.String(36), primary_key=True),
                sa.Column("source", sa.String(50), nullable=False),
                sa.Column("times", sa.Integer, nullable=False))


class CountById:
    """Counts how often each event id was applied: any value above 1 is a doubled event."""

    name = "fault-count"

    def __init__(self, sources: Sequence[str]) -> None:
        self.sources = tuple(sources)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            updated = conn.execute(seen.update().where(seen.c.event_id == str(envelope.event_id))
                                   .values(times=seen.c.times + 1))
            if updated.rowcount == 0:
                conn.execute(seen.insert().values(event_id=str(envelope.event_id),
                                                  source=envelope.source, times=1))


class CountingConsumer:
    """A ConsumerRunner on its own thread and event loop, reading the streams through every fault."""

    def __init__(self, nats_url: str, db_path: Path, sources: Sequence[str] = ("registry",),
                 filter_subject: str | None = None, keyring: signing.Keyring | None = None) -> None:
        self.nats_url = nats_url
        self.keyring = keyring
        self.sources = tuple(sources)
        self.filter_subject = filter_subject
        # Four streams commit from worker threads at once; on a loaded machine a writer can wait
        # longer than SQLite's default five seconds for the lock.
        self.engine = sa.create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 60})
        sa.event.listen(self.engine, "connect",
                        lambda dbapi, _record: dbapi.execute("PRAGMA journal_mode=WAL"))
        seen_metadata.create_all(self.engine)
        self.restarts = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        daemon=True)
        self._ready = threading.Event()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        nc = await connect(self.nats_url, "fault-consumer", deadline=60)
        runner = ConsumerRunner(self.engine, nc.jetstream(), CountById(self.sources),
                                filter_subject=self.filter_subject, keyring=self.keyring)
        self._ready.set()
        try:
            # As the services' supervisors do: the runner retries the bus itself, while a
            # database refusal ends it, and it starts again from the committed position.
            while not self._stop.is_set():
                try:
                    await runner.run(self._stop)
                except sa.exc.DBAPIError as exc:
                    self.restarts += 1
                    print(f"fault-count restarts after {exc!r}")
                    await asyncio.sleep(0.5)
        finally:
            # Whatever the runner left pending ends here, before its loop is closed.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            with contextlib.suppress(Exception):
                await nc.close()

    def start(self) -> CountingConsumer:
        self._thread.start()
        assert self._ready.wait(60), "consumer did not connect"
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()
        self.engine.dispose()

    def rows(self) -> dict[str, dict[str, int]]:
        """Per source: event id -> times applied."""
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(seen)):
                found.setdefault(row.source, {})[row.event_id] = row.times
        return found


@pytest.fixture
def consumers() -> Iterator[list[CountingConsumer]]:
    started: list[CountingConsumer] = []
    yield started
    for consumer in started:
        consumer.stop()


# --- reading what happened --------------------------------------------------------------------

def read_store(reader: ServiceApplication, after: int = 0) -> list[Envelope]:
    """A service's own store after a position, in store order."""
    found: list[Envelope] = []
    position = after
    while True:
        batch = list(reader.envelopes_after(position, 1000))
        if not batch:
            return found
        found += batch
        position = batch[-1].source_position


async def _stream_ids(js: JetStreamContext, stream: str, subject: str,
                      after: int) -> list[str] | None:
    """Event ids on a stream after a sequence, in order; None while it cannot be read whole."""
    info = await js.stream_info(stream)
    if info.state.last_seq <= after:
        return []
    subscription = await js.pull_subscribe(subject, stream=stream, config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=after + 1, inactive_threshold=10.0))
    ids: list[str] = []
    try:
        while True:
            messages = await subscription.fetch(1000, timeout=5)
            for message in messages:
                if message.metadata.sequence.stream != after + len(ids) + 1:
                    return None  # a message missed on the wire: read again next time
                ids.append((message.headers or {}).get(MESSAGE_ID_HEADER, ""))
            if messages[-1].metadata.num_pending == 0:
                return ids
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


def read_streams(nats_url: str, streams: Mapping[str, tuple[str, int]]) -> dict[str, list[str] | None]:
    """source -> event ids on its stream after a sequence (``streams``: source -> (name, after))."""
    async def read() -> dict[str, list[str] | None]:
        found: dict[str, list[str] | None] = {}
        nc = await connect(nats_url, "fault-ledger", deadline=30)
        try:
            js = nc.jetstream()
            for source, (stream, after) in streams.items():
                try:
                    found[source] = await _stream_ids(js, stream, stream_subjects(source)[0], after)
                except (nats.errors.Error, TimeoutError):
                    found[source] = None  # a leader still being elected after a restart
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def stream_messages(nats_url: str, stream: str) -> int:
    """Messages on the stream; 0 while it cannot answer yet (a leader still being elected after
    a restart), so a wait on it keeps polling instead of failing on the first timeout."""
    async def count() -> int:
        nc = await connect(nats_url, "fault-ledger", deadline=30)
        try:
            return int((await nc.jetstream().stream_info(stream)).state.messages)
        except (nats.errors.Error, TimeoutError):
            return 0
        finally:
            await nc.close()

    return asyncio.run(count())


def stored_count(data_dir: Path, database_url: str, source: str = "registry") -> int:
    reader = store_reader(Settings(data_dir=data_dir, database_url=database_url, db_pool_size=1),
                          source)
    if reader is None:
        return 0
    try:
        return len(read_store(reader))
    finally:
        reader.close()


@dataclass
class Check:
    """A projection against what it should hold: ``expected`` items, ``found`` rows (a row found
    twice, or one with no event behind it, is doubled; an expected item not found is lost)."""

    expected: Counter[str]
    found: Counter[str]

    @property
    def lost(self) -> int:
        return sum((self.expected - self.found).values())

    @property
    def duplicated(self) -> int:
        return sum((self.found - self.expected).values())

    def figures(self) -> list[int]:
        return [sum(self.expected.values()), sum(self.found.values())]


@dataclass
class Snapshot:
    stored: dict[str, list[Envelope]]
    published: dict[str, list[str] | None]
    counted: dict[str, dict[str, int]]
    audit: dict[str, list[str]] | None
    pools: list[str] | None
    dashboard: dict[str, Any] | None
    drafts: list[str] | None


@dataclass
class Ledger:
    test: str
    service: str
    sent: int
    accepted: int
    refused: dict[str, int]
    stored: int
    published: int
    projected: int  # the fewest of any projection below; each must equal ``stored``
    duplicated: int
    lost: int
    out_of_order: int
    projections: dict[str, int] = field(default_factory=dict)
    #: What this service consumed, each as [expected, found].
    consumed: dict[str, list[int]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return (self.lost == self.duplicated == self.out_of_order == 0
                and self.stored == self.published == self.projected)

    def report(self) -> None:
        figures = asdict(self)
        figures["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
        print(f"\nFAULT FIGURES {json.dumps(figures, ensure_ascii=False)}")
        out = os.environ.get("NASTAVNIK_FAULT_FIGURES")
        if out:
            with open(out, "a") as handle:
                handle.write(json.dumps(figures, ensure_ascii=False) + "\n")


def assert_exact(ledgers: Sequence[Ledger]) -> None:
    for ledger in ledgers:
        assert ledger.lost == 0, ledger
        assert ledger.duplicated == 0, ledger
        assert ledger.out_of_order == 0, ledger
        assert ledger.stored == ledger.published == ledger.projected, ledger
        assert ledger.accepted <= ledger.stored, ledger
        for name, (expected, found) in ledger.consumed.items():
            assert expected == found, (name, ledger)


def _in_order(expected: Sequence[str], found: Sequence[str]) -> int:
    """Positions where ``found`` departs from the order of ``expected`` (the store's): a skipped,
    doubled or swapped event shifts every position after it."""
    return sum(a != b for a, b in zip(expected, found, strict=False))


# --- the deployment under test ----------------------------------------------------------------

class Deployment:
    """Service processes on one data folder and database, the load, and the ledger."""

    def __init__(self, tmp_path: Path, nats_url: str, database_url: str,
                 processes: list[ServiceProcess], consumers: list[CountingConsumer]) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.nats_url = nats_url
        self.database_url = database_url
        self.processes = processes
        self.consumers = consumers
        self.replicas: dict[str, list[ServiceProcess]] = {}
        self.load: Load | None = None
        self.counter: CountingConsumer | None = None
        #: source -> (NATS URL, stream) the ledger compares with the source's store.
        self.streams: dict[str, tuple[str, str]] = {}
        self._readers: dict[str, ServiceApplication] = {}
        self._audit_engine: sa.Engine | None = None
        # What the ledger read so far: stores, streams and the audit log only ever grow.
        self._stored: dict[str, list[Envelope]] = {}
        self._published: dict[str, list[str]] = {}
        self._logged: list[tuple[str, str]] = []

    @property
    def settings(self) -> Settings:
        # One connection per store read: the ledger reads one at a time, and PostgreSQL's
        # connections are shared with eight service processes.
        return Settings(data_dir=self.data_dir, database_url=self.database_url, db_pool_size=1)

    def start(self, *names: str, replicas: int = 1, stream_replicas: int = 3,
              env: Mapping[str, str] | None = None) -> dict[str, float]:
        """Start the services (all replicas at once, as an orchestrator would); ready times."""
        for name in names or SOURCES:
            started = [ServiceProcess(name, self.data_dir, self.nats_url, self.database_url,
                                      stream_replicas, env=env) for _ in range(replicas)]
            self.replicas[name] = started
            self.streams.setdefault(name, (self.nats_url, stream_name(name)))
            for process in started:
                self.processes.append(process.start())
        return {f"{p.service}.ready" if replicas == 1 else f"{p.service}.{i}.ready": p.wait_ready()
                for name in names or SOURCES for i, p in enumerate(self.replicas[name])}

    def process(self, service: str, replica: int = 0) -> ServiceProcess:
        return self.replicas[service][replica]

    def start_load(self, rates: Mapping[str, float] | None = None, counter_url: str | None = None,
                   counter_sources: Sequence[str] | None = None,
                   filter_subject: str | None = None) -> Load:
        """Set up the region, start counting every started service's stream, return the load
        (not yet running). The counter may read elsewhere (the hub's copy of a leaf's stream)."""
        self.load = Load({s: [p.url for p in r] for s, r in self.replicas.items()}, rates)
        self.load.setup()
        self.counter = CountingConsumer(counter_url or self.nats_url, self.tmp_path / "counter.sqlite",
                                        counter_sources or list(self.replicas), filter_subject,
                                        signing.load_keyring(self.settings))  # the services' keys
        self.consumers.append(self.counter.start())
        return self.load

    # --- reading ---

    def _reader(self, source: str) -> ServiceApplication | None:
        if source not in self._readers:
            reader = store_reader(self.settings, source)
            if reader is None:
                return None
            self._readers[source] = reader
        return self._readers[source]

    def _api(self, service: str, path: str, **params: Any) -> Any:
        for process in self.replicas.get(service, []):
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{process.url}{path}", params=params, headers=REGIONAL,
                                     timeout=10)
                if response.status_code == 200:
                    return response.json()
        return None

    def _audit(self) -> dict[str, list[str]]:
        if self._audit_engine is None:
            self._audit_engine = view_engine(self.settings, "monitoring")
        entries = build_metadata().tables["audit_entries"]
        with self._audit_engine.connect() as conn:
            rows = conn.execute(sa.select(entries.c.source, entries.c.event_id)
                                .where(entries.c.position > len(self._logged))
                                .order_by(entries.c.position)).all()
        self._logged += [(source, event_id) for source, event_id in rows]
        found: dict[str, list[str]] = {}
        for source, event_id in self._logged:
            found.setdefault(source, []).append(event_id)
        return found

    def snapshot(self) -> Snapshot:
        """Downstream first: what consumers hold, then the streams, then the stores. Streams,
        stores and the audit log only grow, so each is read on from where the last look ended."""
        assert self.load is not None and self.counter is not None
        running = set(self.replicas)
        audit = self._audit() if "monitoring" in running else None
        pools: list[str] | None = None
        if "pairing" in running:
            pool = self._api("pairing", f"/pairing/organisations/{self.load.org[BASE_SCHOOL]}/pool")
            pools = None if pool is None else [p["id"] for p in pool["mentors"] + pool["mentees"]]
        dashboard = self._api("monitoring", f"/monitoring/regions/{REGION}/dashboard") \
            if "monitoring" in running else None
        drafts: list[str] | None = None
        if "documents" in running:
            reports = self._api("documents", "/documents/reports", under=REGION)
            drafts = None if reports is None else [r["report_id"] for r in reports]
        counted = self.counter.rows()
        published: dict[str, list[str] | None] = {}
        for url in {u for u, _ in self.streams.values()}:
            wanted = {s: (n, len(self._published.get(s, []))) for s, (u, n) in self.streams.items()
                      if u == url}
            for source, ids in read_streams(url, wanted).items():
                if ids is not None:
                    self._published[source] = self._published.get(source, []) + ids
                published[source] = None if ids is None else list(self._published[source])
        stored: dict[str, list[Envelope]] = {}
        for source in ("documents", "monitoring", "pairing", "registry"):  # downstream first
            reader = self._reader(source) if source in running else None
            if reader is not None:
                held = self._stored.setdefault(source, [])
                held += read_store(reader, held[-1].source_position if held else 0)
                stored[source] = list(held)
        return Snapshot(stored, published, counted, audit, pools, dashboard, drafts)

    # --- the ledger ---

    def consumed(self, snap: Snapshot) -> dict[str, dict[str, Check]]:
        """Per consuming service, its projections of the others' events against those events."""
        events: Counter[str] = Counter(e.type for s in snap.stored.values() for e in s)
        registry = snap.stored.get("registry", [])
        checks: dict[str, dict[str, Check]] = {}
        if snap.pools is not None:
            base = self.load.org[BASE_SCHOOL] if self.load else ""
            people = [str(e.aggregate_id) for e in registry
                      if e.type in ("MentorRegistered", "MenteeRegistered")
                      and str(e.payload["organisation_id"]) == base]
            checks["pairing"] = {"pools": Check(Counter(people), Counter(snap.pools))}
        if snap.dashboard is not None:
            d = snap.dashboard
            figures = {"organisations": "OrganisationRegistered", "mentors": "MentorRegistered",
                       "mentees": "MenteeRegistered", "pairs": "PairFormed", "surveys": "SurveyRecorded"}
            shown = {"organisations": d["organisations"]["total"], "mentors": d["mentors"]["total"],
                     "mentees": d["mentees"]["total"], "pairs": d["pairs"]["formed"],
                     "surveys": d["surveys"]["total"]}
            schools = [str(e.org) for e in registry if e.type == "OrganisationRegistered"
                       and e.payload["kind"] == "school"]
            due = [str(e.org) for e in snap.stored.get("monitoring", []) if e.type == "ReportDue"]
            checks["monitoring"] = {
                f"dashboard.{name}": Check(Counter({name: events[kind]}),
                                           Counter({name: int(shown[name] or 0)}))
                for name, kind in figures.items()}
            checks["monitoring"]["calendar.report_due"] = Check(Counter(schools), Counter(due))
        if snap.drafts is not None:
            due_ids = {e.payload["report_id"] for e in snap.stored.get("monitoring", [])
                       if e.type == "ReportDue"}
            checks["documents"] = {"report_drafts": Check(Counter(due_ids), Counter(snap.drafts))}
        return checks

    def ledgers(self, test: str, snap: Snapshot, timings: Mapping[str, float]) -> list[Ledger]:
        assert self.load is not None
        consumed = self.consumed(snap)
        ledgers = []
        for source in self.replicas:
            stored = [str(e.event_id) for e in snap.stored.get(source, [])]
            published = snap.published.get(source)
            stream = published if published is not None else []
            lost = len(set(stored) - set(stream))
            duplicated = (len(stream) - len(set(stream))) + len(set(stream) - set(stored))
            out_of_order = _in_order(stored, stream)
            counted = snap.counted.get(source, {})
            lost += len(set(stored) - set(counted))
            duplicated += sum(t - 1 for t in counted.values()) + len(set(counted) - set(stored))
            sizes = {"counter": sum(counted.values())}
            if snap.audit is not None:
                logged = snap.audit.get(source, [])
                sizes["audit_log"] = len(logged)
                lost += len(set(stored) - set(logged))
                duplicated += (len(logged) - len(set(logged))) + len(set(logged) - set(stored))
                out_of_order += _in_order(stored, logged)
            # An accepted command whose event is not in the store is lost too.
            have = Counter((str(e.aggregate_id), e.type) for e in snap.stored.get(source, []))
            lost += sum((Counter(self.load.accepted.get(source, [])) - have).values())
            checks = consumed.get(source, {})
            lost += sum(c.lost for c in checks.values())
            duplicated += sum(c.duplicated for c in checks.values())
            ledgers.append(Ledger(
                test=test, service=source, sent=self.load.sent[source],
                accepted=len(self.load.accepted.get(source, [])),
                refused=dict(self.load.refused.get(source, {})), stored=len(stored),
                published=len(stream) if published is not None else -1,
                projected=min(sizes.values()), duplicated=duplicated, lost=lost,
                out_of_order=out_of_order, projections=sizes,
                consumed={name: c.figures() for name, c in checks.items()},
                timings={k: v for k, v in timings.items()
                         if k.split(".")[0] in (source, "all") or k.split(".")[0] not in SOURCES}))
        return ledgers

    def settle(self, test: str, timings: dict[str, float], timeout: float = 180.0,
               counters: Callable[[], Mapping[str, int]] | None = None) -> list[Ledger]:
        """Wait until every stored event reached the stream and every projection exactly once,
        then print and return the ledgers. A doubled or reordered event never heals, so the
        wait ends as soon as one shows; a lost one shows as the wait running out."""
        started = time.monotonic()
        last: list[list[Ledger]] = []

        def settled() -> bool:
            ledgers = self.ledgers(test, self.snapshot(), timings)
            last[:] = [ledgers]
            return all(ledger.exact for ledger in ledgers) or any(
                ledger.duplicated or ledger.out_of_order for ledger in ledgers)

        with contextlib.suppress(AssertionError):
            wait_until(settled, timeout=timeout, interval=0.5, message="every event settled")
        timings["all.drain_after_load"] = time.monotonic() - started
        counted = counters() if counters is not None else {}
        for ledger in last[0]:
            ledger.timings["all.drain_after_load"] = timings["all.drain_after_load"]
            ledger.counters = {k: v for k, v in counted.items() if k.split(".")[0] == ledger.service}
            ledger.report()
        return last[0]

    def wait_published(self, timeout: float = 120.0) -> None:
        """Until every stream holds everything its store holds (with the load paused: the relays
        have nothing left to do)."""
        def published() -> bool:
            snap = self.snapshot()
            return all(snap.published.get(s) is not None
                       and len(snap.published[s] or []) == len(stored)
                       for s, stored in snap.stored.items())

        wait_until(published, timeout=timeout, interval=0.25, message="every store published")

    def drained(self, service: str, since: Snapshot) -> Callable[[], bool]:
        """A condition: ``service`` published what its store held at ``since``, and its
        projections hold what they should have held then (its backlog after a restart)."""
        def check() -> bool:
            now = self.snapshot()
            published = now.published.get(service)
            if published is None or len(published) < len(since.stored.get(service, [])):
                return False
            if service == "monitoring" and now.audit is not None:
                target = sum(len(p or []) for p in since.published.values())
                if sum(len(a) for a in now.audit.values()) < target:
                    return False
            expected = self.consumed(since).get(service, {})
            found = self.consumed(now).get(service, {})
            return all(sum(found[name].found.values()) >= sum(then.expected.values())
                       for name, then in expected.items() if name in found)

        return check

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        if self._audit_engine is not None:
            self._audit_engine.dispose()


@pytest.fixture
def deployment(cluster: NatsCluster, database_url: str, tmp_path: Path,
               services: list[ServiceProcess],
               consumers: list[CountingConsumer]) -> Iterator[Deployment]:
    running = Deployment(tmp_path, cluster.urls, database_url, services, consumers)
    try:
        yield running
    finally:
        running.close()
