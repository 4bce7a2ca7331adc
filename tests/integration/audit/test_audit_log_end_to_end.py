"""The audit log as it runs: the registry stores events, the relay publishes them to a real
nats-server, the monitoring service logs them; ``nastavnik audit`` (a separate process) checks
the log, the services' stores, trails, exports and replays.

The attacker here has write access to the databases, not to the signing key or heads file.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from services.monitoring.audit.chain import ZERO_HASH, CompactRange, chain_next, leaf_hash
from services.monitoring.audit.feeder import init_key
from services.monitoring.audit.store import AuditStore
from services.monitoring.audit.witness_cli import app as witness_app
from services.monitoring.runtime import MonitoringRuntime
from services.registry.runtime import RegistryRuntime
from shared.auth import Actor, OrgPath, Role, issue_token
from shared.host import create_app
from shared.nats_server import EmbeddedNats
from shared.settings import Settings
from shared.store import view_engine
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[3]
SECRET_NAME = "Зябликова"


@dataclass
class System:
    client: TestClient
    settings: Settings
    registry: RegistryRuntime
    monitoring: MonitoringRuntime

    def headers(self, role: Role = Role.REGIONAL, scope: str = "demo") -> dict[str, str]:
        actor = Actor(user=f"{role.value}-tester", role=role, scope=OrgPath.parse(scope))
        return {"Authorization": f"Bearer {issue_token(actor, self.settings.signing_secret)}"}

    def post(self, url: str, body: dict[str, Any], scope: str = "demo") -> str:
        role = Role.REGIONAL if scope == "demo" else Role.CURATOR
        response = self.client.post(url, json=body, headers=self.headers(role, scope))
        assert response.status_code in (201, 204), response.text
        return str(response.json()["id"]) if response.status_code == 201 else ""

    def wait_caught_up(self) -> None:
        """Every stored event is in the log and folded into the live dashboards."""
        stored = self.registry.service.events.max_position()

        def caught_up() -> bool:
            return (self.monitoring.audit.size() == stored
                    and self.monitoring.dashboards.position == stored)

        wait_until(caught_up, message=f"the audit log and dashboards reaching {stored} events")

    def live_dashboards(self, *scopes: str) -> dict[str, Any]:
        """What the live dashboards show now, by scope."""
        shown = {}
        for scope in scopes:
            response = self.client.get("/monitoring/dashboard", params={"org": scope},
                                       headers=self.headers(Role.REGIONAL, "demo"))
            assert response.status_code == 200, response.text
            shown[scope] = {k: v for k, v in response.json().items() if k != "as_of"}
        return shown


@contextmanager
def running(settings: Settings) -> Iterator[System]:
    registry = RegistryRuntime(settings)
    init_key(settings, exist_ok=True)
    monitoring = MonitoringRuntime(settings, head_interval=0.1)
    with TestClient(create_app(settings, [registry, monitoring])) as client:
        yield System(client, settings, registry, monitoring)


@pytest.fixture
def live(settings: Settings, fresh_nats: EmbeddedNats) -> Settings:
    settings.nats_url = fresh_nats.url
    return settings


def person(organisation_id: str, role: str, last_name: str, index: int) -> dict[str, Any]:
    if role == "mentor":
        return {"organisation_id": organisation_id, "category": "teacher",
                "consent_given_by": "self", "competencies": ["олимпиада"], "capacity": 2,
                "person": {"last_name": last_name, "first_name": "Анна",
                           "birth_date": f"198{index % 10}-03-14"}}
    return {"organisation_id": organisation_id, "category": "student", "grade": 7,
            "consent_given_by": "guardian", "requests": ["олимпиада"],
            "person": {"last_name": last_name, "first_name": "Егор",
                       "birth_date": f"2013-05-{index % 28 + 1:02d}",
                       "guardian_name": f"{last_name}а Мария Ивановна"}}


def build_region(system: System) -> dict[str, str]:
    region = system.post("/registry/organisations", {"code": "demo", "name": "Демо", "kind": "region"})
    municipality = system.post("/registry/organisations", {
        "code": "m1", "name": "Округ", "kind": "municipality", "parent_id": region})
    ids = {"region": region, "municipality": municipality}
    for code in ("school-a", "school-b"):
        ids[code] = system.post("/registry/organisations", {
            "code": code, "name": f"Школа {code}", "kind": "school", "parent_id": municipality})
    return ids


def add_people(system: System, school_id: str, scope: str, mentors: int, mentees: int,
               offset: int = 0) -> list[str]:
    ids = [system.post("/registry/mentors", person(school_id, "mentor", f"Петрова{chr(1072 + i)}", i),
                       scope) for i in range(offset, offset + mentors)]
    ids += [system.post("/registry/mentees", person(school_id, "mentee", f"Орлов{chr(1072 + i)}", i),
                        scope) for i in range(offset, offset + mentees)]
    return ids


def audit_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NASTAVNIK_DATABASE_URL": settings.database_url}
    return subprocess.run([sys.executable, "-m", "services.cli", "audit", *args,
                           "--data-dir", str(settings.data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


# ---- the attacker's tools ---------------------------------------------------------------------

def audit_store(settings: Settings) -> AuditStore:
    return AuditStore(view_engine(settings, "monitoring"))


def snapshot(store: AuditStore) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(store.entries).order_by(store.entries.c.position))]
        state = dict(conn.execute(sa.select(store.state)).one()._mapping)
    return rows, state


def restore(store: AuditStore, saved: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    rows, state = saved
    with store.engine.begin() as conn:
        conn.execute(sa.delete(store.entries))
        conn.execute(store.entries.insert(), rows)
        conn.execute(sa.update(store.state).values(**state))


def recompute_from(store: AuditStore, conn: sa.Connection, start: int) -> None:
    """What an attacker with database access does after rewriting history."""
    t = store.entries
    acc, chain = CompactRange(), ZERO_HASH
    for entry in list(store.iter_entries(conn)):
        leaf = leaf_hash(entry.entry_bytes())
        chain = chain_next(chain, leaf)
        acc.append(leaf)
        if entry.position >= start:
            conn.execute(sa.update(t).where(t.c.position == entry.position)
                         .values(leaf_hash=leaf, chain_hash=chain))
    conn.execute(sa.update(store.state).values(size=acc.size, chain_hash=chain,
                                               frontier=json.dumps(acc.to_hex())))


def move(conn: sa.Connection, store: AuditStore, old: int, new: int) -> None:
    conn.execute(sa.update(store.entries).where(store.entries.c.position == old)
                 .values(position=new))


def edit(store: AuditStore, conn: sa.Connection) -> None:
    t = store.entries
    data = conn.execute(sa.select(t.c.data).where(t.c.position == 5)).scalar_one()
    forged = json.loads(data)
    forged["actor"]["user"] = "someone-else"
    conn.execute(sa.update(t).where(t.c.position == 5).values(
        data=json.dumps(forged, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()))


def delete(store: AuditStore, conn: sa.Connection) -> None:
    conn.execute(sa.delete(store.entries).where(store.entries.c.position == 7))


def insert(store: AuditStore, conn: sa.Connection) -> None:
    t = store.entries
    model = dict(conn.execute(sa.select(t).where(t.c.position == 9)).one()._mapping)
    conn.execute(sa.update(t).where(t.c.position >= 9).values(position=-(t.c.position + 1)))
    conn.execute(sa.update(t).where(t.c.position < 0).values(position=-t.c.position))
    conn.execute(t.insert().values({**model, "position": 9, "source_position": 10_000,
                                    "event_id": "00000000-0000-0000-0000-00000000f00d",
                                    "data": model["data"].replace(b"teacher", b"parent")}))
    recompute_from(store, conn, 9)


def swap(store: AuditStore, conn: sa.Connection) -> None:
    move(conn, store, 3, -3)
    move(conn, store, 11, 3)
    move(conn, store, -3, 11)


def truncate(store: AuditStore, conn: sa.Connection) -> None:
    conn.execute(sa.delete(store.entries).where(store.entries.c.position > 12))
    recompute_from(store, conn, 13)


TAMPERING = [(edit, "EDITED", 5), (delete, "DELETED", 7), (insert, "INSERTED", 9),
             (swap, "REORDERED", 3), (truncate, "TRUNCATED", 13)]


# ---- tests ------------------------------------------------------------------------------------

def test_tampering_with_the_log_is_detected_at_its_position(live: Settings) -> None:
    with running(live) as system:
        ids = build_region(system)
        add_people(system, ids["school-a"], "demo/m1/school-a", mentors=3, mentees=3)
        system.wait_caught_up()
        stored = system.registry.service.events.max_position()
    assert stored == 16  # 4 organisations, 6 people each registered with consent

    intact = audit_cli(live, "verify")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"записей {stored}" in intact.stdout and f"подписано {stored}" in intact.stdout
    assert "registry: 16" in intact.stdout

    store = audit_store(live)
    saved = snapshot(store)
    try:
        for tamper, code, position in TAMPERING:
            with store.engine.begin() as conn:
                tamper(store, conn)
            result = audit_cli(live, "verify")
            assert result.returncode == 1, (tamper.__name__, result.stdout, result.stderr)
            assert f"[{code}] позиция {position}" in result.stdout, (tamper.__name__, result.stdout)
            restore(store, saved)
        assert audit_cli(live, "verify").returncode == 0
    finally:
        store.engine.dispose()


def stored_events_table(settings: Settings) -> tuple[sa.Engine, str, str]:
    if settings.uses_postgres:
        return view_engine(settings, "registry"), "registry_events", "notification_id"
    engine = sa.create_engine(f"sqlite:///{settings.data_dir / 'registry' / 'events.sqlite'}")
    return engine, "stored_events", "rowid"


def test_an_edit_in_a_services_own_event_store_is_detected(live: Settings, tmp_path: Path) -> None:
    with running(live) as system:
        ids = build_region(system)
        add_people(system, ids["school-b"], "demo/m1/school-b", mentors=2, mentees=1)
        system.wait_caught_up()
    witness = tmp_path / "witness"  # vouches for the log as it was before the edit
    made = CliRunner().invoke(witness_app, ["init", "--witness-dir", str(witness), "--log-key",
                                            audit_cli(live, "witness", "log-vkey").stdout.strip()])
    assert made.exit_code == 0, made.output
    cosigned = audit_cli(live, "witness", "cosign", "--witness-dir", str(witness))
    assert cosigned.returncode == 0, cosigned.stdout + cosigned.stderr
    witness_key = CliRunner().invoke(witness_app, ["vkey", "--witness-dir", str(witness)]
                                     ).output.strip()
    engine, table, position_column = stored_events_table(live)
    try:
        with engine.begin() as conn:
            position, state = conn.execute(sa.text(
                f"SELECT {position_column}, state FROM {table} WHERE topic LIKE '%MentorRegistered' "
                f"ORDER BY {position_column} LIMIT 1")).one()
            assert b'"capacity":2' in bytes(state)
            conn.execute(sa.text(f"UPDATE {table} SET state = :state WHERE {position_column} = :p"),
                         {"state": bytes(state).replace(b'"capacity":2', b'"capacity":9'),
                          "p": position})
        unproven = audit_cli(live, "verify")
        # Nothing outside the log vouches for it: either side may have been changed.
        assert unproven.returncode == 1, unproven.stdout + unproven.stderr
        assert f"[LOG_SERVICE_DIVERGED] registry, позиция {position}" in unproven.stdout
        edited = audit_cli(live, "verify", "--checkpoints", str(witness / "cosigned.jsonl"),
                           "--witness-key", witness_key)
        assert edited.returncode == 1, edited.stdout + edited.stderr
        assert f"[SERVICE_EVENT_EDITED] registry, позиция {position}" in edited.stdout
        assert "payload" in edited.stdout  # names what changed

        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {table} SET state = :state WHERE {position_column} = :p"),
                         {"state": bytes(state), "p": position})
            last = conn.execute(sa.text(f"SELECT max({position_column}) FROM {table}")).scalar_one()
            conn.execute(sa.text(f"DELETE FROM {table} WHERE {position_column} = :p"), {"p": last})
        deleted = audit_cli(live, "verify", "--checkpoints", str(witness / "cosigned.jsonl"),
                            "--witness-key", witness_key)
        assert deleted.returncode == 1
        assert f"[SERVICE_EVENT_DELETED] registry, позиция {last}" in deleted.stdout, deleted.stdout
    finally:
        engine.dispose()


def test_withdrawn_consent_keeps_the_chain_and_leaves_no_name(live: Settings, tmp_path: Path) -> None:
    with running(live) as system:
        ids = build_region(system)
        scope = "demo/m1/school-a"
        person_id = system.post("/registry/mentees",
                                person(ids["school-a"], "mentee", SECRET_NAME, 3), scope)
        system.post(f"/registry/people/{person_id}/consent/withdraw", {"reason": "по заявлению"},
                    scope)
        system.wait_caught_up()
        over_http = system.client.get(f"/audit/trail/{person_id}",
                                      headers=system.headers(Role.AUDITOR, "demo"))
        assert over_http.status_code == 200
        assert over_http.headers["X-Audit-Verified"] == "yes"  # checked before it answered
        assert [i["type"] for i in over_http.json()] == [
            "MenteeRegistered", "ConsentRecorded", "ConsentWithdrawn"]
        assert SECRET_NAME not in over_http.text
        curator = system.client.get(f"/audit/trail/{person_id}",
                                    headers=system.headers(Role.CURATOR, scope))
        assert curator.status_code == 403 and curator.json()["code"] == "FORBIDDEN"

    verified = audit_cli(live, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    trail = audit_cli(live, "trail", person_id, "--json")
    assert trail.returncode == 0, trail.stderr
    items = json.loads(trail.stdout)
    assert [i["type"] for i in items] == ["MenteeRegistered", "ConsentRecorded", "ConsentWithdrawn"]
    withdrawal = items[-1]
    assert withdrawal["actor"] == {"user": "curator-tester", "role": "curator", "scope": scope}
    assert withdrawal["org"] == scope and withdrawal["correlation_id"]
    assert SECRET_NAME not in trail.stdout

    out = tmp_path / "export.jsonl"
    exported = audit_cli(live, "export", "--out", str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    text = out.read_text(encoding="utf-8")
    decoded = [base64.b64decode(json.loads(line)["data_b64"]).decode()
               for line in text.splitlines() if '"type":"entry"' in line]
    assert len(decoded) == 7 and any(person_id in d for d in decoded)
    assert SECRET_NAME not in text and not any(SECRET_NAME in d for d in decoded)

    # The auditor's machine has the file and the published key, nothing else.
    key = tmp_path / "audit.pub"
    key.write_text(audit_cli(live, "public-key").stdout)
    checked = subprocess.run([sys.executable, "-m", "services.cli", "audit", "check", str(out),
                              "--public-key", str(key)], cwd=REPO, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ЖУРНАЛ ЦЕЛ: записей 7" in checked.stdout


SCOPES = ("demo", "demo/m1", "demo/m1/school-a", "demo/m1/school-b")


def strip(shown: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in shown.items() if k not in ("as_of", "events")}


def test_replay_as_of_a_past_moment_gives_the_figures_shown_then(live: Settings) -> None:
    with running(live) as system:
        ids = build_region(system)
        add_people(system, ids["school-a"], "demo/m1/school-a", mentors=2, mentees=3)
        system.post("/registry/programmes", {"organisation_id": ids["school-a"],
                                             "form": "ученик – ученик", "school_year": "2025-2026",
                                             "curator": "curator-a"}, "demo/m1/school-a")
        system.wait_caught_up()
        shown_then = system.live_dashboards(*SCOPES)
        t1 = datetime.now(UTC)

        later = add_people(system, ids["school-b"], "demo/m1/school-b", mentors=1, mentees=2,
                           offset=5)
        system.post(f"/registry/people/{later[-1]}/consent/withdraw", {"reason": "переезд"},
                    "demo/m1/school-b")
        system.wait_caught_up()
        shown_now = system.live_dashboards(*SCOPES)

    assert shown_then["demo/m1/school-a"]["mentees"]["by_category"] == {"student": 3}
    assert shown_then["demo"]["organisations"]["by_kind"]["school"] == 2
    assert shown_then["demo/m1/school-a"]["programmes"]["total"] == 1
    assert shown_now != shown_then and shown_now["demo"]["consents"]["withdrawn"] == 1

    def replay(moment: datetime, *org: str) -> dict[str, Any]:
        args = ("--org", org[0]) if org else ()
        replayed = audit_cli(live, "replay", "--as-of", moment.isoformat(), *args, "--json")
        assert replayed.returncode == 0, replayed.stderr
        return {scope: {k: v for k, v in shown.items() if k not in ("as_of", "events")}
                for scope, shown in json.loads(replayed.stdout)["dashboards"].items()}

    # From the log alone: the dashboards exactly as they showed then, KPIs and all.
    assert replay(t1) == {"demo": strip(shown_then["demo"])}
    for scope in SCOPES:
        assert replay(t1, scope) == {scope: strip(shown_then[scope])}
    # Every school is listed under its municipality, one without any people yet too.
    assert [u["scope"] for u in shown_then["demo/m1"]["units"]] == ["demo/m1/school-a",
                                                                   "demo/m1/school-b"]
    assert replay(datetime.now(UTC), "demo/m1") == {"demo/m1": strip(shown_now["demo/m1"])}

    table = audit_cli(live, "replay", "--as-of", t1.date().isoformat(), "--org", "demo")
    assert table.returncode == 0 and "наставляемых" in table.stdout
