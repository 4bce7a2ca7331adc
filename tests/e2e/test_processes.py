"""The system as users and operators start it: separate processes, real NATS, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import nats
import pytest
import sqlalchemy as sa

from services.demo import DEMO_SEED, plan_groups, plan_region
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.consumer import ConsumerRunner
from shared.contracts import Envelope
from shared.nats_server import EmbeddedNats, free_port
from shared.settings import Settings
from shared.store import view_engine
from tests.conftest import TEST_SECRET, wait_until

pytestmark = pytest.mark.many_connections  # service processes or replicas on one database

CLI = str(Path(sys.executable).with_name("nastavnik"))

counts = sa.MetaData()
by_type = sa.Table("test_counts", counts, sa.Column("type", sa.String(50), primary_key=True),
                   sa.Column("n", sa.Integer, nullable=False))


class CountByType:
    name = "count-by-type"
    sources = ("registry",)

    def apply(self, conn: sa.Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            updated = conn.execute(by_type.update().where(by_type.c.type == envelope.type)
                                   .values(n=by_type.c.n + 1))
            if updated.rowcount == 0:
                conn.execute(by_type.insert().values(type=envelope.type, n=1))


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def registry_process(settings: Settings, fresh_nats: EmbeddedNats) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "NASTAVNIK_NATS_URL": fresh_nats.url,
           "NASTAVNIK_DATABASE_URL": settings.database_url, "NASTAVNIK_TOKEN_SECRET": TEST_SECRET}
    process = subprocess.Popen([CLI, "serve", "registry", "--data-dir", str(settings.data_dir),
                                "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        # A cold start imports every library: on a busy machine (two test processes) that takes a while.
        wait_until(lambda: healthy(url), timeout=90, message="registry process healthy")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


async def test_registry_in_its_own_process_feeds_a_consumer_in_another(
        settings: Settings, fresh_nats: EmbeddedNats, registry_process: str, tmp_path: Path) -> None:
    token = issue_token(Actor(user="op", role=Role.REGIONAL, scope=OrgPath(region="demo")), TEST_SECRET)
    with httpx.Client(base_url=registry_process, headers={"Authorization": f"Bearer {token}"}) as api:
        region = api.post("/registry/organisations",
                          json={"code": "demo", "name": "Демо", "kind": "region"}).json()["id"]
        for n in range(5):
            assert api.post("/registry/organisations", json={
                "code": f"m{n}", "name": f"Округ {n}", "kind": "municipality", "parent_id": region,
            }).status_code == 201

    consumer_settings = Settings(data_dir=tmp_path / "consumer")
    engine = view_engine(consumer_settings, "consumer")
    counts.create_all(engine)
    nc = await nats.connect(fresh_nats.url)
    runner = ConsumerRunner(engine, nc.jetstream(), CountByType())

    def consumed() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.sum(by_type.c.n))).scalar() or 0)

    while consumed() < 6:
        await runner.consume("registry", until_caught_up=True)
    with engine.connect() as conn:
        assert dict(conn.execute(sa.select(by_type.c.type, by_type.c.n)).all()) == {
            "OrganisationRegistered": 6}
    await nc.close()
    engine.dispose()


def children_of(pid: int) -> dict[int, str]:
    """The processes ``pid`` started, by process id, with the names they go by in ``ps``."""
    found: dict[int, str] = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found[int(child)] = Path(f"/proc/{child}/comm").read_text().strip()
    return found


def test_up_with_demo_brings_the_whole_system_up_and_stops_cleanly(tmp_path: Path) -> None:
    """With monitoring in a process of its own, as on any machine with several cores."""
    data_dir = tmp_path / "var"
    process = subprocess.Popen([CLI, "up", "--demo", "--data-dir", str(data_dir), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "NASTAVNIK_RUN_APART": "monitoring"})
    try:
        wait_until(lambda: (data_dir / "run.json").exists(), timeout=60, message="run.json")
        info = json.loads((data_dir / "run.json").read_text())
        assert info["nats"].startswith("nats://127.0.0.1:")
        wait_until(lambda: healthy(info["api"]), message="API healthy")
        assert process.stdout is not None
        lines = []
        while not any("Демо-регион" in line for line in lines):
            lines.append(process.stdout.readline())
            assert process.poll() is None, "".join(lines)
        regional = subprocess.run([CLI, "token", "--role", "regional", "--scope", "demo",
                                   "--data-dir", str(data_dir)], capture_output=True, text=True,
                                  check=True).stdout.strip()
        organisations = httpx.get(f"{info['api']}/registry/organisations",
                                  headers={"Authorization": f"Bearer {regional}"}).json()
        plan = plan_region(DEMO_SEED, "small", region_code="demo")
        assert sum(o["kind"] == "municipality" for o in organisations) == len(plan.municipalities)
        assert sum(o["kind"] == "school" for o in organisations) == sum(
            o.kind == "school" for m in plan.municipalities for o in m.organisations)
        # the demo comes with its school year: pairs formed by the plan, their meetings held
        pairs = httpx.get(f"{info['api']}/pairing/pairs",
                          headers={"Authorization": f"Bearer {regional}"}).json()
        assert len(pairs) == sum(len(plan_groups(m)) for m in plan.municipalities)
        assert all(p["meetings"] >= 2 for p in pairs)
        apart = [pid for pid, name in children_of(process.pid).items() if name == "nastavnik-monit"]
        assert len(apart) == 1
        # The monitoring API answers at the one address, from its own process.
        calendar = httpx.get(f"{info['api']}/monitoring/calendar",
                             headers={"Authorization": f"Bearer {regional}"})
        assert calendar.status_code == 200 and "reports" in calendar.json()
        # The API's document is the whole API's, the operations served apart included.
        paths = httpx.get(f"{info['api']}/openapi.json",
                          headers={"Authorization": f"Bearer {regional}"}).json()["paths"]
        assert "/audit/verify" in paths and "/registry/organisations" in paths
        health = httpx.get(f"{info['api']}/health").json()
        assert health["nats"] is True and health["status"] == "ok"
        assert health["services"]["monitoring"]["log_size"] > 0
        wait_until(lambda: httpx.get(f"{info['api']}/health").json()["services"]["registry"][
            "published"] == health["services"]["registry"]["stored"], message="all published")
        events = subprocess.run([CLI, "events", "--source", "registry", "--data-dir", str(data_dir)],
                                capture_output=True, text=True, check=True).stdout.splitlines()
        assert len(events) == health["services"]["registry"]["stored"]
        assert sum("MenteeRegistered" in line for line in events) == sum(
            len(o.mentees) for m in plan.municipalities for o in m.organisations)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert not (data_dir / "run.json").exists()
    assert not Path(f"/proc/{apart[0]}").exists()
