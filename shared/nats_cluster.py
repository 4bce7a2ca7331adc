"""A NATS JetStream cluster on loopback, for tests, benchmarks and development.

Every node is a real ``nats-server`` from the wheel with its own store directory, so killing one
with SIGKILL and restarting it behaves as on separate machines: the node rejoins, catches up its
stream replicas, and the streams (3 replicas) never stop taking writes while two nodes live.
Used by the fault tests (``tests/fault``) and the cluster benchmark (``benchmarks/bench_cluster``).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from shared.nats_server import EmbeddedNats, free_port

HUB_DOMAIN = "hub"


def get_json(url: str, timeout: float = 1.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _healthy(monitor_port: int) -> bool:
    """Full health: JetStream enabled, a meta leader known, every stream replica current."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/healthz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class NatsCluster:
    """``with NatsCluster(tmp) as cluster: cluster.urls`` — three routed JetStream nodes."""

    def __init__(self, base_dir: Path, size: int = 3, name: str = "nastavnik",
                 domain: str = HUB_DOMAIN) -> None:
        self.base_dir = base_dir
        self.name = name
        self.domain = domain
        self.cluster_ports = [free_port() for _ in range(size)]
        self.leaf_ports = [free_port() for _ in range(size)]
        self.nodes: list[EmbeddedNats] = []
        for index in range(size):
            node_dir = base_dir / self.server_name(index)
            node_dir.mkdir(parents=True, exist_ok=True)
            config = node_dir / "nats.conf"
            config.write_text(self._config(index))
            self.nodes.append(EmbeddedNats(node_dir / "store", extra_args=["-c", str(config)]))

    def server_name(self, index: int) -> str:
        return f"{self.name}-{index + 1}"

    def _config(self, index: int) -> str:
        routes = ", ".join(f'"nats-route://127.0.0.1:{port}"'
                           for i, port in enumerate(self.cluster_ports) if i != index)
        return "\n".join([
            f'server_name: "{self.server_name(index)}"',
            f'jetstream {{ domain: "{self.domain}" }}',
            f'cluster {{ name: "{self.name}", listen: "127.0.0.1:{self.cluster_ports[index]}", '
            f"routes: [{routes}] }}",
            # no_advertise: a leaf reaches the hub only by the URLs it was given (in tests, a
            # LinkProxy), not by the other nodes' addresses gossiped to it.
            f'leafnodes {{ listen: "127.0.0.1:{self.leaf_ports[index]}", no_advertise: true }}',
            "",
        ])

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> NatsCluster:
        """Every node, healthy; on failure none is left running (``with`` calls no ``__exit__``
        when ``__enter__`` raises, and a node that timed out is still running)."""
        try:
            for node in self.nodes:
                node.start(timeout)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        self.nodes[index].stop(sig)

    def restart(self, index: int, timeout: float = 30.0) -> None:
        self.nodes[index].start(timeout)

    def alive(self, index: int) -> bool:
        process = self.nodes[index].process
        return process is not None and process.poll() is None

    def wait_healthy(self, timeout: float = 30.0, indexes: list[int] | None = None) -> float:
        """Wait until the given (default: all running) nodes report full health; returns seconds."""
        started = time.monotonic()
        wanted = indexes if indexes is not None else [i for i in range(len(self.nodes)) if self.alive(i)]
        while time.monotonic() - started < timeout:
            if all(_healthy(self.nodes[i].monitor_port) for i in wanted) and self.meta_leader():
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"NATS cluster not healthy after {timeout}s")

    # --- where things are ---------------------------------------------------------------------

    @property
    def urls(self) -> str:
        """All client URLs, comma-separated, as NASTAVNIK_NATS_URL takes them."""
        return ",".join(node.url for node in self.nodes)

    @property
    def leaf_urls(self) -> list[str]:
        return [f"nats-leaf://127.0.0.1:{port}" for port in self.leaf_ports]

    def jsz(self, **query: str) -> dict[str, Any]:
        """The monitoring endpoint of the first live node."""
        params = "&".join(f"{k}={v}" for k, v in query.items())
        for index, node in enumerate(self.nodes):
            if self.alive(index):
                try:
                    return dict(get_json(f"http://127.0.0.1:{node.monitor_port}/jsz?{params}"))
                except OSError:
                    continue
        raise ConnectionError("no live NATS node answers")

    def meta_leader(self) -> str | None:
        try:
            return self.jsz().get("meta_cluster", {}).get("leader") or None
        except ConnectionError:
            return None

    def leader_of(self, stream: str) -> int | None:
        """Index of the node leading ``stream`` (None while there is no leader)."""
        try:
            data = self.jsz(accounts="true", streams="true")
        except ConnectionError:
            return None
        for account in data.get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail.get("name") == stream:
                    leader = (detail.get("cluster") or {}).get("leader")
                    for index in range(len(self.nodes)):
                        if self.server_name(index) == leader:
                            return index
        return None

    def wait_leader(self, stream: str, timeout: float = 30.0, not_on: int | None = None) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader_of(stream)
            if leader is not None and leader != not_on and self.alive(leader):
                return leader
            time.sleep(0.1)
        raise TimeoutError(f"no leader for {stream} after {timeout}s")

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
