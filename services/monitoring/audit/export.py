"""Exporting the audit log for an outside auditor, and checking such an export: entries of a
period with their inclusion proofs, proved against a signed head, under a signed manifest."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .chain import ZERO_HASH, MerkleTree, canonical_time
from .heads import (
    HeadsFile,
    HeadSigner,
    SignedHead,
    public_key_pem,
    verify_head,
)
from .records import EXPORT_DOMAIN, EXPORT_FORMAT, AuditIntegrityError, ExportSummary


class StoreExport:
    """``AuditStore.export``: writes a period of the store (a method of ``AuditStore``)."""

    def export(
        self,
        conn: sa.Connection,
        out_path: str | Path,
        from_dt: datetime,
        to_dt: datetime,
        signer: HeadSigner,
        heads_file: HeadsFile | None = None,
        *,
        head: SignedHead | None = None,
        proof_from: Sequence[int] = (),
    ) -> ExportSummary:
        """Write a self-verifying JSON Lines export of entries with from_dt <= occurred_at < to_dt.

        Layout: header (with the public key), a signed head, optionally a consistency proof
        from the previous signed head, one line per entry with its inclusion proof, and a
        signed manifest (count + digest) so dropped or substituted lines are noticed.

        The head is a fresh one, signed and kept in ``heads_file`` (unless the latest head
        already covers the whole log), or, when ``head`` is given, that existing head: then
        nothing is signed but the manifest, nothing is written anywhere but ``out_path``, and
        the export covers the entries up to ``head.size`` (a read-only export).
        """
        out_path = Path(out_path)
        state = self.head(conn)
        leaves = bytearray()
        expected = 1
        t = self.entries
        for rows in self._pages(conn, [t.c.position, t.c.leaf_hash], 1, 50000):
            for pos, leaf in rows:
                if pos != expected:
                    raise AuditIntegrityError(f"пропуск в журнале на позиции {expected}")
                leaves += leaf
                expected += 1
        tree = MerkleTree(leaves)
        if tree.size != state.size or tree.root() != state.root:
            raise AuditIntegrityError("хэши записей не совпадают с состоянием журнала")

        consistency: dict[str, Any] | None = None
        if head is not None:
            if not verify_head(head, signer.public_key):
                raise AuditIntegrityError(f"подпись вершины размера {head.size} недействительна")
            chain_at = ZERO_HASH if head.size == 0 else conn.execute(
                sa.select(t.c.chain_hash).where(t.c.position == head.size)).scalar()
            if (head.size > tree.size or tree.root(head.size).hex() != head.root_hex
                    or chain_at is None or bytes(chain_at).hex() != head.chain_hex):
                raise AuditIntegrityError(
                    f"журнал не согласован с подписанной вершиной размера {head.size}"
                )
        else:
            previous = heads_file.latest() if heads_file is not None else None
            if previous is not None and verify_head(previous, signer.public_key):
                if (previous.size > tree.size
                        or tree.root(previous.size).hex() != previous.root_hex):
                    raise AuditIntegrityError(
                        f"журнал не согласован с подписанной вершиной размера {previous.size}"
                    )
                if 0 < previous.size < tree.size:
                    consistency = {
                        "type": "consistency",
                        "from_head": previous.to_dict(),
                        "proof": [p.hex() for p in tree.consistency_proof(previous.size)],
                    }
            if previous is not None and previous.size == tree.size and verify_head(
                previous, signer.public_key
            ):
                head = previous
            else:
                head = signer.sign(tree.size, state.root.hex(), state.chain.hex())
                self._keep(head, heads_file)
        covered = head.size
        # Proofs from the sizes an auditor or a witness asked for (the checkpoints they hold).
        extra = []
        for size in sorted(set(proof_from)):
            if not 0 < size <= covered:
                raise ValueError(f"доказательство согласованности: размер {size} вне 1–{covered}")
            if size < covered:
                extra.append({"type": "consistency", "from_size": size,
                              "proof": [p.hex() for p in tree.consistency_proof(size, covered)]})

        from_s, to_s = canonical_time(from_dt), canonical_time(to_dt)
        digest = hashlib.sha256()
        count = 0
        tmp = out_path.with_name(out_path.name + ".part")
        with open(tmp, "w", encoding="utf-8") as fh:
            header = {
                "type": "header",
                "format": EXPORT_FORMAT,
                "from": from_s,
                "to": to_s,
                "created_at": datetime.now(UTC).isoformat(),
                "key_id": signer.key_id,
                "public_key_pem": public_key_pem(signer.public_key),
            }
            fh.write(_dumps(header))
            fh.write(_dumps({"type": "head", **head.to_dict()}))
            if consistency is not None:
                fh.write(_dumps(consistency))
            for line in extra:
                fh.write(_dumps(line))
            positions = Ranges()
            for e in self._iter_between(conn, from_dt, to_dt):
                if e.position > covered:
                    break  # appended after the head (or after we read the leaves): not covered
                leaf = hashlib.sha256(b"\x00" + e.entry_bytes()).digest()
                if leaf != tree.leaf(e.position - 1):
                    raise AuditIntegrityError(f"запись {e.position} изменена в базе")
                count += 1
                positions.add(e.position)
                digest.update(_manifest_item(count, e.position, leaf))
                fh.write(_dumps({
                    "type": "entry",
                    "seq": count,
                    "position": e.position,
                    "source": e.source,
                    "source_position": e.source_position,
                    "event_id": e.event_id,
                    "event_type": e.event_type,
                    "occurred_at": canonical_time(e.occurred_at),
                    "aggregate_id": e.aggregate_id,
                    "region": e.region,
                    "municipality": e.municipality,
                    "organisation": e.organisation,
                    "data_b64": base64.b64encode(e.data).decode("ascii"),
                    # Entry format 2 only: the times a format-1 entry does not have are left out.
                    **({} if e.appended_at is None else {
                        "appended_at": canonical_time(e.appended_at),
                        "business_at": canonical_time(e.business_at or e.occurred_at)}),
                    "leaf_hash": leaf.hex(),
                    "proof": [p.hex() for p in tree.inclusion_proof(e.position - 1, covered)],
                }))
            manifest = {
                "type": "manifest",
                "count": count,
                "entries_digest": digest.hexdigest(),
                "head_size": head.size,
                "head_root": head.root_hex,
                "from": from_s,
                "to": to_s,
                "key_id": signer.key_id,
                "positions": positions.text(),
            }
            manifest["signature_b64"] = signer.sign_bytes(manifest_message(manifest))
            fh.write(_dumps(manifest))
        tmp.replace(out_path)  # readers never see a half-written export
        return ExportSummary(out_path, count, head)



def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _manifest_item(seq: int, position: int, leaf: bytes) -> bytes:
    return f"{seq}:{position}:".encode() + leaf


def manifest_message(m: dict[str, Any], version: int = 2) -> bytes:
    """What the manifest's signature covers; v2 adds the exported positions."""
    fields = [EXPORT_DOMAIN.decode(), m["count"], m["entries_digest"], m["head_size"],
              m["head_root"], m["from"], m["to"], m["key_id"]]
    if version >= 2:
        fields.append(m["positions"])
    return b"\n".join(str(x).encode() for x in fields)


class Ranges:
    """Exported positions as runs: ``1-5,7,9-12`` (ascending, no overlaps)."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []

    def add(self, position: int) -> None:
        if self.runs and self.runs[-1][1] + 1 == position:
            self.runs[-1][1] = position
        else:
            self.runs.append([position, position])

    def text(self) -> str:
        return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.runs)

    @staticmethod
    def parse(text: str) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        for part in text.split(",") if text else []:
            a, _, b = part.partition("-")
            run = (int(a), int(b or a))
            if run[0] > run[1] or (runs and run[0] <= runs[-1][1]):
                raise ValueError("позиции манифеста не по возрастанию")
            runs.append(run)
        return runs
