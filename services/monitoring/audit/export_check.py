"""Checking an export with nothing else at hand but the keys and checkpoints an auditor keeps.

Every entry line is placed where its inclusion proof says it belongs (its *true* position),
whatever position it claims; the signed manifest says which positions the export holds. The
two sequences compared name the first bad position and the kind of change exactly: a line
edited, deleted (renumbered or not), inserted, reordered, or the tail cut off. Checkpoints
the auditor holds (a head saved earlier, a witness's cosigned checkpoints) are then proved
against the export's head: an export that does not extend them is a fork, one older than
them is stale.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import MerkleTree, encode_entry, verify_consistency, verify_inclusion
from .export import Ranges, _manifest_item, manifest_message
from .heads import SignedHead, key_id_of, load_public_key, verify_head, verify_signature
from .records import EXPORT_FORMATS, MANIFEST_MISMATCH
from .verify import (
    DELETED,
    EDITED,
    FORKED,
    HEAD_INVALID,
    INSERTED,
    REORDERED,
    STALE,
    TRUNCATED,
    UNPROVEN,
    Problem,
    VerifyResult,
    find_fork,
)


@dataclass(frozen=True)
class Anchor:
    """A tree an auditor holds: a head saved earlier or a witness's checkpoint."""

    size: int
    root: bytes
    what: str  # «сохранённая вершина», «контрольная точка свидетеля»


@dataclass
class _Lines:
    header: dict[str, Any]
    head: dict[str, Any]
    consistency: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    stray: str | None = None  # the first line that is none of these


def _read(path: Path) -> _Lines | None:
    with open(path, encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh if line.strip()]
    if len(raw) < 2:
        return None
    lines = _Lines(raw[0], raw[1])
    for line in raw[2:]:
        kind = line.get("type")
        if lines.manifest is not None:
            lines.stray = lines.stray or "строка после манифеста"
        elif kind == "consistency":
            lines.consistency.append(line)
        elif kind == "entry":
            lines.entries.append(line)
        elif kind == "manifest":
            lines.manifest = line
        else:
            lines.stray = lines.stray or f"неизвестная строка: {kind}"
    return lines


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _leaf(line: dict[str, Any]) -> bytes:
    data = encode_entry(
        source=line["source"], source_position=int(line["source_position"]),
        event_id=line["event_id"], event_type=line["event_type"],
        occurred_at=datetime.fromisoformat(line["occurred_at"]),
        aggregate_id=line["aggregate_id"], region=line["region"],
        municipality=line["municipality"], organisation=line["organisation"],
        data=base64.b64decode(line["data_b64"], validate=True),
        appended_at=_time(line.get("appended_at")),
        business_at=_time(line.get("business_at")),
    )
    return hashlib.sha256(b"\x00" + data).digest()


class _Expected:
    """The positions the signed manifest lists, with O(log n) index lookups."""

    def __init__(self, runs: list[tuple[int, int]]) -> None:
        self.runs = runs
        self.starts = [a for a, _ in runs]
        self.offsets = []
        total = 0
        for a, b in runs:
            self.offsets.append(total)
            total += b - a + 1
        self.total = total

    def index(self, position: int) -> int | None:
        i = bisect.bisect_right(self.starts, position) - 1
        if i < 0 or position > self.runs[i][1]:
            return None
        return self.offsets[i] + position - self.runs[i][0]

    def at(self, index: int) -> int:
        i = bisect.bisect_right(self.offsets, index) - 1
        return self.runs[i][0] + index - self.offsets[i]

    def __iter__(self) -> Iterator[int]:
        for a, b in self.runs:
            yield from range(a, b + 1)


def _classify(true: list[int | None], claimed: list[int], expected: _Expected) -> Problem | None:
    """First difference between where the lines belong and the positions the manifest lists."""
    n, m = len(true), expected.total
    seen_later: set[int] | None = None
    for i in range(min(n, m)):
        e = expected.at(i)
        t = true[i]
        if t == e:
            continue
        if t is None:
            if i + 1 < n and true[i + 1] == e:
                return Problem(e, INSERTED, f"перед записью {e} вставлена строка, которой нет "
                               "в журнале")
            return Problem(e, EDITED, f"запись {e} изменена: доказательство включения не "
                           "сходится с подписанной вершиной")
        j = expected.index(t)
        if j is None or j < i:
            return Problem(e, INSERTED, f"на месте записи {e} вставлена запись {t} "
                           "(повтор или чужая запись)")
        if seen_later is None:
            seen_later = {x for x in true[i + 1:] if x is not None}
        if e in seen_later:
            return Problem(e, REORDERED, f"запись {e} переставлена: на её месте запись {t}")
        renumbered = " (следующие перенумерованы)" if claimed[i] == e else ""
        return Problem(e, DELETED, f"запись {e} удалена из выгрузки{renumbered}")
    if n < m:
        e = expected.at(n)
        return Problem(e, TRUNCATED, f"выгрузка обрезана: нет записей начиная с {e} "
                       f"(в манифесте {m}, в файле {n})")
    if n > m:
        return Problem(claimed[m], INSERTED, f"лишняя строка выгрузки (позиция {claimed[m]}): "
                       f"в манифесте {m} записей")
    return None


def check_export(
    path: str | Path,
    public_key: Ed25519PublicKey | str | bytes | Path | None = None,
    *,
    anchors: Sequence[Anchor] = (),
) -> VerifyResult:
    """Verify an export file. Without ``public_key`` the embedded key is used, which proves
    internal consistency only (``audit check`` refuses that: it needs a pinned key or a
    witness's checkpoints); ``anchors`` are the trees the auditor already holds."""
    path = Path(path)
    notes: list[str] = []
    head: SignedHead | None = None
    count = 0

    def fail(position: int, code: str, message: str, to: int | None = None) -> VerifyResult:
        return VerifyResult(
            ok=False, entries=count, root_hex=head.root_hex if head else "",
            chain_hex=head.chain_hex if head else "",
            problem=Problem(position, code, message, to), signed_size=head.size if head else 0,
            notes=tuple(notes))

    try:
        lines = _read(path)
    except (json.JSONDecodeError, UnicodeDecodeError):
        lines = None
    if lines is None:
        return fail(0, HEAD_INVALID, "файл выгрузки повреждён: нет заголовка или вершины")
    version = EXPORT_FORMATS.get(lines.header.get("format", ""))
    if lines.header.get("type") != "header" or version is None:
        return fail(0, HEAD_INVALID, "неизвестный формат файла выгрузки")
    embedded = load_public_key(lines.header["public_key_pem"])
    if public_key is None:
        key = embedded
        notes.append("ключ взят из самого файла: подтверждена только внутренняя целостность")
    else:
        key = load_public_key(public_key)
        if key_id_of(key) != key_id_of(embedded):
            return fail(0, HEAD_INVALID, "выгрузка подписана не тем ключом, что предъявлен")
    try:
        head = SignedHead.from_dict({k: v for k, v in lines.head.items() if k != "type"})
    except (KeyError, ValueError, TypeError):
        return fail(0, HEAD_INVALID, "вершина в выгрузке повреждена")
    manifest = lines.manifest
    manifest_ok = manifest is not None and verify_signature(
        key, manifest_message(manifest, version), manifest.get("signature_b64", ""))
    size, root = head.size, bytes.fromhex(head.root_hex)
    head_ok = lines.head.get("type") == "head" and verify_head(head, key)
    if not head_ok:
        if not manifest_ok:
            return fail(head.size, HEAD_INVALID, "подпись вершины в выгрузке недействительна")
        # The head line was rewritten (say, a root recomputed over an edited entry): the
        # signed manifest still names the true head, so the entries are checked against it.
        assert manifest is not None
        size, root = int(manifest["head_size"]), bytes.fromhex(manifest["head_root"])
        notes.append("вершина в выгрузке подделана: записи проверены по корню из подписанного "
                     "манифеста")
    if manifest is None:
        last = max((int(e.get("position", 0)) for e in lines.entries), default=0)
        return fail(last + 1, TRUNCATED, "выгрузка обрезана: нет подписанного манифеста")
    if not manifest_ok:
        return fail(0, HEAD_INVALID, "подпись манифеста выгрузки недействительна")
    if int(manifest["head_size"]) != size or manifest["head_root"] != root.hex():
        return fail(0, HEAD_INVALID, "манифест относится к другой вершине")

    try:
        runs = Ranges.parse(manifest["positions"]) if version >= 2 else None
    except (KeyError, ValueError):
        return fail(0, HEAD_INVALID, "список позиций манифеста повреждён")
    true: list[int | None] = []
    claimed: list[int] = []
    leaves: list[bytes] = []
    listed = _Expected(runs) if runs is not None else None
    try:
        for i, line in enumerate(lines.entries):
            c = int(line["position"])
            leaf = _leaf(line)
            proof = [bytes.fromhex(p) for p in line["proof"]]
            candidates = [c]
            if listed is not None:
                # A line renumbered after a delete or an insert still carries the proof of
                # where it was: try the listed neighbours of its place too.
                candidates += [listed.at(k) for k in (i, i + 1, i - 1) if 0 <= k < listed.total]
            t = next((p for p in dict.fromkeys(candidates)
                      if 0 < p <= size and verify_inclusion(leaf, p - 1, size, proof, root)), None)
            true.append(t)
            claimed.append(c)
            leaves.append(leaf)
    except (KeyError, ValueError, TypeError) as exc:
        at = claimed[-1] + 1 if claimed else 1
        return fail(at, EDITED, f"строка выгрузки после позиции {at - 1} повреждена: {exc}")
    expected = listed or _Expected([(p, p) for p in sorted(set(claimed))])
    problem = _classify(true, claimed, expected)
    if problem is None and lines.stray is not None:
        problem = Problem(expected.at(expected.total - 1) + 1 if expected.total else 1, INSERTED,
                          f"в выгрузке {lines.stray}")
    count = sum(1 for t in true if t is not None)
    if problem is not None:
        return fail(problem.position, problem.code, problem.message_ru, problem.position_to)
    if not head_ok:
        return fail(0, HEAD_INVALID, "подпись вершины в выгрузке недействительна (записи целы)")
    digest = hashlib.sha256()
    for seq, (pos, leaf) in enumerate(zip(claimed, leaves, strict=True), start=1):
        digest.update(_manifest_item(seq, pos, leaf))
    if manifest["count"] != len(claimed) or manifest["entries_digest"] != digest.hexdigest():
        return fail(0, MANIFEST_MISMATCH,
                    "набор записей выгрузки не совпадает с подписанным манифестом")

    anchored = _check_anchors(lines, head, key, claimed, leaves, anchors, notes)
    if anchored is not None:
        return fail(anchored.position, anchored.code, anchored.message_ru, anchored.position_to)
    return VerifyResult(ok=True, entries=len(claimed), root_hex=head.root_hex,
                        chain_hex=head.chain_hex, signed_size=head.size, notes=tuple(notes))


def _check_anchors(lines: _Lines, head: SignedHead, key: Ed25519PublicKey, claimed: list[int],
                   leaves: list[bytes], anchors: Sequence[Anchor],
                   notes: list[str]) -> Problem | None:
    root = bytes.fromhex(head.root_hex)
    proofs: dict[int, list[bytes]] = {}
    for line in lines.consistency:
        if "from_head" in line:
            prev = SignedHead.from_dict({k: v for k, v in line["from_head"].items()
                                         if k != "type"})
            proof = [bytes.fromhex(p) for p in line["proof"]]
            if not (verify_head(prev, key) and verify_consistency(
                    prev.size, head.size, bytes.fromhex(prev.root_hex), root, proof)):
                return Problem(prev.size, HEAD_INVALID,
                               "вершина выгрузки не продолжает прежнюю подписанную вершину")
            notes.append(f"согласована с прежней вершиной размера {prev.size}")
        else:
            proofs[int(line["from_size"])] = [bytes.fromhex(p) for p in line["proof"]]
    # A prefix from position 1 on recomputes the tree at any size within it, no proof needed.
    prefix = 0
    while prefix < len(claimed) and claimed[prefix] == prefix + 1:
        prefix += 1
    newer = [a for a in anchors if a.size > head.size]
    if newer:
        top = max(newer, key=lambda a: a.size)
        return Problem(head.size + 1, STALE, f"выгрузка устарела: её вершина — размер "
                       f"{head.size}, а {top.what} — размер {top.size}", top.size)
    inside = sorted((a for a in anchors if a.size <= prefix), key=lambda a: a.size)
    if inside:
        fork = find_fork(((i + 1, leaf) for i, leaf in enumerate(leaves[:prefix])),
                         [(a.size, a.root) for a in inside])
        if fork is not None:
            return fork
    tree = MerkleTree(b"".join(leaves[:prefix])) if prefix else None
    for a in anchors:
        if a.size <= prefix:
            continue
        proof = proofs.get(a.size)
        if a.size == head.size:
            ok = a.root == root
        elif proof is not None:
            ok = verify_consistency(a.size, head.size, a.root, root, proof)
        else:
            return Problem(a.size, UNPROVEN, (
                f"нечем доказать, что выгрузка продолжает {a.what} размера {a.size}: "
                f"выгрузите с --proof-from {a.size}"))
        if not ok:
            start = prefix + 1 if tree is not None else 1
            return Problem(start, FORKED, (
                f"выгрузка не продолжает {a.what} размера {a.size}: журнал переписан после неё "
                f"(развилка в записях {start}–{a.size})"), a.size)
    for a in anchors:
        notes.append(f"согласована: {a.what} размера {a.size}")
    return None
