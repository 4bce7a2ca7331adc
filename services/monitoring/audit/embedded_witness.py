"""Embedded mode's witness, run beside the log: after each head the log signs, the witness (in
its own folder, with its own key) is handed the checkpoint and a consistency proof from what
it last cosigned. A refusal is its alarm (``witness.Witness``); the log goes on regardless."""

from __future__ import annotations

from pathlib import Path

from shared.logging import get_logger
from shared.settings import Settings

from .checkpoint import NoteVerifier
from .feeder import AuditLog, key_path_of
from .heads import load_signing_key
from .proofs import consistency_proof, origin_of
from .witness import CONFIG_FILE, Witness, WitnessRefused, embedded_witness_dir

log = get_logger(__name__)


def init_embedded_witness(settings: Settings) -> Path:
    """Create the embedded witness once (its key and the log's pinned key); kept if there."""
    folder = embedded_witness_dir(settings.data_dir)
    if not (folder / CONFIG_FILE).exists():
        public = load_signing_key(key_path_of(settings)).public_key()  # no store opened
        vkey = NoteVerifier(origin_of(settings.region), public).vkey()
        Witness.init(folder, "nastavnik.witness/embedded", origin_of(settings.region), vkey)
    return folder


class EmbeddedWitness:
    def __init__(self, audit: AuditLog, folder: Path) -> None:
        self.audit = audit
        self.witness = Witness(folder)
        self.refused: WitnessRefused | None = None
        self._refused_size = -1  # one alarm per refused checkpoint, not one per round

    def round(self) -> int | None:
        """Cosign the log's latest head if it is newer than what was cosigned; its size."""
        head = self.audit.heads.latest()
        last = self.witness.latest()
        if head is None or (last is not None and head.size <= last.size) or (
                head.size == self._refused_size):
            return None
        with self.audit.store.engine.connect() as conn:
            proof = consistency_proof(self.audit.store, conn, last.size if last else 0, head.size)
        try:
            self.witness.cosign(self.audit.checkpoint_note(head).text(), proof)
        except WitnessRefused as exc:
            self.refused = exc  # logged, counted and filed by the witness itself
            self._refused_size = head.size
            return None
        return head.size
