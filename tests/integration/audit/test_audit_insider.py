"""The insider: on a copy of a data folder, one entry of the log is rewritten, its chain
recomputed and every head re-signed with the log's own key. The log's own checks pass such a
copy; the witness refuses to cosign it, and verify/check with the witness's checkpoints name
a fork at the rewritten position."""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from services.monitoring.audit import AuditEnvelope
from services.monitoring.audit.chain import ZERO_HASH, CompactRange, chain_next, leaf_hash
from services.monitoring.audit.cli import app
from services.monitoring.audit.feeder import (
    HEADS_FILE_NAME,
    SERVICE,
    AuditLog,
    audit_envelope,
    init_key,
)
from services.monitoring.audit.heads import HeadsFile
from services.monitoring.audit.witness import ALARMS_FILE, COSIGNED_FILE, WITNESS_REFUSALS
from shared.auth import Actor, OrgPath, Role
from shared.contracts import Envelope
from shared.events import schema_version
from shared.settings import Settings

runner = CliRunner()
T0 = datetime(2026, 2, 28, 10, tzinfo=UTC)
ACTOR = Actor(user="curator", role=Role.CURATOR, scope=OrgPath.parse("demo/m1/s1"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NASTAVNIK_DATABASE_URL", raising=False)
    return tmp_path / "data"


def envelope(i: int) -> AuditEnvelope:
    event = Envelope(event_id=uuid.UUID(int=i), type="ConsentWithdrawn",
                     schema_version=schema_version("ConsentWithdrawn"),
                     occurred_at=T0 + timedelta(days=i), actor=ACTOR,
                     org=OrgPath.parse("demo/m1/s1"), correlation_id=uuid.UUID(int=500 + i),
                     source="registry", source_position=i, aggregate_id=uuid.UUID(int=100 + i),
                     aggregate_version=1, payload={})
    return audit_envelope(event)


def invoke(*args: str) -> object:
    return runner.invoke(app, [str(a) for a in args])


def witnessed_log(data_dir: Path, witness_dir: Path, count: int = 6) -> str:
    """A log whose every growth the witness cosigned; returns the witness's key."""
    settings = Settings(data_dir=data_dir)
    init_key(settings)
    vkey = invoke("witness", "log-vkey", "--data-dir", data_dir).output.strip()
    made = invoke("witness", "init", "--witness-dir", witness_dir, "--log-key", vkey)
    assert made.exit_code == 0, made.output
    audit = AuditLog.open(settings)
    for i in range(1, count + 1):
        with audit.store.engine.begin() as conn:
            audit.store.append_batch(conn, [envelope(i)])
        cosigned = invoke("witness", "cosign", "--witness-dir", witness_dir, "--data-dir", data_dir)
        assert cosigned.exit_code == 0, cosigned.output
    audit.store.engine.dispose()
    return invoke("witness", "vkey", "--witness-dir", witness_dir).output.strip()


def rewrite_entry(data_dir: Path, position: int) -> None:
    """What an insider with the files and the key does: edit, recompute, re-sign everything."""
    audit = AuditLog.open(Settings(data_dir=data_dir))
    store = audit.store
    t = store.entries
    with store.engine.begin() as conn:
        entries = list(store.iter_entries(conn))
        chain, acc = ZERO_HASH, CompactRange()
        roots = {}
        for e in entries:
            if e.position == position:
                forged = e.data.replace(b"2026-03-03", b"2026-02-27")  # its date moved back
                assert forged != e.data
                e = dataclasses.replace(e, data=forged)
            leaf = leaf_hash(e.entry_bytes())
            chain = chain_next(chain, leaf)
            acc.append(leaf)
            roots[e.position] = (acc.root(), chain)
            conn.execute(sa.update(t).where(t.c.position == e.position).values(
                data=e.data, leaf_hash=leaf, chain_hash=chain))
        conn.execute(sa.update(store.state).where(store.state.c.id == 1).values(
            chain_hash=chain, frontier=json.dumps(acc.to_hex())))
    heads_path = data_dir / SERVICE / HEADS_FILE_NAME
    old = HeadsFile(heads_path).all()
    heads_path.unlink()
    for head in old:
        root, chain = roots[head.size]
        HeadsFile(heads_path).append(audit.signer.sign(head.size, root.hex(), chain.hex(),
                                                       head.time))
    store.engine.dispose()


def test_the_insider_rewrite_is_a_fork_to_the_witness(data_dir: Path, tmp_path: Path) -> None:
    witness_dir = tmp_path / "witness"
    witness_key = witnessed_log(data_dir, witness_dir)
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    rewrite_entry(copy, 3)

    # The log's own anchors are fooled: its heads were re-signed with its own key.
    fooled = invoke("verify", "--data-dir", copy, "--no-services")
    assert fooled.exit_code == 0, fooled.output

    checkpoints = witness_dir / COSIGNED_FILE
    caught = invoke("verify", "--data-dir", copy, "--no-services", "--checkpoints", checkpoints,
                    "--witness-key", witness_key)
    assert caught.exit_code == 1, caught.output
    assert "[FORKED] позиция 3:" in caught.output

    refusals = WITNESS_REFUSALS.labels(reason="FORK")._value.get()
    refused = invoke("witness", "cosign", "--witness-dir", witness_dir, "--data-dir", copy)
    assert refused.exit_code == 1 and "ТРЕВОГА" in refused.output
    assert WITNESS_REFUSALS.labels(reason="FORK")._value.get() == refusals + 1
    assert "журнал переписан" in (witness_dir / ALARMS_FILE).read_text(encoding="utf-8")
    assert len((witness_dir / COSIGNED_FILE).read_text().splitlines()) == 6  # nothing cosigned

    out = tmp_path / "export.jsonl"
    exported = invoke("export", "--out", out, "--data-dir", copy)
    assert exported.exit_code == 0, exported.output
    checked = invoke("check", out, "--checkpoints", checkpoints, "--witness-key", witness_key)
    assert checked.exit_code == 1, checked.output
    assert "[FORKED] позиция 3:" in checked.output

    # The untouched original passes the same checks, and the witness goes on cosigning it.
    assert invoke("verify", "--data-dir", data_dir, "--no-services", "--checkpoints", checkpoints,
                  "--witness-key", witness_key).exit_code == 0
    assert invoke("witness", "cosign", "--witness-dir", witness_dir,
                  "--data-dir", data_dir).exit_code == 0


def test_check_keeps_the_auditors_own_state(data_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=data_dir)
    init_key(settings)
    audit = AuditLog.open(settings)
    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, [envelope(i) for i in range(1, 5)])
    key = tmp_path / "log.pub"
    key.write_text(invoke("public-key", "--data-dir", data_dir).output)
    first = tmp_path / "first.jsonl"
    assert invoke("export", "--out", first, "--data-dir", data_dir).exit_code == 0

    unpinned = invoke("check", first)
    assert unpinned.exit_code == 2 and "--public-key" in unpinned.output

    saved = tmp_path / "verified-head.json"
    ok = invoke("check", first, "--public-key", key, "--save-head", saved)
    assert ok.exit_code == 0, ok.output
    assert json.loads(saved.read_text())["size"] == 4

    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, [envelope(i) for i in range(5, 7)])
    second = tmp_path / "second.jsonl"
    assert invoke("export", "--out", second, "--data-dir", data_dir, "--from", "2026-03-01",
                  "--proof-from", "4").exit_code == 0
    later = invoke("check", second, "--public-key", key, "--prev-head", saved, "--save-head", saved)
    assert later.exit_code == 0, later.output
    stale = invoke("check", first, "--public-key", key, "--prev-head", saved)
    assert stale.exit_code == 1 and "[STALE]" in stale.output

    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    rewrite_entry(copy, 3)
    forged = tmp_path / "forged.jsonl"
    assert invoke("export", "--out", forged, "--data-dir", copy).exit_code == 0
    forked = invoke("check", forged, "--public-key", key, "--prev-head", saved)
    assert forked.exit_code == 1 and "[FORKED]" in forked.output
    audit.store.engine.dispose()


def test_trail_and_replay_check_the_log_before_they_answer(data_dir: Path, tmp_path: Path) -> None:
    witness_dir = tmp_path / "witness"
    witness_key = witnessed_log(data_dir, witness_dir)
    record = str(uuid.UUID(int=103))  # the aggregate of entry 3
    checkpoints = ("--checkpoints", witness_dir / COSIGNED_FILE, "--witness-key", witness_key)
    honest = invoke("trail", record, "--data-dir", data_dir, *checkpoints)
    assert honest.exit_code == 0, honest.output
    assert "Журнал проверен до записи 3: цел" in honest.output and "2026-03-03T10" in honest.output

    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    rewrite_entry(copy, 3)
    forged = invoke("trail", record, "--data-dir", copy, *checkpoints)
    assert forged.exit_code == 1
    assert "ЖУРНАЛ НЕ ЦЕЛ в показанной части: [FORKED] позиция 3" in forged.output
    assert "не подтверждено" in forged.output

    # The entries carry March 2026 but were appended today: what was true then, as known now.
    replayed = invoke("replay", "--as-of", "2026-03-31", "--basis", "known", "--data-dir", copy,
                      *checkpoints)
    assert replayed.exit_code == 1 and "[FORKED] позиция 3" in replayed.output
    published = tmp_path / "log.pub"
    published.write_text(invoke("public-key", "--data-dir", data_dir).output)
    (copy / "secrets" / "audit-head.key").unlink()  # an auditor's copy: no private key
    unkeyed = invoke("trail", record, "--data-dir", copy)
    assert unkeyed.exit_code == 1 and "НЕ ПРОВЕРЕНО" in unkeyed.output


def test_the_embedded_witness_cosigns_each_head_and_refuses_a_rewrite(
        data_dir: Path, tmp_path: Path) -> None:
    from services.monitoring.audit.embedded_witness import EmbeddedWitness, init_embedded_witness

    settings = Settings(data_dir=data_dir)
    init_key(settings)
    folder = init_embedded_witness(settings)
    assert folder != data_dir / SERVICE and (folder / "witness.key").exists()
    audit = AuditLog.open(settings)
    witness = EmbeddedWitness(audit, folder)
    assert witness.round() is None  # nothing signed yet
    for i in range(1, 4):
        with audit.store.engine.begin() as conn:
            audit.store.append_batch(conn, [envelope(i)])
        audit.sign_head()
        assert witness.round() == i
    assert witness.round() is None  # nothing new
    audit.store.engine.dispose()

    rewrite_entry(data_dir, 3)  # in place this time: the live log is the one rewritten
    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, [envelope(4)])
    audit.sign_head()
    assert witness.round() is None
    assert witness.refused is not None and witness.refused.reason == "FORK"
    assert witness.round() is None  # one alarm for that checkpoint, not one per round
    assert len((folder / ALARMS_FILE).read_text().splitlines()) == 1
    audit.store.engine.dispose()
