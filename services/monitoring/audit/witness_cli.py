"""``nastavnik audit witness ...``: a witness of its own (folder, key, process) that cosigns the
log's checkpoints only when they extend what it cosigned before."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from services.monitoring.audit.checkpoint import NoteSigner, NoteVerifier
from services.monitoring.audit.feeder import AuditLog, AuditReader
from services.monitoring.audit.heads import AuditKeyMissing
from services.monitoring.audit.proofs import consistency_proof, note_of, origin_of
from services.monitoring.audit.witness import Witness, WitnessNotInitialised, WitnessRefused
from shared.settings import Settings

app = typer.Typer(help="Свидетель журнала аудита: заверяет контрольные точки, только если "
                  "журнал продолжает заверенное раньше", no_args_is_help=True)
WitnessDir = Annotated[Path, typer.Option("--witness-dir", help="Папка свидетеля (своя)")]
DataDir = Annotated[Path, typer.Option("--data-dir", help="Папка данных журнала")]
DEFAULT_DATA_DIR = Path(os.environ.get("NASTAVNIK_DATA_DIR", "var"))


def _open_log(settings: Settings) -> AuditLog:
    """The log with its signing key, or exit 2 with the Russian reason (no key is ever made here)."""
    try:
        return AuditLog.open(settings)
    except AuditKeyMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def log_checkpoint(data_dir: Path) -> tuple[str, Settings]:
    """The log's current checkpoint note, signed with the log's key (a fresh head)."""
    settings = Settings(data_dir=data_dir)
    audit = _open_log(settings)
    try:
        head = audit.sign_head()
        note = note_of(head, NoteSigner(origin_of(settings.region), audit.signer.private_key))
    finally:
        audit.store.engine.dispose()
    return note.text(), settings


def log_vkey(data_dir: Path) -> str:
    settings = Settings(data_dir=data_dir)
    audit = _open_log(settings)
    audit.store.engine.dispose()
    return NoteVerifier(origin_of(settings.region), audit.signer.public_key).vkey()


@app.command("log-vkey")
def log_vkey_command(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Ключ проверки контрольных точек журнала (его закрепляют у свидетеля при init)."""
    typer.echo(log_vkey(data_dir))


@app.command()
def init(witness_dir: WitnessDir,
         log_key: Annotated[str, typer.Option("--log-key", help="Ключ проверки журнала "
                                              "(строка или файл, см. log-vkey)")],
         name: Annotated[str, typer.Option(help="Имя ключа свидетеля")] = "nastavnik.witness/1",
         ) -> None:
    """Создать свидетеля: свой ключ и закреплённый ключ журнала (один раз, явно)."""
    path = Path(log_key)
    vkey = path.read_text().strip() if path.exists() else log_key
    origin = vkey.split("+", 1)[0]
    try:
        witness = Witness.init(witness_dir, name, origin, vkey)
    except FileExistsError as exc:
        typer.echo(f"Свидетель в {witness_dir} уже создан", err=True)
        raise typer.Exit(1) from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-key") from exc
    typer.echo(f"Свидетель создан; его ключ проверки (для аудиторов): {witness.vkey}")


@app.command()
def cosign(witness_dir: WitnessDir, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Заверить текущую контрольную точку журнала, проверив доказательство согласованности
    с последней заверенной; переписанный журнал — отказ и тревога."""
    try:
        witness = Witness(witness_dir)
    except WitnessNotInitialised as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    note, settings = log_checkpoint(data_dir)
    last = witness.latest()
    size = int(note.split("\n")[1])
    reader = AuditReader.open(settings)
    try:
        with reader.store.engine.connect() as conn:
            old = last.size if last is not None and last.size <= size else 0
            proof = consistency_proof(reader.store, conn, old, size)
    finally:
        reader.close()
    try:
        cosigned = witness.cosign(note, proof)
    except WitnessRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(cosigned.text(), nl=False)


@app.command("vkey")
def vkey_command(witness_dir: WitnessDir) -> None:
    """Ключ проверки свидетеля (его передают аудиторам: --witness-key)."""
    typer.echo(Witness(witness_dir).vkey)
