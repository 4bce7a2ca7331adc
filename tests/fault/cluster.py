"""A NATS JetStream cluster and a municipal leaf node on loopback, for tests and development.

Every node is a real ``nats-server`` from the wheel with its own store directory, so killing one
with SIGKILL and restarting it behaves as on separate machines: the node rejoins, catches up its
stream replicas, and the streams (3 replicas) never stop taking writes while two nodes live.
The leaf node reaches the hub through :class:`LinkProxy`, a TCP forwarder that can be cut and
restored, which is what a municipality's poor link looks like to both servers.
"""

from __future__ import annotations

import contextlib
import json
import select
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from shared.nats_server import EmbeddedNats, free_port

HUB_DOMAIN = "hub"


def _get_json(url: str, timeout: float = 1.0) -> Any:
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
        for node in self.nodes:
            node.start(timeout)
        self.wait_healthy(timeout)
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
                    return dict(_get_json(f"http://127.0.0.1:{node.monitor_port}/jsz?{params}"))
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


class LinkProxy:
    """A TCP forwarder between a leaf node and the hub that can be cut and restored.

    Cutting closes every forwarded connection and stops listening, so the leaf sees the hub
    vanish (connection refused on its retries) exactly as when a municipality's link goes down.
    """

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._up = False

    @property
    def url(self) -> str:
        return f"nats-leaf://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        self._up = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self._up = False
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
            if self._listener is not None:
                sockets.append(self._listener)
                self._listener = None
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._up:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if not self._up:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select(list(pair), [], [], 0.5)
                if not self._up and not (self._sockets & {a, b}):
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with self._lock:
                    self._sockets.discard(sock)
                sock.close()

    def __enter__(self) -> LinkProxy:
        self.restore()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cut()


class LeafNode:
    """A municipality's own nats-server: its own JetStream domain, a leaf link to the hub.

    The region's subjects are denied across the link in both directions, so the hub's stream
    never captures the leaf's publishes directly; events travel only by the hub's stream
    *source* (see ``shared.bus.edge_stream_config``), which resumes without loss or doubles.
    """

    def __init__(self, base_dir: Path, hub_urls: list[str], domain: str) -> None:
        self.domain = domain
        base_dir.mkdir(parents=True, exist_ok=True)
        remotes = ", ".join(f'"{url}"' for url in hub_urls)
        config = base_dir / "leaf.conf"
        config.write_text("\n".join([
            f'server_name: "leaf-{domain}"',
            f'jetstream {{ domain: "{domain}" }}',
            "leafnodes {",
            "  reconnect: \"1s\"",
            f"  remotes: [ {{ urls: [{remotes}], deny_imports: [\"nastavnik.>\"], "
            'deny_exports: ["nastavnik.>"] } ]',
            "}",
            "",
        ]))
        self.server = EmbeddedNats(base_dir / "store", extra_args=["-c", str(config)])

    @property
    def url(self) -> str:
        return self.server.url

    def connected(self) -> bool:
        try:
            data = _get_json(f"http://127.0.0.1:{self.server.monitor_port}/leafz")
        except OSError:
            return False
        return bool(data.get("leafnodes"))

    def __enter__(self) -> LeafNode:
        self.server.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.stop()
