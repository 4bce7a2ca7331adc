"""``nastavnik bench-cluster``: the workflow of ``bench-workflow`` (people, pairs, goals, meetings,
accounts, sign-ins through the public API) against the distributed system with 1, 2 and 4
replicas of each service, on PostgreSQL and a 3-node NATS JetStream cluster on loopback.

For each replica count everything starts afresh: the cluster (``shared.nats_cluster``), a new
PostgreSQL schema, and ``nastavnik serve <service>`` processes, ``replicas`` of each service. The
clients reach them as through the region's gateway (``deploy/kubernetes/gateway.conf``): a URL
prefix picks the service, and the requests go round-robin over its replicas. Meanwhile a sampler
reads the machine's CPU (``/proc/stat``), each service's processes' CPU, and what the schema's
PostgreSQL sessions wait for (``pg_stat_activity``): where replicas add no commands per second,
these say whether the cores were full or the commands queued for a lock.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
import typer

from benchmarks.embedded import bench_env
from benchmarks.system import (
    SERVICES,
    ServiceProcess,
    cpu_seconds,
    drop_postgres_schema,
    postgres_schema_url,
)
from benchmarks.workflow import MUNICIPALITY, REGION, STEPS, Workflow
from services.monitoring.audit.feeder import init_key as init_audit_key
from shared.contracts import API_PREFIXES
from shared.nats_cluster import NatsCluster
from shared.settings import Settings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
#: The gateway's routing (deploy/kubernetes/gateway.conf): URL prefix → service.
PREFIXES = {prefix: service for service, prefixes in API_PREFIXES.items() for prefix in prefixes}
#: Sixteen service processes share PostgreSQL's 100 connections with other users of the server.
POOL_SIZE = "2"
#: Times a request refused with 503 (the database's connections all taken) is sent again.
RETRIES = 50


class SpreadTransport(httpx.BaseTransport):
    """The gateway on the client's side: each request to the service its prefix names, in turn
    to each of that service's replicas (one connection pool per replica)."""

    def __init__(self, replicas: Mapping[str, Sequence[str]], retried: Iterator[int]) -> None:
        self.replicas = {service: [(httpx.URL(url), httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))) for url in urls]
            for service, urls in replicas.items()}
        self.turns = {service: itertools.count() for service in replicas}
        self.retried = retried

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        service = PREFIXES[request.url.path.split("/", 2)[1]]
        targets = self.replicas[service]
        # next() of an itertools.count is one C call: atomic for the workflow's threads.
        url, transport = targets[next(self.turns[service]) % len(targets)]
        request.url = request.url.copy_with(scheme=url.scheme, host=url.host, port=url.port)
        request.headers["host"] = request.url.netloc.decode("ascii")
        for _ in range(RETRIES):
            response = transport.handle_request(request)
            if response.status_code != 503:
                return response
            # The API's "nothing was done, send it again" (PostgreSQL's connections all taken,
            # here by whatever else shares the server): a client does, and the bench counts it.
            response.close()
            next(self.retried)
            time.sleep(0.2)
        return transport.handle_request(request)

    def close(self) -> None:
        for targets in self.replicas.values():
            for _, transport in targets:
                transport.close()


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine, every helper's work included."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


@dataclass
class Sample:
    at: float
    machine: tuple[int, int]
    cpu: dict[str, float]
    #: the schema's sessions: active ones, waiting for a lock by its kind, all of them
    active: int
    waits: dict[str, int]
    sessions: int


@dataclass
class Replicated:
    """The distributed system with ``replicas`` processes of every service."""

    replicas: int
    nats: NatsCluster
    engine: sa.Engine
    schema: str
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    _pg_cpu: dict[int, float] = field(default_factory=dict)
    _lock_names: dict[int, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    #: Advanced at every 503 a client sends again (atomic for the workflow's threads).
    retried: Iterator[int] = field(default_factory=itertools.count)

    def http(self, headers: dict[str, str]) -> httpx.Client:
        urls = {name: [p.url for p in group] for name, group in self.processes.items()}
        return httpx.Client(base_url="http://gateway", timeout=120, headers=headers,
                            transport=SpreadTransport(urls, self.retried))

    def cpu_by_service(self) -> dict[str, float]:
        figures = {name: sum(p.cpu_seconds() for p in group) for name, group in self.processes.items()}
        figures["nats-server"] = sum(cpu_seconds(node.process.pid) for node in self.nats.nodes
                                     if node.process is not None)
        return figures

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_service().values())

    def stored(self, attempts: int = 60) -> dict[str, int]:
        """Events in each service's store, counted (positions may skip a number on PostgreSQL);
        read again while the shared server has no connection free."""
        for _ in range(attempts - 1):
            try:
                return self._stored()
            except sa.exc.OperationalError:
                time.sleep(0.5)
        return self._stored()

    def _stored(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            tables = conn.execute(sa.text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = :s "
                "AND column_name = 'originator_version'"), {"s": self.schema}).scalars().all()
            return {table: int(conn.execute(sa.text(
                f'SELECT count(*) FROM "{self.schema}"."{table}"')).scalar_one()) for table in tables}

    def health(self) -> dict[str, list[dict[str, Any]]]:
        return {name: [p.health() for p in group] for name, group in self.processes.items()}

    def wait_quiet(self, timeout: float = 900.0) -> int:
        """Until every stored event is published, in the audit log and in the dashboards."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            stored = self.stored()
            events = sum(stored.values())
            # Published by whichever replica held the relay's lease; counted, as stored.
            published = all(sum(int(h["published"]) for h in group) >= sum(
                n for table, n in stored.items() if table.startswith(name))
                for name, group in health.items())
            # The log is one table; the dashboards' consumer is shared, each replica counts
            # what it applied.
            logged = max(int(h["log_size"]) for h in health["monitoring"])
            folded = sum(int(h["applied"]["dashboards"]) for h in health["monitoring"])
            if published and logged >= events and folded >= logged:
                return events
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster did not settle: {events} stored, {health}")
            time.sleep(0.05)

    def lock_names(self, conn: sa.Connection) -> dict[int, str]:
        """The advisory locks of ``shared.databases`` (``hashtext(schema || key)``) by their
        number: each service's view catch-up and start-up; any other is a command's scope."""
        if not self._lock_names:
            for service in SERVICES:
                for kind in ("view", "start"):
                    key = conn.execute(sa.text("SELECT hashtext(:k)::bigint"),
                                       {"k": f"{self.schema}.{service}.{kind}"}).scalar_one()
                    self._lock_names[int(key)] = f"{service}.{kind}"
        return self._lock_names

    def _pg(self) -> tuple[int, dict[str, int], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
                "WHERE application_name = :s AND pid <> pg_backend_pid()"), {"s": self.schema}).all()
            advisory = conn.execute(sa.text(
                "SELECT (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = :s "
                "AND l.locktype = 'advisory' AND NOT l.granted"), {"s": self.schema}).scalars().all()
            names = self.lock_names(conn)
        waits: dict[str, int] = {}
        for row in rows:
            self._pg_cpu[row.pid] = cpu_seconds(row.pid) or self._pg_cpu.get(row.pid, 0.0)
            if row.wait_event_type == "Lock" and row.wait_event != "advisory":
                waits[row.wait_event] = waits.get(row.wait_event, 0) + 1
        for key in advisory:
            name = f"advisory:{names.get(int(key), 'scope')}"
            waits[name] = waits.get(name, 0) + 1
        return sum(r.state == "active" for r in rows), waits, len(rows)

    def sample(self, every: float = 0.1) -> None:
        while not self._stop.wait(every):
            try:
                active, waits, sessions = self._pg()
            except sa.exc.SQLAlchemyError:
                continue
            cpu = self.cpu_by_service()
            cpu["postgres"] = sum(self._pg_cpu.values())
            self.samples.append(Sample(time.monotonic(), machine_jiffies(), cpu, active, waits, sessions))

    def window(self, start: float, end: float) -> dict[str, Any]:
        """What the samples say of one step's commands (from ``start`` to ``end``)."""
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        wall = last.at - first.at
        cores = os.cpu_count() or 1
        busy = (last.machine[0] - first.machine[0]) / max(1, last.machine[1] - first.machine[1])
        kinds = sorted({k for s in inside for k in s.waits})
        return {"machine_cores_busy": round(busy * cores, 2),
                "cores_by_process": {k: round((last.cpu[k] - first.cpu.get(k, 0.0)) / wall, 2)
                                     for k in last.cpu},
                "pg_active": round(sum(s.active for s in inside) / len(inside), 2),
                "pg_lock_waiting": {k: round(sum(s.waits.get(k, 0) for s in inside) / len(inside), 2)
                                    for k in kinds},
                "pg_samples_with_lock_wait": round(sum(bool(s.waits) for s in inside) / len(inside), 2),
                "pg_sessions_max": max(s.sessions for s in inside)}


def stop_all(processes: Sequence[ServiceProcess], timeout: float = 60.0) -> None:
    """SIGTERM to every process at once (each drains in parallel), then SIGKILL to any left."""
    running = [p.process for p in processes if p.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def replicated(workdir: Path, replicas: int, postgres_url: str) -> Iterator[Replicated]:
    """The cluster, a fresh schema and ``replicas`` processes of every service; all stopped and
    the schema dropped on the way out."""
    database_url, schema = postgres_schema_url(postgres_url)
    admin = sa.create_engine(sa.make_url(postgres_url).set(drivername="postgresql+psycopg"),
                             pool_size=1)
    system: Replicated | None = None
    sampler: threading.Thread | None = None
    try:
        with NatsCluster(workdir / "nats") as nats:
            try:
                data_dir = workdir / "data"
                data_dir.mkdir(parents=True, exist_ok=True)
                # The deployment's explicit step: the monitoring service never makes its log's key.
                init_audit_key(Settings(data_dir=data_dir), exist_ok=True)
                env = bench_env({"NASTAVNIK_NATS_URL": nats.urls, "NASTAVNIK_DATABASE_URL": database_url,
                                 "NASTAVNIK_STREAM_REPLICAS": "3", "NASTAVNIK_REGION": REGION,
                                 "NASTAVNIK_DB_POOL_SIZE": POOL_SIZE,
                                 # libpq names every session after the schema: the sampler finds
                                 # this run's sessions, and the clean-up ends them and no others.
                                 "PGAPPNAME": schema})
                system = Replicated(replicas, nats, admin, schema)
                for service in SERVICES:
                    system.processes[service] = []
                    for n in range(replicas):
                        log_dir = workdir / "logs" / str(n)
                        log_dir.mkdir(parents=True, exist_ok=True)
                        system.processes[service].append(ServiceProcess(service, data_dir, env, log_dir))
                for group in system.processes.values():
                    for process in group:
                        process.wait_started(timeout=300)
                sampler = threading.Thread(target=system.sample, daemon=True)
                sampler.start()
                yield system
            finally:
                # The services first, while NATS still runs: they drain what they hold.
                if system is not None:
                    system._stop.set()
                    if sampler is not None:
                        sampler.join()
                    stop_all([p for group in system.processes.values() for p in group])
    finally:
        drop_patiently(admin, postgres_url, schema)


def drop_patiently(admin: sa.Engine, postgres_url: str, schema: str, attempts: int = 30) -> None:
    """End the run's sessions and drop its schema, waiting out a server whose connections are
    all taken at that moment (it is shared): a schema left behind is never cleaned by anyone."""
    for attempt in range(attempts):
        try:
            with admin.begin() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE application_name = :s AND pid <> pg_backend_pid()"),
                             {"s": schema})
            drop_postgres_schema(postgres_url, schema)
            break
        except sa.exc.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    admin.dispose()


def stored_by_api(workflow: Workflow, code: str, pairs: int) -> dict[str, int]:
    """What the round left in the system, read back through the API: people, pairs, goals,
    meetings (every account signed in, so every account is there)."""
    school = workflow.schools[code]
    curator = workflow.client(f"{REGION}/{MUNICIPALITY}/{code}")
    people = curator.get(f"/registry/organisations/{school}/people").raise_for_status().json()
    found = curator.get("/pairing/pairs", params={"organisation_id": school}).raise_for_status().json()
    goals = sum(len(curator.get(f"/pairing/pairs/{p['id']}").raise_for_status().json()["goals"])
                for p in found[:pairs])
    return {"people": len(people), "pairs": len(found), "goals": goals,
            "meetings": sum(int(p["meetings"]) for p in found)}


@contextmanager
def work_folder(keep: Path | None, name: str) -> Iterator[Path]:
    """A temporary folder, or one kept under ``keep`` (its services' logs, for a post-mortem)."""
    if keep is not None:
        folder = keep / name
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as temporary:
        yield Path(temporary)


def run_one(replicas: int, people_count: int, clients: int, postgres_url: str,
            progress: Callable[[str], None], keep: Path | None = None) -> dict[str, Any]:
    with work_folder(keep, f"replicas-{replicas}") as workdir, \
            replicated(workdir, replicas, postgres_url) as system:
        progress(f"{replicas} реплик(и) каждого сервиса запущены; рабочий процесс, {clients} клиентов")
        system.wait_quiet()
        workflow = Workflow(system)
        load_before = os.getloadavg()
        try:
            code = f"cl{replicas}"
            steps = workflow.round(code, people_count, clients)
            stored = stored_by_api(workflow, code, people_count // 2)
        finally:
            workflow.close()
        for step, (_, start, end) in zip(steps, workflow.windows, strict=True):
            step.update(system.window(start, end))
        return {"replicas": replicas, "steps": steps, "stored": stored,
                "events": sum(system.stored().values()),
                "load_average": [round(v, 2) for v in (*load_before, *os.getloadavg())],
                # read once, at the end: the next number is how many were sent again
                "retried_503": next(system.retried)}


def expected(people_count: int) -> dict[str, int]:
    pairs = people_count // 2
    return {"people": 2 * pairs, "pairs": pairs, "goals": 3 * pairs, "meetings": 2 * pairs}


def run(people_count: int, clients: int, replica_counts: Sequence[int], postgres_url: str,
        progress: Callable[[str], None] = print, keep: Path | None = None) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0))
    runs = [run_one(n, people_count, clients, postgres_url, progress, keep) for n in replica_counts]
    return {"people": people_count, "clients": clients, "cpu_count": os.cpu_count(),
            "affinity_cores": affinity, "expected": expected(people_count), "runs": runs}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def report(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [f"Кластер: 3 узла NATS JetStream, PostgreSQL; {result['people']} человек, "
             f"{result['clients']} клиентов; ядер: {result['cpu_count']} (доступно процессу: "
             f"{result['affinity_cores']}), их делят все процессы машины",
             f"{'шаг':<16}{'реплик':>7}{'команд':>8}{'команд/с':>10}{'p50, мс':>9}{'p99, мс':>9}"
             f"{'ЦП/ком., мс':>12}{'ядер занято':>12}{'ждут блок.':>11}"]
    for s_index, name in enumerate(STEPS):
        for run_ in runs:
            s = run_["steps"][s_index]
            waiting = sum(s.get("pg_lock_waiting", {}).values())
            lines.append(f"{name:<16}{run_['replicas']:>7}{s['commands']:>8}{s['per_s']:>10}"
                         f"{s['p50_ms']:>9}{s['p99_ms']:>9}{s['cpu_ms_per_command']:>12}"
                         f"{s.get('machine_cores_busy', '—'):>12}{waiting:>11.2f}")
    by_count = {r["replicas"]: r for r in runs}
    if 1 in by_count:
        lines.append("отношение команд/с к одной реплике:")
        for n in sorted(by_count):
            if n == 1:
                continue
            ratios = [f"{name} {_ratio(by_count[n]['steps'][i]['per_s'], by_count[1]['steps'][i]['per_s'])}"
                      for i, name in enumerate(STEPS)]
            lines.append(f"  {n} против 1: " + ", ".join(ratios))
    lines.append("где время (за команды шага): ядер машины занято; ядер по процессам; сессий "
                 "PostgreSQL в среднем активно / ждут блокировку (по виду)")
    for s_index, name in enumerate(STEPS):
        for run_ in runs:
            s = run_["steps"][s_index]
            if "cores_by_process" not in s:
                continue
            cores = " ".join(f"{k} {v}" for k, v in s["cores_by_process"].items())
            waits = " ".join(f"{k} {v}" for k, v in s["pg_lock_waiting"].items()) or "нет"
            lines.append(f"  {name:<15}{run_['replicas']:>2}: машина {s['machine_cores_busy']}; {cores}; "
                         f"PG активно {s['pg_active']}, ждут {waits}")
    for r in runs:
        lines.append(f"{r['replicas']} реплик(и): сохранено {r['stored']} (ожидалось "
                     f"{result['expected']}), событий {r['events']}, повторов после 503: "
                     f"{r['retried_503']}, средняя загрузка машины "
                     f"до/после {r['load_average'][:3]} → {r['load_average'][3:]}")
    return "\n".join(lines)


def cluster_command(
        people_count: Annotated[int, typer.Option("--people")] = 200,
        clients: Annotated[int, typer.Option(help="Клиентов одновременно")] = 8,
        replicas: Annotated[str, typer.Option(help="Числа реплик каждого сервиса, через запятую")] = "1,2,4",
        postgres: Annotated[str, typer.Option(envvar="NASTAVNIK_BENCH_POSTGRES_URL",
                                              help="PostgreSQL (схема создаётся и удаляется)")]
        = DEFAULT_POSTGRES,
        json_file: Annotated[Path | None, typer.Option("--json", help="Куда записать цифры")] = None,
        keep: Annotated[Path | None, typer.Option(
            "--keep", help="Папка, где оставить данные и журналы сервисов (по умолчанию удаляются)")]
        = None,
) -> None:
    """Измерить рабочий процесс через API на кластере NATS и PostgreSQL с 1, 2, 4 репликами."""
    if people_count < 2:
        raise typer.BadParameter("нужно хотя бы 2 человека")
    counts = [int(c) for c in replicas.split(",") if c.strip()]
    # Stopped by SIGTERM (a timeout, a CI job), still stop every process and drop the schema.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(people_count, clients, counts, postgres, progress=typer.echo, keep=keep)
    typer.echo(report(result))
    if json_file:
        json_file.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    typer.run(cluster_command)
