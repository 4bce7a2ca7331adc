"""One bootstrap: the runtimes of the services, the settings they run with, the embedded system.

The ``nastavnik`` command only parses its arguments and calls in here; the demo loader and the
tests build the same runtimes the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import uvicorn
import uvloop

from services.documents.runtime import DocumentsRuntime
from services.monitoring.audit.embedded_witness import init_embedded_witness
from services.monitoring.audit.feeder import init_key as init_audit_key
from services.monitoring.runtime import MonitoringRuntime
from services.pairing.runtime import PairingRuntime
from services.portal.runtime import PortalRuntime
from services.registry.runtime import RegistryRuntime
from shared.host import ServiceRuntime, create_app
from shared.loops import wait_any
from shared.mailcatcher import MailCatcher
from shared.nats_server import EmbeddedNats, free_port
from shared.resilience import DATABASE_UNAVAILABLE, STORE_TRANSIENT, retry_sync
from shared.settings import Settings
from shared.store import schema_setup_lock

#: Every service's runtime by name, in the order ``nastavnik up`` starts them.
RUNTIMES: dict[str, Callable[[Settings], ServiceRuntime]] = {
    "registry": RegistryRuntime,
    "monitoring": MonitoringRuntime,
    "documents": DocumentsRuntime,
    "portal": PortalRuntime,
    "pairing": PairingRuntime,
}
SERVICES = tuple(RUNTIMES)

#: prctl's options (linux/prctl.h): signal a child when its parent ends; name the process.
PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15
#: How often an embedded relay looks for events it was not woken for (none, in one process).
EMBEDDED_RELAY_FALLBACK_SECONDS = 2.0


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of ``nastavnik up``: every service in this process, the portal among them.

    The portal reaches the API at 127.0.0.1 and passes each user's address on in
    X-Forwarded-For, proving with ``shared.middlewares.FORWARDED_BY_HEADER`` that it is the
    portal. The loopback itself is not trusted as a proxy: any local process reaches it and
    could choose its throttle address. ``NASTAVNIK_TRUSTED_PROXIES`` names real proxies.

    Every service stores its events in this process and wakes its relay when it does: the
    relays' look at the store is only a fallback here, every ``EMBEDDED_RELAY_FALLBACK_SECONDS``
    (five looks a second at each of four stores and streams were most of an idle system's CPU),
    less often while none come. One relay per store, so no lease: it would only cost a JetStream
    write every few seconds per service; the expected-sequence guard still holds against a
    ``nastavnik relay`` run meanwhile.
    """
    if "relay_idle_seconds" not in overrides and "NASTAVNIK_RELAY_IDLE_SECONDS" not in os.environ:
        overrides["relay_idle_seconds"] = EMBEDDED_RELAY_FALLBACK_SECONDS
    if "relay_lease_seconds" not in overrides and "NASTAVNIK_RELAY_LEASE_SECONDS" not in os.environ:
        overrides["relay_lease_seconds"] = 0
    return settings_for(data_dir, **overrides)


def runtimes_for(settings: Settings, names: tuple[str, ...] = SERVICES) -> list[ServiceRuntime]:
    def build() -> list[ServiceRuntime]:
        with schema_setup_lock(settings):
            return [RUNTIMES[name](settings) for name in names]

    if not settings.uses_postgres:
        return build()
    # PostgreSQL may refuse connections for a while (restarting, failing over, at its connection
    # limit): wait for it as for NATS, up to the same deadline, rather than exit at once.
    return retry_sync("store at start", build, deadline=settings.connect_deadline_seconds,
                      transient=(*STORE_TRANSIENT, *DATABASE_UNAVAILABLE))


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class NotRunning(Exception):
    """No embedded system runs on this data folder (``run.json`` is absent)."""


def read_run_info(data_dir: Path) -> dict[str, str]:
    path = data_dir / "run.json"
    if not path.exists():
        raise NotRunning(f"{path} не найден: сначала запустите `nastavnik up`")
    return json.loads(path.read_text())


class QuietServer(uvicorn.Server):
    """uvicorn's server, whose main loop wakes once a second (the Date header) rather than ten
    times a second to look for an exit asked: that was a tenth of a core's percent idle. An exit
    asked by a signal still ends the wait at once."""

    _asked: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._asked, self._loop = asyncio.Event(), asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # each tick refreshes the Date header
            await wait_any(self._asked, timeout=1.0)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._asked is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._asked.set)


def uvicorn_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for every API process.

    uvicorn believes X-Forwarded-For and -Proto from loopback unless told otherwise: in
    ``nastavnik up`` any local process could then choose the address the throttles count (and,
    behind the API's one address, every process apart would take the user's word for it). So
    proxy headers are read only from the proxies ``FORWARDED_ALLOW_IPS`` names (the gateway in
    compose and Kubernetes); the portal's own forwarding proves itself (``shared.middlewares``).
    """
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                          proxy_headers=bool(os.environ.get("FORWARDED_ALLOW_IPS")), **options)


async def serve_until_stopped(settings: Settings, runtimes: list[ServiceRuntime],
                              after_start: Callable[[], Any] | None = None,
                              elsewhere: dict[str, str] | None = None) -> None:
    config = uvicorn_config(create_app(settings, runtimes, elsewhere), settings.api_host,
                            settings.api_port)
    server = QuietServer(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
            return
        await asyncio.sleep(0.05)
    if after_start is not None:
        await asyncio.to_thread(after_start)
    await serving


def run_stoppable(main: Coroutine[Any, Any, None]) -> None:
    """Run until Ctrl+C or SIGTERM, then return normally so every ``finally`` runs.

    uvicorn re-raises the signal it caught once it has shut down; turning SIGTERM into
    SystemExit here means the embedded nats-server is stopped rather than orphaned.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt, SystemExit), \
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def serve_one(settings: Settings, service: str) -> None:
    """One service against the NATS and the store its settings name (distributed mode)."""
    run_stoppable(serve_until_stopped(settings, runtimes_for(settings, (service,))))


def run_embedded(settings: Settings, after_start: Callable[[str, str], None]) -> None:
    """Every service, a local nats-server and the API, until Ctrl+C.

    The services named in ``settings.run_apart`` run in processes of their own (``ServicesApart``)
    behind the API's one address; the rest in this process. Once the API and every process
    apart answer, ``run.json`` in the data folder tells other commands (``events``, ``demo``)
    where the system is, and ``after_start(api, nats_url)`` runs.
    """
    data_dir = settings.data_dir
    # Embedded mode's documented first-start step: the audit log's signing key, made once
    # here and never by any other command (``nastavnik audit init-key``).
    init_audit_key(settings, exist_ok=True)
    init_embedded_witness(settings)  # and one witness beside the log, in a folder of its own
    if settings.api_port == 0 or not port_free(settings.api_port):
        settings.api_port = free_port()
    apart = ServicesApart(settings, tuple(settings.run_apart))
    with contextlib.ExitStack() as stack:
        nats = stack.enter_context(EmbeddedNats(data_dir / "nats", secrets_dir=settings.secrets_dir))
        catcher: MailCatcher | None = None
        if not settings.smtp_host:  # the region's mail, caught into <data_dir>/mail
            catcher = stack.enter_context(MailCatcher(data_dir / "mail"))
            settings.smtp_host, settings.smtp_port = "127.0.0.1", catcher.port
        settings.nats_url = nats.url
        api = f"http://127.0.0.1:{settings.api_port}"
        # The portal is served at this same address: the letters' links lead here unless the
        # region named its public address.
        settings.portal_url = settings.portal_url or api
        stack.callback(apart.stop)  # before the bus they use stops
        elsewhere = apart.start(settings)

        def announce() -> None:
            apart.wait_until_serving(settings.connect_deadline_seconds)
            # Written aside and renamed, so a reader never sees a half-written file.
            pending = data_dir / "run.json.tmp"
            where = {"api": api, "nats": nats.url}
            if catcher is not None:  # where the region's mail is caught, for the README's tour
                where["smtp"] = f"smtp://127.0.0.1:{catcher.port}"
            pending.write_text(json.dumps(where))
            pending.replace(data_dir / "run.json")
            after_start(api, nats.url)

        here = tuple(name for name in SERVICES if name not in elsewhere)
        try:
            run_stoppable(serve_until_stopped(settings, runtimes_for(settings, here), announce,
                                              elsewhere))
        finally:
            (data_dir / "run.json").unlink(missing_ok=True)


class ServicesApart:
    """Services that ``nastavnik up`` runs in processes of their own, each serving its API on a
    loopback port behind the API's one address: the system then uses more than one core.

    The processes are forked at once, before this process starts a thread (nats-server's
    watcher, the mail catcher, the event loop's pools): a child then holds no lock a thread of
    ours held, and shares with us, until either side writes to them, the pages of the modules
    already imported. Each waits for the settings known only later (the bus's address, the
    mail server's port) and ends with us.
    """

    def __init__(self, settings: Settings, names: tuple[str, ...]) -> None:
        self._children: dict[str, tuple[BaseProcess, Connection]] = {}
        self._urls: dict[str, str] = {}
        if not names:
            return
        if threading.active_count() > 1:  # a fork would copy locks that no thread will free
            raise RuntimeError("services apart must be forked before any thread starts")
        gc.freeze()  # the collector then leaves the shared pages unwritten
        context = multiprocessing.get_context("fork")
        for name in names:
            ours, theirs = context.Pipe()
            child = context.Process(target=_serve_apart, args=(name, theirs, settings),
                                    name=f"nastavnik-{name}")
            child.start()
            theirs.close()
            self._children[name] = (child, ours)

    def start(self, settings: Settings) -> dict[str, str]:
        """Send each process its settings; returns where each serves (name → base URL)."""
        for name, (_, pipe) in self._children.items():
            port = free_port()
            pipe.send({"nats_url": settings.nats_url, "smtp_host": settings.smtp_host,
                       "smtp_port": settings.smtp_port, "portal_url": settings.portal_url,
                       "api_host": "127.0.0.1", "api_port": port})
            self._urls[name] = f"http://127.0.0.1:{port}"
        return dict(self._urls)

    def wait_until_serving(self, deadline: float) -> None:
        for name, url in self._urls.items():
            child = self._children[name][0]
            retry_sync(f"service {name} at start", lambda c=child, u=url: _serving(c, u),
                       deadline=deadline, transient=(httpx.HTTPError,), max_wait=0.5)

    def stop(self) -> None:
        for child, pipe in self._children.values():
            pipe.close()  # one still waiting for its settings ends on this
            if child.is_alive():
                child.terminate()  # SIGTERM: it stops its loops and its API, as on Ctrl+C
        for child, _ in self._children.values():
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
                child.join()


def _serving(child: BaseProcess, url: str) -> None:
    if not child.is_alive():
        raise RuntimeError(f"process {child.name} ended with {child.exitcode}")
    httpx.get(f"{url}/health", timeout=2.0).raise_for_status()


def _serve_apart(name: str, pipe: Connection, settings: Settings) -> None:
    _end_with_parent(f"nastavnik-{name}")
    try:
        given = pipe.recv()
    except EOFError:  # the system stopped before it was started
        return
    serve_one(settings.model_copy(update=given), name)


def _end_with_parent(title: str) -> None:
    """SIGTERM when the process that forked us ends, however it ends; and a name of our own in
    ``ps`` and ``top`` (Linux's prctl; elsewhere neither, and the parent's ``stop`` still ends us)."""
    with contextlib.suppress(OSError, AttributeError):
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        prctl(PR_SET_NAME, title.encode()[:15])
