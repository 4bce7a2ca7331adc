"""The system under measurement as it runs in production: a real ``nats-server`` and each service
in its own process (``nastavnik serve <service>``) against the chosen store.

Nothing here reaches into a service: the bench talks to them over HTTP only, and reads each
process's peak resident memory from ``/proc``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from services.monitoring.audit.feeder import init_key as init_audit_key
from shared.nats_server import EmbeddedNats, free_port
from shared.settings import Settings

CLI = str(Path(sys.executable).with_name("nastavnik"))
REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-of-at-least-thirty-two-bytes"
#: every service of the distributed mode; the portal only renders pages over the others
SERVICES = ("registry", "pairing", "monitoring", "documents")
#: How ``benchmarks/timed_cli.py`` reports a command's own time: the last line on its stderr.
MARK = "BENCH-TIMING "
REGION = "demo"


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except FileNotFoundError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # utime and stime are the 14th and 15th fields of the line, counted from the pid
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServiceProcess:
    """``nastavnik serve <service>`` on a free loopback port."""

    def __init__(self, service: str, data_dir: Path, env: Mapping[str, str], log_dir: Path) -> None:
        self.service = service
        self.data_dir = data_dir
        self.env = dict(env)
        self.log_path = log_dir / f"{service}.log"
        self.rss_mb = 0.0
        self.start()

    def start(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [CLI, "serve", self.service, "--data-dir", str(self.data_dir), "--port", str(self.port)],
                env=self.env, stdout=log_file, stderr=subprocess.STDOUT)

    def wait_started(self, timeout: float = 120.0, attempts: int = 3) -> None:
        """Until the service answers as itself; started again on another port if it exited
        (another program may take a free port between choosing it and binding it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if attempts > 1:
                    attempts -= 1
                    self.start()
                    continue
                raise RuntimeError(f"{self.service} exited ({self.process.returncode}): "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=2)
                # another program on the port: ours cannot bind it, exits, and starts again
                if response.status_code == 200 and self.service in response.json().get("services", {}):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.service} did not start in {timeout:.0f} s")

    def health(self) -> dict[str, Any]:
        body = httpx.get(f"{self.url}/health", timeout=30).raise_for_status().json()
        return dict(body["services"][self.service])

    def peak_rss_mb(self) -> float:
        if self.process.poll() is None:
            self.rss_mb = peak_rss_mb(self.process.pid)
        return self.rss_mb

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.peak_rss_mb()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class System:
    """The running system: where each service answers, and how to reach its store."""

    workdir: Path
    data_dir: Path
    env: dict[str, str]
    nats: EmbeddedNats
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def routes(self) -> dict[str, str]:
        """URL prefix → the process that serves it (a gateway's routing table)."""
        return {f"/{name}": process.url for name, process in self.services.items()}

    def url(self, service: str) -> str:
        return self.services[service].url

    def stored(self) -> dict[str, int]:
        return {name: int(process.health()["stored"]) for name, process in self.services.items()}

    def wait_quiet(self, timeout: float = 3600.0) -> dict[str, int]:
        """Until every stored event is published and the monitoring service holds all of them in
        its audit log and has folded them into the dashboards. Returns the events per service."""
        deadline = time.monotonic() + timeout
        while True:
            health = {name: process.health() for name, process in self.services.items()}
            stored = {name: int(h["stored"]) for name, h in health.items()}
            published = all(int(h["published"]) >= int(h["stored"]) for h in health.values())
            monitoring = health["monitoring"]
            logged = int(monitoring["log_size"])
            folded = int(monitoring["applied"]["dashboards"])
            if published and logged >= sum(stored.values()) and folded >= logged:
                return stored
            if time.monotonic() > deadline:
                raise TimeoutError(f"the system did not settle: {health}")
            time.sleep(0.05)

    def peak_rss(self) -> dict[str, float]:
        figures = {name: process.peak_rss_mb() for name, process in self.services.items()}
        if self.nats.process is not None:
            figures["nats-server"] = peak_rss_mb(self.nats.process.pid)
        return figures

    def cpu_seconds(self) -> dict[str, float]:
        figures = {name: process.cpu_seconds() for name, process in self.services.items()}
        if self.nats.process is not None:
            figures["nats-server"] = cpu_seconds(self.nats.process.pid)
        return figures

    def cli(self, *args: str, timeout: float = 3600.0) -> tuple[float, float, str]:
        """Run a ``nastavnik`` command as an operator would, in its own process against this
        system's data. Returns its wall time, the time of the command itself (without Python's
        start-up and imports) and what it printed."""
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "benchmarks.timed_cli", *args,
                               "--data-dir", str(self.data_dir)],
                              env=self.env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"nastavnik {' '.join(args)}: {done.stdout}{done.stderr}")
        timing = next(line for line in reversed(done.stderr.splitlines()) if line.startswith(MARK))
        return wall, float(json.loads(timing[len(MARK):])["seconds"]), done.stdout


def postgres_schema_url(base: str) -> tuple[str, str]:
    """A throwaway schema in the given database: the bench never touches existing tables."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(sa.make_url(base).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{base}?schema={schema}", schema


def drop_postgres_schema(base: str, schema: str) -> None:
    engine = sa.create_engine(sa.make_url(base).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def postgres_base_url(given: str) -> str:
    if not given:
        raise SystemExit("для --backend postgres задайте NASTAVNIK_BENCH_POSTGRES_URL")
    return given


@contextmanager
def running_system(workdir: Path, backend: str = "sqlite", postgres_url: str = "") -> Iterator[System]:
    """Every service in its own process against one nats-server and one store; stopped (and a
    PostgreSQL schema dropped) on the way out."""
    base = postgres_base_url(postgres_url) if backend == "postgres" else ""
    database_url, schema = postgres_schema_url(base) if base else ("", "")
    try:
        with EmbeddedNats(workdir / "nats") as nats:
            env = {**os.environ, "NASTAVNIK_NATS_URL": nats.url, "NASTAVNIK_DATABASE_URL": database_url,
                   "NASTAVNIK_TOKEN_SECRET": SECRET, "NASTAVNIK_LOG_LEVEL": "WARNING",
                   "NASTAVNIK_REGION": REGION,
                   # the monitoring service signs its audit log's head soon after it grows
                   "NASTAVNIK_AUDIT_HEAD_INTERVAL": "1",
                   # The load comes from a few bench users: the per-caller limit would measure itself.
                   "NASTAVNIK_API_REQUESTS_PER_MINUTE": "0"}
            system = System(workdir, workdir / "data", env, nats)
            system.data_dir.mkdir(parents=True, exist_ok=True)
            # The deployment's explicit step: the monitoring service never makes its log's key.
            init_audit_key(Settings(data_dir=system.data_dir), exist_ok=True)
            try:
                for service in SERVICES:
                    system.services[service] = ServiceProcess(service, system.data_dir, env, workdir)
                for process in system.services.values():
                    process.wait_started()
                yield system
            finally:
                for process in system.services.values():
                    process.stop()
    finally:
        if schema:
            drop_postgres_schema(base, schema)
