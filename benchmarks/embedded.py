"""The embedded system (``nastavnik up``) as a process tree the workflow bench measures from
outside: CPU summed over every process of the tree, resident memory summed at its peak.

Read from ``/proc`` so that the bench needs no library of its own; Linux only, as the bench.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.system import SECRET, cpu_seconds
from shared.nats_server import free_port


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (``nats-server`` is the embedded system's child)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def memory_mb(pid: int) -> float:
    """The process's proportional share of memory (PSS): a page it shares with others (a forked
    service process shares the modules imported before the fork) counts a part for each, so
    the sum over a tree is the memory the tree holds; VmRSS would count it once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except FileNotFoundError:
        return str(pid)


@dataclass
class Embedded:
    """A running ``nastavnik up``: where its API answers, its CPU and its memory."""

    process: subprocess.Popen[bytes]
    api: str
    data_dir: Path
    peak_memory_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def http(self, headers: dict[str, str]) -> httpx.Client:
        """A client of the one API address, as the workflow's many threads share it."""
        return httpx.Client(base_url=self.api, timeout=120, headers=headers,
                            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in tree(self.process.pid))

    def memory_mb(self) -> float:
        return sum(memory_mb(pid) for pid in tree(self.process.pid))

    def watch_memory(self, every: float = 0.2) -> None:
        """Samples the tree's total resident memory until stopped: the peak of the sum, which the
        processes' own high-water marks (reached at different moments) would overstate."""
        while not self._stop.wait(every):
            self.peak_memory_mb = max(self.peak_memory_mb, self.memory_mb())

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.api}/health", timeout=30).raise_for_status().json()["services"])

    def wait_quiet(self, timeout: float = 1800.0) -> int:
        """Until every stored event is published and in the audit log and the dashboards.
        Returns the events stored by every service."""
        deadline = time.monotonic() + timeout
        while True:
            services = self.health()
            stored = sum(int(s.get("stored", 0)) for s in services.values())
            published = all(int(s.get("published", 0)) >= int(s.get("stored", 0))
                            for s in services.values() if "published" in s)
            monitoring = services["monitoring"]
            logged = int(monitoring["log_size"])
            if published and logged >= stored and int(monitoring["applied"]["dashboards"]) >= logged:
                return stored
            if time.monotonic() > deadline:
                raise TimeoutError(f"the system did not settle: {services}")
            time.sleep(0.05)

    def idle_cpu_percent(self, seconds: float) -> float:
        """Share of one core the quiet system uses over ``seconds``."""
        return sum(self.idle_cpu_by_process(seconds).values())

    def idle_cpu_by_process(self, seconds: float) -> dict[str, float]:
        """Share of one core each process of the quiet system uses over ``seconds``, by its
        name (the services' Python process, ``nats-server``): which of them burns it."""
        pids = tree(self.process.pid)
        before, started = {pid: cpu_seconds(pid) for pid in pids}, time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - started
        shares: dict[str, float] = {}
        for pid in pids:
            name = process_name(pid)
            shares[name] = shares.get(name, 0.0) + 100 * (cpu_seconds(pid) - before[pid]) / elapsed
        return shares


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {**os.environ, "NASTAVNIK_TOKEN_SECRET": SECRET, "NASTAVNIK_LOG_LEVEL": "WARNING",
            # The load comes from a few bench clients at one address: the per-caller and
            # per-address limits would measure themselves, not the system.
            "NASTAVNIK_API_REQUESTS_PER_MINUTE": "0", "NASTAVNIK_LOGIN_ADDRESS_ATTEMPTS": "1000000",
            **(extra or {})}


@contextmanager
def embedded(workdir: Path, demo: bool = False, timeout: float = 1800.0) -> Iterator[Embedded]:
    """``nastavnik up`` (with the demo region if asked) until it answers; stopped on the way
    out. Started as ``python -m services.cli`` so that the code under test is the one on
    ``sys.path``."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [sys.executable, "-m", "services.cli", "up", "--data-dir", str(data_dir), "--port", str(port)]
    log = (workdir / "up.log").open("ab")
    process = subprocess.Popen([*args, *(["--demo"] if demo else [])], env=bench_env(),
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    system = Embedded(process, f"http://127.0.0.1:{port}", data_dir)
    watcher = threading.Thread(target=system.watch_memory, daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + timeout
        # With --demo the addresses are printed once the region is loaded.
        while "API:" not in (workdir / "up.log").read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nastavnik up did not start: {(workdir / 'up.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield system
    finally:
        system._stop.set()
        watcher.join()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
