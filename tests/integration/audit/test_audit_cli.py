"""``nastavnik audit verify`` as an auditor runs it: it reads and never writes, takes the key the
auditor holds, and says so when the heads that anchor the log are gone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from services.monitoring.audit import AuditEnvelope, public_key_pem
from services.monitoring.audit.cli import app
from services.monitoring.audit.feeder import (
    HEADS_FILE_NAME,
    KEY_FILE_NAME,
    SERVICE,
    VIEWS_FILE_NAME,
    AuditLog,
    AuditReader,
    init_key,
)
from shared.settings import Settings
from shared.store import view_engine

runner = CliRunner()


def envelopes(count: int) -> list[AuditEnvelope]:
    now = datetime.now(UTC)
    return [AuditEnvelope(data=b'{"n":%d}' % i, source="registry", source_position=i,
                          event_id=str(uuid.UUID(int=i)), event_type="ConsentRecorded",
                          occurred_at=now - timedelta(seconds=count - i),
                          aggregate_id=str(uuid.UUID(int=i)), region="demo")
            for i in range(1, count + 1)]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("NASTAVNIK_DATABASE_URL", raising=False)
    return tmp_path / "data"


def logged(data_dir: Path, count: int = 6, sign: bool = True) -> AuditLog:
    """A deployment's log as the monitoring service leaves it."""
    init_key(Settings(data_dir=data_dir), exist_ok=True)
    audit = AuditLog.open(Settings(data_dir=data_dir))
    with audit.store.engine.begin() as conn:
        audit.store.append_batch(conn, envelopes(count))
    if sign:
        audit.sign_head()
    audit.store.engine.dispose()
    return audit


def verify(data_dir: Path, *args: str):
    return runner.invoke(app, ["verify", "--data-dir", str(data_dir), "--no-services", *args])


def test_verify_creates_nothing_in_a_fresh_data_dir(data_dir: Path) -> None:
    result = verify(data_dir)
    assert result.exit_code == 0, result.output
    assert "ЖУРНАЛ ЦЕЛ: записей 0" in result.output
    assert not (data_dir / "secrets" / KEY_FILE_NAME).exists()
    assert not (data_dir / SERVICE / VIEWS_FILE_NAME).exists()
    assert not (data_dir / SERVICE / HEADS_FILE_NAME).exists()


def test_verify_with_the_auditors_own_key_creates_no_key(data_dir: Path, tmp_path: Path) -> None:
    audit = logged(data_dir)
    published = tmp_path / "audit.pub"
    published.write_text(public_key_pem(audit.signer.public_key))
    audit.key_path.unlink()  # the auditor's copy of the data: log and heads, not the private key
    result = verify(data_dir, "--public-key", str(published))
    assert result.exit_code == 0, result.output
    assert "записей 6" in result.output and "подписано 6" in result.output
    assert not audit.key_path.exists()

    stranger = tmp_path / "stranger.pub"
    stranger.write_text(public_key_pem(Ed25519PrivateKey.generate()))
    refused = verify(data_dir, "--public-key", str(stranger))
    assert refused.exit_code == 1 and "[HEAD_INVALID]" in refused.output

    without = verify(data_dir)  # heads to check and no key to check them with
    assert without.exit_code == 2 and "--public-key" in without.output
    assert not audit.key_path.exists()


def test_verify_leaves_the_database_as_it_was(data_dir: Path) -> None:
    logged(data_dir)
    engine = view_engine(Settings(data_dir=data_dir), SERVICE)
    with engine.begin() as conn:  # a log from before the signing record existed
        conn.execute(sa.text("DROP TABLE audit_signing"))
    engine.dispose()
    assert verify(data_dir).exit_code == 0
    engine = view_engine(Settings(data_dir=data_dir), SERVICE)
    try:
        assert not sa.inspect(engine).has_table("audit_signing")
    finally:
        engine.dispose()


def test_verify_reports_a_heads_file_gone_missing(data_dir: Path) -> None:
    logged(data_dir)
    (data_dir / SERVICE / HEADS_FILE_NAME).unlink()
    result = verify(data_dir)
    assert result.exit_code == 1
    assert "[HEADS_MISSING] позиция 1–6" in result.output
    assert "отсутствует" in result.output


def test_verify_of_a_fresh_unsigned_log_is_ok(data_dir: Path) -> None:
    logged(data_dir, sign=False)  # the first head is not due yet
    result = verify(data_dir)
    assert result.exit_code == 0, result.output
    assert "подписано 0, без подписи последние 6" in result.output


def test_reader_opens_the_file_the_service_writes(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    logged(data_dir)
    engine = view_engine(settings, SERVICE)
    assert Path(engine.url.database) == data_dir / SERVICE / VIEWS_FILE_NAME
    engine.dispose()
    reader = AuditReader.open(settings)
    try:
        with reader.store.engine.connect() as conn:
            assert reader.store.head(conn).size == 6
        with pytest.raises(sa.exc.OperationalError), reader.store.engine.begin() as conn:
            conn.execute(sa.delete(reader.store.entries))  # read-only: refused by SQLite
    finally:
        reader.close()


@pytest.mark.parametrize("command", [["public-key"], ["sign-head"],
                                     ["export", "--out", "export.jsonl"]])
def test_key_reading_commands_refuse_on_an_empty_folder(data_dir: Path, tmp_path: Path,
                                                        command: list[str]) -> None:
    args = [a if a != "export.jsonl" else str(tmp_path / a) for a in command]
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 2, result.output
    assert "init-key" in result.output and "Ключа подписи журнала аудита нет" in result.output
    assert not (data_dir / "secrets" / KEY_FILE_NAME).exists()
    assert not (tmp_path / "export.jsonl").exists()


def test_init_key_is_the_one_step_that_creates_a_key(data_dir: Path) -> None:
    created = runner.invoke(app, ["init-key", "--data-dir", str(data_dir)])
    assert created.exit_code == 0, created.output
    key = (data_dir / "secrets" / KEY_FILE_NAME).read_bytes()
    again = runner.invoke(app, ["init-key", "--data-dir", str(data_dir)])
    assert again.exit_code == 1 and "уже есть" in again.output
    assert (data_dir / "secrets" / KEY_FILE_NAME).read_bytes() == key
    shown = runner.invoke(app, ["public-key", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0 and "BEGIN PUBLIC KEY" in shown.output


def test_the_service_does_not_start_without_a_key(data_dir: Path) -> None:
    from services.monitoring.audit import AuditKeyMissing

    with pytest.raises(AuditKeyMissing, match="init-key"):
        AuditLog.open(Settings(data_dir=data_dir))
    assert not (data_dir / "secrets" / KEY_FILE_NAME).exists()


@pytest.mark.parametrize("command", ["verify", "replay", "trail", "export", "check", "proof",
                                     "init-key", "public-key", "sign-head"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
