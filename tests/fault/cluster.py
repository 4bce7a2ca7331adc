"""A municipal leaf node on loopback and a link to the hub that can be cut, for the fault tests.

The hub itself is :class:`shared.nats_cluster.NatsCluster`. The leaf node reaches the hub through
:class:`LinkProxy`, a TCP forwarder that can be cut and restored, which is what a municipality's
poor link looks like to both servers.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from pathlib import Path
from types import TracebackType

from shared.nats_cluster import get_json
from shared.nats_server import EmbeddedNats, free_port


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
            data = get_json(f"http://127.0.0.1:{self.server.monitor_port}/leafz")
        except OSError:
            return False
        return bool(data.get("leafnodes"))

    def __enter__(self) -> LeafNode:
        self.server.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.stop()
