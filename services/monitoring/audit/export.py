"""Exporting the audit log for an outside auditor, and checking such an export: entries of a
period with their inclusion proofs, proved against a signed head, under a signed manifest."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import ZERO_HASH, MerkleTree, canonical_time, encode_entry, verify_consistency, verify_inclusion
from .heads import (
    HeadsFile,
    HeadSigner,
    SignedHead,
    key_id_of,
    load_public_key,
    public_key_pem,
    verify_head,
    verify_signature,
)
from .records import EXPORT_DOMAIN, EXPORT_FORMAT, MANIFEST_MISMATCH, AuditIntegrityError, ExportSummary
from .verify import DELETED, EDITED, HEAD_INVALID, INSERTED, REORDERED, TRUNCATED, Problem, VerifyResult


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
            for e in self._iter_between(conn, from_dt, to_dt):
                if e.position > covered:
                    break  # appended after the head (or after we read the leaves): not covered
                leaf = hashlib.sha256(b"\x00" + e.entry_bytes()).digest()
                if leaf != tree.leaf(e.position - 1):
                    raise AuditIntegrityError(f"запись {e.position} изменена в базе")
                count += 1
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
            }
            manifest["signature_b64"] = signer.sign_bytes(_manifest_message(manifest))
            fh.write(_dumps(manifest))
        tmp.replace(out_path)  # readers never see a half-written export
        return ExportSummary(out_path, count, head)



def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def _manifest_item(seq: int, position: int, leaf: bytes) -> bytes:
    return f"{seq}:{position}:".encode() + leaf


def _manifest_message(m: dict[str, Any]) -> bytes:
    return b"\n".join(
        str(x).encode()
        for x in (
            EXPORT_DOMAIN.decode(), m["count"], m["entries_digest"], m["head_size"],
            m["head_root"], m["from"], m["to"], m["key_id"],
        )
    )


def check_export(
    path: str | Path, public_key: Ed25519PublicKey | str | bytes | Path | None = None
) -> VerifyResult:
    """Verify an export file on its own. Without ``public_key`` the embedded key is trusted,
    which proves internal consistency only; pass the published key to prove authorship."""
    path = Path(path)
    notes: list[str] = []

    def fail(position: int, code: str, message: str, head: SignedHead | None = None,
             entries: int = 0) -> VerifyResult:
        return VerifyResult(
            ok=False, entries=entries,
            root_hex=head.root_hex if head else "", chain_hex=head.chain_hex if head else "",
            problem=Problem(position, code, message), signed_size=head.size if head else 0,
            notes=tuple(notes),
        )

    with open(path, encoding="utf-8") as fh:
        lines = (json.loads(line) for line in fh if line.strip())
        try:
            header = next(lines)
            head_raw = next(lines)
        except (StopIteration, json.JSONDecodeError):
            return fail(0, HEAD_INVALID, "файл выгрузки повреждён: нет заголовка или вершины")
        if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
            return fail(0, HEAD_INVALID, "неизвестный формат файла выгрузки")
        embedded = load_public_key(header["public_key_pem"])
        if public_key is None:
            key = embedded
            notes.append("ключ взят из самого файла: подтверждена только внутренняя целостность")
        else:
            key = load_public_key(public_key)
            if key_id_of(key) != key_id_of(embedded):
                return fail(0, HEAD_INVALID, "выгрузка подписана не тем ключом, что предъявлен")
        try:
            head = SignedHead.from_dict({k: v for k, v in head_raw.items() if k != "type"})
        except (KeyError, ValueError, TypeError):
            return fail(0, HEAD_INVALID, "вершина в выгрузке повреждена")
        if head_raw.get("type") != "head" or not verify_head(head, key):
            return fail(head.size, HEAD_INVALID, "подпись вершины в выгрузке недействительна")
        root = bytes.fromhex(head.root_hex)

        digest = hashlib.sha256()
        count = 0
        last_pos = 0
        manifest: dict[str, Any] | None = None
        try:
            for line in lines:
                kind = line.get("type")
                if manifest is not None:
                    return fail(last_pos + 1, INSERTED, "строки после манифеста выгрузки", head,
                                count)
                if kind == "consistency":
                    prev = SignedHead.from_dict(
                        {k: v for k, v in line["from_head"].items() if k != "type"}
                    )
                    proof = [bytes.fromhex(p) for p in line["proof"]]
                    if not (verify_head(prev, key) and verify_consistency(
                        prev.size, head.size, bytes.fromhex(prev.root_hex), root, proof
                    )):
                        return fail(prev.size, HEAD_INVALID,
                                    "вершина выгрузки не продолжает прежнюю подписанную вершину",
                                    head, count)
                    notes.append(f"согласована с прежней вершиной размера {prev.size}")
                elif kind == "entry":
                    pos = int(line["position"])
                    seq = int(line["seq"])
                    if seq != count + 1:
                        code = DELETED if seq > count + 1 else INSERTED
                        return fail(pos, code,
                                    f"в выгрузке нарушена нумерация строк: ожидалась {count + 1}, "
                                    f"найдена {seq} (позиция журнала {pos})", head, count)
                    if pos <= last_pos:
                        code = INSERTED if pos == last_pos else REORDERED
                        return fail(pos, code, f"позиция {pos} идёт после {last_pos}", head, count)
                    entry_bytes = encode_entry(
                        source=line["source"], source_position=int(line["source_position"]),
                        event_id=line["event_id"], event_type=line["event_type"],
                        occurred_at=datetime.fromisoformat(line["occurred_at"]),
                        aggregate_id=line["aggregate_id"], region=line["region"],
                        municipality=line["municipality"], organisation=line["organisation"],
                        data=base64.b64decode(line["data_b64"], validate=True),
                    )
                    leaf = hashlib.sha256(b"\x00" + entry_bytes).digest()
                    proof = [bytes.fromhex(p) for p in line["proof"]]
                    if not verify_inclusion(leaf, pos - 1, head.size, proof, root):
                        return fail(pos, EDITED,
                                    f"запись {pos} в выгрузке изменена: доказательство включения "
                                    "не сходится с подписанной вершиной", head, count)
                    count += 1
                    last_pos = pos
                    digest.update(_manifest_item(seq, pos, leaf))
                elif kind == "manifest":
                    manifest = line
                else:
                    return fail(last_pos + 1, INSERTED, f"неизвестная строка выгрузки: {kind}",
                                head, count)
        except (KeyError, ValueError, TypeError) as exc:
            return fail(last_pos + 1, EDITED, f"строка выгрузки после позиции {last_pos} "
                        f"повреждена: {exc}", head, count)

    if manifest is None:
        return fail(last_pos + 1, TRUNCATED, "выгрузка обрезана: нет подписанного манифеста",
                    head, count)
    if not verify_signature(key, _manifest_message(manifest), manifest.get("signature_b64", "")):
        return fail(0, HEAD_INVALID, "подпись манифеста выгрузки недействительна", head, count)
    if manifest["head_size"] != head.size or manifest["head_root"] != head.root_hex:
        return fail(0, HEAD_INVALID, "манифест относится к другой вершине", head, count)
    if manifest["count"] != count:
        code = TRUNCATED if manifest["count"] > count else INSERTED
        return fail(last_pos + 1, code,
                    f"в выгрузке {count} записей, а в подписанном манифесте {manifest['count']}",
                    head, count)
    if manifest["entries_digest"] != digest.hexdigest():
        return fail(0, MANIFEST_MISMATCH,
                    "набор записей выгрузки не совпадает с подписанным манифестом", head, count)
    return VerifyResult(
        ok=True, entries=count, root_hex=head.root_hex, chain_hex=head.chain_hex,
        signed_size=head.size, notes=tuple(notes),
    )
