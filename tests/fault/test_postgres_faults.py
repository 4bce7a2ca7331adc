"""PostgreSQL restarted under load — a private instance, never the machine's shared server.

Runs when NASTAVNIK_TEST_POSTGRES_URL is set (PostgreSQL is the configuration under test) and
the server binaries are installed; the instance lives in a temporary folder on a free port and
is restarted with ``pg_ctl restart -m immediate``, which is what a crash and recovery look like.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.nats_server import free_port
from tests.conftest import POSTGRES_URL
from tests.fault.conftest import Deployment, assert_exact

pytestmark = pytest.mark.fault
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = Path(BINARIES[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="nastavnik-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        # initdb refuses to run as root; the postgres system user owns the instance then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                        "-l", str(self.dir / "postgres.log"), *args],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "start")

    def restart(self) -> None:
        self.pg_ctl("-m", "immediate", "restart")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL runs are selected by NASTAVNIK_TEST_POSTGRES_URL")
    if not BINARIES:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_restarted_under_load_loses_and_doubles_nothing(
        private_postgres: PrivatePostgres, deployment: Deployment) -> None:
    deployment.database_url = private_postgres.url
    timings = deployment.start("registry")
    load = deployment.start_load(rates={"registry": 20.0})
    with load.running():
        load.wait_accepted("registry", 60)
        began = time.monotonic()
        private_postgres.restart()
        timings["postgres_restart"] = time.monotonic() - began
        accepted = len(load.accepted["registry"])
        load.wait_accepted("registry", 1, timeout=60)
        timings["first_command_after_restart"] = time.monotonic() - began
        deployment.process("registry").wait_ready()
        timings["service_ready"] = time.monotonic() - began
        load.wait_accepted("registry", 60)
        assert len(load.accepted["registry"]) > accepted + 60
    # While the database was away a command was refused as "retry later", never as a crash.
    assert set(load.refused["registry"]) <= {"503"}, load.refused
    ledgers = deployment.settle("PostgreSQL restarted under load", timings)
    assert_exact(ledgers)
