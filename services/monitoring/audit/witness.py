"""A witness of the audit log: cosigns a checkpoint only when it extends the last one it cosigned.

It lives apart from the log: its own folder (``--witness-dir``), its own Ed25519 key (made by
``init``, never in passing), the log's public key pinned at ``init``. Whoever rewrites the log
and re-signs its heads with the log's own key still gets no cosignature: the witness checks a
consistency proof from the tree it last cosigned, and a tree that does not extend it is a fork,
refused with an alarm (a log line, a metric, a line in ``alarms.jsonl``). What it cosigned is
kept in ``cosigned.jsonl`` (one checkpoint note per line): the checkpoints auditors verify a
log or an export against (``audit verify/check --checkpoints``).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import Counter

from shared.logging import get_logger

from .chain import verify_consistency
from .checkpoint import (
    NoteError,
    NoteSigner,
    NoteVerifier,
    SignedNote,
    check_key_name,
    parse_note,
)
from .heads import create_key, load_signing_key

log = get_logger(__name__)

KEY_FILE = "witness.key"
CONFIG_FILE = "witness.json"
COSIGNED_FILE = "cosigned.jsonl"
ALARMS_FILE = "alarms.jsonl"

WITNESS_REFUSALS = Counter("nastavnik_audit_witness_refusals",
                           "Checkpoints the audit witness refused to cosign", ["reason"])

#: Refusal reasons; FORK is the alarm: the log no longer extends what was cosigned.
FORK = "FORK"
BAD_SIGNATURE = "BAD_SIGNATURE"
WRONG_ORIGIN = "WRONG_ORIGIN"
OLDER = "OLDER"


class WitnessRefused(Exception):
    def __init__(self, reason: str, message_ru: str) -> None:
        self.reason = reason
        self.message_ru = message_ru
        super().__init__(f"[{reason}] {message_ru}")


class WitnessNotInitialised(RuntimeError):
    def __init__(self, folder: Path) -> None:
        super().__init__(f"Свидетель в {folder} не создан: сначала `nastavnik audit witness init "
                         "--witness-dir ПАПКА --log-key ОТКРЫТЫЙ_КЛЮЧ_ЖУРНАЛА.pem`")


@dataclass(frozen=True)
class Cosigned:
    size: int
    root: bytes
    note: str


class Witness:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        config_path = self.folder / CONFIG_FILE
        if not config_path.exists():
            raise WitnessNotInitialised(self.folder)
        config = json.loads(config_path.read_text())
        self.origin: str = config["origin"]
        self.log_verifier = NoteVerifier.from_vkey(config["log_vkey"])
        self.signer = NoteSigner(config["name"], load_signing_key(self.folder / KEY_FILE))

    @classmethod
    def init(cls, folder: Path, name: str, origin: str, log_vkey: str) -> Witness:
        """The explicit step: a key of its own and the log it watches (its origin and key)."""
        folder = Path(folder)
        check_key_name(name)
        NoteVerifier.from_vkey(log_vkey)
        if (folder / CONFIG_FILE).exists():
            raise FileExistsError(str(folder / CONFIG_FILE))
        create_key(folder / KEY_FILE)
        (folder / CONFIG_FILE).write_text(json.dumps(
            {"name": name, "origin": origin, "log_vkey": log_vkey}, ensure_ascii=False))
        return cls(folder)

    @property
    def vkey(self) -> str:
        return self.signer.verifier().vkey()

    def history(self) -> list[Cosigned]:
        path = self.folder / COSIGNED_FILE
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                raw = json.loads(line)
                out.append(Cosigned(int(raw["size"]), base64.b64decode(raw["root"]), raw["note"]))
        return out

    def latest(self) -> Cosigned | None:
        history = self.history()
        return history[-1] if history else None

    def cosign(self, note_text: str, proof: Sequence[bytes]) -> SignedNote:
        """The note with this witness's signature added, or ``WitnessRefused``."""
        try:
            note = parse_note(note_text)
        except NoteError as exc:
            raise self._refuse(BAD_SIGNATURE, f"контрольная точка повреждена: {exc}") from exc
        cp = note.checkpoint
        if cp.origin != self.origin:
            raise self._refuse(WRONG_ORIGIN, f"контрольная точка другого журнала: {cp.origin}")
        if not note.signed_by(self.log_verifier):
            raise self._refuse(BAD_SIGNATURE, f"контрольная точка размера {cp.size} не подписана "
                               "ключом журнала")
        last = self.latest()
        if last is not None:
            if cp.size < last.size:
                raise self._refuse(OLDER, f"контрольная точка размера {cp.size} старее уже "
                                   f"заверенной размера {last.size}")
            if cp.size == last.size and cp.root != last.root:
                raise self._alarm(cp.size, last, "при том же размере другой корень")
            if cp.size > last.size and not verify_consistency(last.size, cp.size, last.root,
                                                              cp.root, list(proof)):
                raise self._alarm(cp.size, last, "доказательство согласованности не сходится")
        cosigned = note.with_signature(self.signer.sign(cp.body()))
        if last is None or cp.size > last.size:
            self._append(COSIGNED_FILE, {"size": cp.size,
                                         "root": base64.b64encode(cp.root).decode(),
                                         "note": cosigned.text()})
        log.info("audit.witness_cosigned", size=cp.size)
        return cosigned

    def _refuse(self, reason: str, message: str) -> WitnessRefused:
        WITNESS_REFUSALS.labels(reason=reason).inc()
        log.warning("audit.witness_refused", reason=reason, message=message)
        return WitnessRefused(reason, message)

    def _alarm(self, size: int, last: Cosigned, why: str) -> WitnessRefused:
        message = (f"ТРЕВОГА: журнал переписан — контрольная точка размера {size} не продолжает "
                   f"заверенную размера {last.size} ({why}); заверение отказано")
        self._append(ALARMS_FILE, {"time": datetime.now(UTC).isoformat(), "size": size,
                                   "cosigned_size": last.size, "message": message})
        log.error("audit.witness_fork", size=size, cosigned_size=last.size)
        WITNESS_REFUSALS.labels(reason=FORK).inc()
        return WitnessRefused(FORK, message)

    def _append(self, name: str, record: dict[str, object]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / name, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def load_checkpoints(path: Path, witness_keys: Sequence[NoteVerifier]) -> list[SignedNote]:
    """Checkpoints from a witness's ``cosigned.jsonl`` (or notes one per JSON line ``note``),
    keeping those cosigned by one of ``witness_keys``; ``ValueError`` on any other."""
    notes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            note = parse_note(json.loads(line)["note"])
        except (NoteError, KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: повреждённая контрольная точка") from exc
        if not any(note.signed_by(v) for v in witness_keys):
            raise ValueError(f"{path}:{number}: контрольная точка не заверена ключом свидетеля")
        notes.append(note)
    return notes


WITNESS_DIR_NAME = "witness"


def embedded_witness_dir(data_dir: Path) -> Path:
    """Embedded mode's witness: beside the log, in a folder (and with a key) of its own."""
    return Path(data_dir) / WITNESS_DIR_NAME
