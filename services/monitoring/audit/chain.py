"""Pure tamper-evidence core of the audit log: RFC 6962 Merkle tree + sequential hash chain.

No I/O lives here, so the same code verifies a database, an export file or a test fixture.

Two structures are maintained over the same leaf hashes:

* an RFC 6962 Merkle tree, whose root (signed in heads) lets a third party check that a single
  exported entry belongs to the log (inclusion proof) and that a later log extends an earlier one
  (consistency proof) without seeing the whole log;
* a sequential chain ``h_i = SHA-256(h_{i-1} || leaf_i)`` stored per row, which lets a streaming
  verifier pin the *first* damaged row without any external data.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

HASH_SIZE = 32
ZERO_HASH = b"\x00" * HASH_SIZE
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256  # local alias: attribute lookup matters at 1M rows/s


# --------------------------------------------------------------------------------------------
# Hash primitives
# --------------------------------------------------------------------------------------------


def leaf_hash(entry_bytes: bytes) -> bytes:
    """RFC 6962 leaf hash of the stored entry bytes, exactly as stored."""
    return _sha256(b"\x00" + entry_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash; the 0x01 prefix prevents leaf/node second preimages."""
    return _sha256(b"\x01" + left + right).digest()


def chain_next(prev_chain: bytes, leaf: bytes) -> bytes:
    """One step of the sequential chain: h_i = SHA-256(h_{i-1} || leaf_i)."""
    return _sha256(prev_chain + leaf).digest()


def chain_over(leaves: Iterable[bytes], start: bytes = ZERO_HASH) -> bytes:
    h = start
    for leaf in leaves:
        h = _sha256(h + leaf).digest()
    return h


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (RFC 6962 split rule), n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------------------------
# Canonical entry framing
# --------------------------------------------------------------------------------------------

_NONE_LEN = 0xFFFFFFFF
_ENTRY_MAGIC = b"NAUDIT1\n"
_HEADER = struct.Struct(">9IQ")
_utc = UTC


def canonical_time(value: datetime) -> str:
    """UTC timestamp text used inside hashed bytes; naive values are taken as UTC because
    SQLite hands back naive datetimes for what we stored as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(_utc).replace(tzinfo=None)
    # isoformat is several times faster than strftime and fixed-width with timespec.
    return value.isoformat(timespec="microseconds") + "Z"


def encode_fields(
    source: str,
    source_position: int,
    event_id: str,
    event_type: str,
    occurred_at: datetime | str,
    aggregate_id: str,
    region: str,
    municipality: str | None,
    organisation: str | None,
    data: bytes,
) -> bytes:
    """Positional twin of ``encode_entry`` for the hot loops (append and verify).

    ``occurred_at`` may already be the ``canonical_time`` text (the SQLite read path derives
    it from the stored string without building a datetime)."""
    f0 = source.encode()
    f1 = str(int(source_position)).encode()
    f2 = event_id.encode()
    f3 = event_type.encode()
    f4 = (occurred_at if occurred_at.__class__ is str else canonical_time(occurred_at)).encode()
    f5 = aggregate_id.encode()
    f6 = region.encode()
    if municipality is None:
        f7, l7 = b"", _NONE_LEN
    else:
        f7 = municipality.encode()
        l7 = len(f7)
    if organisation is None:
        f8, l8 = b"", _NONE_LEN
    else:
        f8 = organisation.encode()
        l8 = len(f8)
    header = _HEADER.pack(
        len(f0), len(f1), len(f2), len(f3), len(f4), len(f5), len(f6), l7, l8, len(data)
    )
    return b"".join((_ENTRY_MAGIC, header, f0, f1, f2, f3, f4, f5, f6, f7, f8, data))


def encode_entry(
    *,
    source: str,
    source_position: int,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    aggregate_id: str,
    region: str,
    municipality: str | None,
    organisation: str | None,
    data: bytes,
) -> bytes:
    """Deterministic bytes that the leaf hash covers.

    The leaf covers the indexed metadata columns as well as the opaque event bytes: otherwise an
    UPDATE of ``aggregate_id`` or ``occurred_at`` (which drive audit queries) would go unnoticed.
    Layout: magic, all field lengths up front (0xFFFFFFFF marks None, distinct from ""), then
    the UTF-8 fields and the data, so no two different entries share an encoding.
    """
    return encode_fields(
        source, source_position, event_id, event_type, occurred_at, aggregate_id, region,
        municipality, organisation, bytes(data),
    )


# --------------------------------------------------------------------------------------------
# Incremental accumulator (compact range)
# --------------------------------------------------------------------------------------------


class CompactRange:
    """Merkle accumulator holding only the roots of the perfect subtrees covering [0, size).

    Memory is O(log n); appending is amortised O(1) hashes, so a 1M-entry log is verified
    streaming. ``frontier`` is ordered from the largest (leftmost) subtree to the smallest, one
    entry per set bit of ``size``; that layout is what the store persists in ``audit_state``.
    """

    __slots__ = ("size", "frontier")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if bin(size).count("1") != len(frontier):
            raise ValueError("frontier length must equal the number of set bits of size")
        self.size = size
        self.frontier: list[bytes] = list(frontier)

    def append(self, leaf: bytes) -> None:
        frontier = self.frontier
        h = leaf
        size = self.size
        # Each trailing 1-bit of size is a perfect subtree of equal height to merge with.
        while size & 1:
            h = _sha256(b"\x01" + frontier.pop() + h).digest()
            size >>= 1
        frontier.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.frontier:
            return EMPTY_ROOT
        # RFC 6962 hashes the right-most (smallest) subtrees together first.
        h = self.frontier[-1]
        for left in reversed(self.frontier[:-1]):
            h = _sha256(b"\x01" + left + h).digest()
        return h

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.frontier)

    def to_hex(self) -> list[str]:
        return [h.hex() for h in self.frontier]

    @classmethod
    def from_hex(cls, size: int, frontier_hex: Sequence[str]) -> CompactRange:
        return cls(size, [bytes.fromhex(h) for h in frontier_hex])


MerkleAccumulator = CompactRange


# --------------------------------------------------------------------------------------------
# Merkle tree with all levels, for proofs
# --------------------------------------------------------------------------------------------


class MerkleTree:
    """All levels of the RFC 6962 tree, packed as contiguous bytes (32 bytes per node).

    The RFC's recursive split is equivalent to pairing nodes level by level and promoting an
    unpaired last node unchanged, so node ``j`` of level ``k`` is MTH of leaves
    ``[j*2^k, min((j+1)*2^k, n))``. Building is O(n); each proof is then O(log n), which matters
    when an export carries a proof per entry. Packing keeps 1M leaves at ~64 MB instead of
    ~150 MB of Python bytes objects.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] | bytes | bytearray) -> None:
        packed = isinstance(leaf_hashes, bytes | bytearray)
        level0 = bytes(leaf_hashes) if packed else b"".join(leaf_hashes)
        if len(level0) % HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes each")
        self.size = len(level0) // HASH_SIZE
        self._levels: list[bytes] = [level0]
        level = level0
        while len(level) > HASH_SIZE:
            view = memoryview(level)
            count = len(level) // HASH_SIZE
            pairs = count // 2
            out = bytearray()
            for i in range(0, pairs * 2 * HASH_SIZE, 2 * HASH_SIZE):
                out += _sha256(b"\x01" + view[i : i + 2 * HASH_SIZE]).digest()
            if count % 2:
                out += view[(count - 1) * HASH_SIZE :]
            level = bytes(out)
            self._levels.append(level)

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def _node(self, height: int, index: int) -> bytes:
        level = self._levels[height]
        return level[index * HASH_SIZE : (index + 1) * HASH_SIZE]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for any range; O(1) for RFC-shaped ranges, O(log^2) otherwise."""
        width = end - start
        if width <= 0:
            return EMPTY_ROOT
        height = (width - 1).bit_length()  # ceil(log2(width))
        aligned = start % (1 << height) == 0
        if aligned and (width == 1 << height or end == self.size):
            return self._node(height, start >> height)
        k = _split(width)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        n = self.size if size is None else size
        if n > self.size or n < 0:
            raise ValueError("size beyond the tree")
        return self.subtree(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        n = self.size if size is None else size
        if not 0 <= index < n <= self.size:
            raise ValueError("index out of range")
        proof: list[bytes] = []
        start, end, m = 0, n, index
        # Collected top-down, returned bottom-up as RFC 6962 PATH orders it.
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start += k
                m -= k
        proof.reverse()
        return proof

    def consistency_proof(self, m: int, size: int | None = None) -> list[bytes]:
        n = self.size if size is None else size
        if not 0 < m <= n <= self.size:
            raise ValueError("need 0 < m <= n <= tree size")
        proof: list[bytes] = []
        start, end, sub_m, complete = 0, n, m, True
        # Iterative RFC 6962 SUBPROOF(m, D[start:end], complete).
        while True:
            width = end - start
            if sub_m == width:
                if not complete:
                    proof.append(self.subtree(start, end))
                break
            k = _split(width)
            if sub_m <= k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start += k
                sub_m -= k
                complete = False
        proof.reverse()
        return proof


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over leaf *hashes* (use ``leaf_hash`` on raw entries first)."""
    acc = CompactRange()
    acc.extend(leaves)
    return acc.root()


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaves).consistency_proof(m)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2 inclusion verification (same tree as RFC 6962)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 consistency verification."""
    if m == n:
        return not proof and root_m == root_n
    if m == 0:
        # Every tree extends the empty tree; RFC 6962 defines no proof for it.
        return n > 0 and not proof and root_m == EMPTY_ROOT
    if not 0 < m < n or not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:  # m is a power of two: the old root is itself a proof node
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root_m and sr == root_n


# --------------------------------------------------------------------------------------------
# Streaming verification
# --------------------------------------------------------------------------------------------


class Checkpoint(Protocol):
    """What the verifier needs from a (signature-checked) head; ``SignedHead`` fits."""

    @property
    def size(self) -> int: ...

    @property
    def root_hex(self) -> str: ...

    @property
    def chain_hex(self) -> str: ...


EDITED = "EDITED"
CHAIN_BROKEN = "CHAIN_BROKEN"
DELETED = "DELETED"
INSERTED = "INSERTED"
REORDERED = "REORDERED"
TRUNCATED = "TRUNCATED"
HEAD_MISMATCH = "HEAD_MISMATCH"
HEAD_INVALID = "HEAD_INVALID"
HEADS_MISSING = "HEADS_MISSING"  # heads the store or the log's age says exist are not in the file


@dataclass(frozen=True)
class Problem:
    position: int
    code: str
    message_ru: str
    # Set when only a range can be named: a rewrite with recomputed hashes is pinned no finer
    # than the gap between two signed heads.
    position_to: int | None = None

    def __str__(self) -> str:
        where = f"{self.position}" if self.position_to is None else (
            f"{self.position}–{self.position_to}"
        )
        return f"[{self.code}] позиция {where}: {self.message_ru}"


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    root_hex: str
    chain_hex: str
    problem: Problem | None = None
    signed_size: int = 0  # entries covered by the largest signed head that was checked
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        if self.ok:
            tail = self.entries - self.signed_size
            unsigned = f", без подписи последние {tail}" if tail > 0 else ""
            return (
                f"ЖУРНАЛ ЦЕЛ: записей {self.entries}, корень {self.root_hex[:16]}…, "
                f"цепочка {self.chain_hex[:16]}…, подписано {self.signed_size}{unsigned}"
            )
        return f"НАРУШЕНИЕ ЦЕЛОСТНОСТИ: {self.problem} (проверено записей: {self.entries})"


# Classifying a head mismatch replays the window between two heads; bounded so a huge gap
# between heads cannot blow up memory or time (insert search is O(w^2), swap O(w^3)).
MAX_WINDOW = 4096
MAX_INSERT_SEARCH = 1024
MAX_SWAP_SEARCH = 64


def _msg(code: str, position: int, extra: str = "") -> str:
    base = {
        EDITED: f"запись {position} изменена: её содержимое не совпадает с сохранённым хэшем",
        CHAIN_BROKEN: f"цепочка хэшей разорвана на записи {position}",
        DELETED: f"запись {position} удалена (пропуск в нумерации)",
        INSERTED: f"запись {position} вставлена задним числом",
        REORDERED: f"запись {position} переставлена",
        TRUNCATED: f"хвост журнала удалён начиная с записи {position}",
        HEAD_MISMATCH: "записи не совпадают с подписанной вершиной журнала "
        "(изменены с пересчётом хэшей)",
    }[code]
    return f"{base}{extra}"


def _classify_window(
    base_chain: bytes,
    window: list[bytes],
    first_pos: int,
    target_chain: bytes,
    lookahead: bytes | None,
) -> tuple[str, int, int | None, str]:
    """Explain a head mismatch whose window [first_pos, first_pos+len(window)) was rewritten
    with recomputed hashes, by testing which simple change reproduces the signed chain."""
    w = len(window)
    end_pos = first_pos + w - 1
    # Insertion at p shifts the original entries right by one: dropping p and taking the next
    # row reproduces the signed chain.
    if lookahead is not None and w <= MAX_INSERT_SEARCH:
        shifted = window + [lookahead]
        prefix = base_chain
        for p in range(w):
            if chain_over(shifted[p + 1 :], prefix) == target_chain:
                pos = first_pos + p
                return INSERTED, pos, None, _msg(INSERTED, pos, " (хэши пересчитаны)")
            prefix = chain_next(prefix, shifted[p])
    if w <= MAX_SWAP_SEARCH:
        prefix = base_chain
        for i in range(w):
            for j in range(i + 1, w):
                h = chain_next(prefix, window[j])
                h = chain_over(window[i + 1 : j], h)
                h = chain_next(h, window[i])
                h = chain_over(window[j + 1 :], h)
                if h == target_chain:
                    pos = first_pos + i
                    return REORDERED, pos, None, _msg(
                        REORDERED, pos, f" (поменяна местами с записью {first_pos + j}, "
                        "хэши пересчитаны)"
                    )
            prefix = chain_next(prefix, window[i])
    if w == 1:
        return EDITED, first_pos, None, _msg(
            EDITED, first_pos, " (хэши пересчитаны; расхождение с подписанной вершиной)"
        )
    return HEAD_MISMATCH, first_pos, end_pos, _msg(
        HEAD_MISMATCH, first_pos,
        f": первая расходящаяся запись находится в диапазоне {first_pos}–{end_pos}, "
        f"последняя совпавшая подписанная вершина — размер {first_pos - 1}",
    )


class _Misplaced:
    """Refines a row-local problem at ``pos`` by reading the rest of the log.

    The stored hashes of a row are evidence of where it was written: its chain hash commits to
    the row it was appended after. So a later intact row that links to the chain *before* the
    bad row shows the log used to continue there: either the bad row and that one were swapped
    (the bad row links after the follower's predecessor), or the bad row was moved from
    elsewhere (some row of the log is its predecessor), or, when neither, the rows from ``pos``
    up to the follower were slipped in. A bad row that itself links two rows back shows the row
    before it was slipped in with its own hashes computed and the later ones left alone.
    """

    __slots__ = ("pos", "code", "data_leaf", "leaf", "chain", "prev", "prev2", "follower",
                 "after")

    def __init__(self, pos: int, code: str, data_leaf: bytes, leaf: bytes, chain: bytes,
                 prev: bytes, prev2: bytes | None) -> None:
        self.pos, self.code, self.data_leaf = pos, code, data_leaf
        self.leaf, self.chain = leaf, chain  # as stored on the bad row
        self.prev, self.prev2 = prev, prev2  # stored chain of the rows before it
        self.follower: int | None = None  # first later row written right after row pos-1
        self.after: int | None = None  # the row the bad row was written after

    def _links_after(self, chain: bytes) -> bool:
        return self.data_leaf == self.leaf and _sha256(chain + self.leaf).digest() == self.chain

    def _moved(self) -> Problem:
        return Problem(self.pos, REORDERED, _msg(
            REORDERED, self.pos, f" (перенесена: в журнале она шла после записи, что теперь на "
            f"позиции {self.after})"))

    def see(self, pos: int, data: bytes, leaf: bytes, chain: bytes) -> Problem | None:
        """A later row; returns the refined problem once it is certain."""
        bad = self.pos
        # Contents swapped, hashes left in place: the bad row's true leaf shows up later.
        if self.code == EDITED and leaf == self.data_leaf:
            return Problem(bad, REORDERED, _msg(REORDERED, bad, f" (поменяна местами с записью {pos})"))
        follows = (self.follower is None and _sha256(self.prev + leaf).digest() == chain
                   and _sha256(b"\x00" + data).digest() == leaf)
        if follows:
            # The log used to go on with this row right after row bad-1. The bad row swapped
            # with it was written after the row before it (after this very row when adjacent).
            if (pos == bad + 1 and self._links_after(chain)) or (
                    self.after is not None and self.after == pos - 1):
                return Problem(bad, REORDERED, _msg(REORDERED, bad,
                                                    f" (поменяна местами с записью {pos})"))
            self.follower = pos
        if self.after is not None and pos == self.after + 1:
            return self._moved()  # its predecessor was found and no swap partner follows it
        if self.after is None and self._links_after(chain):
            self.after = pos
            if self.follower is not None:
                return self._moved()
        return None

    def done(self, problem: Problem) -> Problem:
        """The log ended with nothing certain: name an insertion if the hashes show one."""
        bad = self.pos
        if self.after is not None:
            return self._moved()
        if self.follower is not None:
            last = self.follower - 1
            if last == bad:
                return Problem(bad, INSERTED, _msg(INSERTED, bad, " (следующие записи сдвинуты "
                                                   "на одну, хэши не пересчитаны)"))
            return Problem(bad, INSERTED, _msg(INSERTED, bad, f" (вставлены записи {bad}–{last}, "
                                               "следующие сдвинуты, хэши не пересчитаны)"), last)
        if (self.code == CHAIN_BROKEN and self.prev2 is not None
                and self._links_after(self.prev2)):
            return Problem(bad - 1, INSERTED, _msg(INSERTED, bad - 1, f" (запись {bad} в журнале "
                                                   f"шла сразу после записи {bad - 2})"))
        return problem


def verify_entries(
    rows: Iterable[tuple[int, bytes, bytes, bytes]],
    expected_head: Checkpoint | None = None,
    *,
    checkpoints: Iterable[Checkpoint] = (),
) -> VerifyResult:
    """Stream-verify ``(position, entry_bytes, stored_leaf_hash, stored_chain_hash)`` rows.

    Heads passed here must already be signature-checked (see ``heads.verify_head``).

    Detection layers, first problem by position wins:

    1. Row-local (no external data): gap → DELETED, repeated position → INSERTED, decreasing
       position → REORDERED, bytes ≠ stored leaf → EDITED, stored chain link broken →
       CHAIN_BROKEN. After a local problem the scan continues only to refine the code: the
       stored chain hashes tell where each row was written, so a swap, a move or rows slipped in
       with the rest shifted by one are named as such (see ``_Misplaced``).
    2. Signed heads (outside the DB) catch a rewrite whose stored hashes were recomputed: at each
       head size the computed chain/root must match. The divergence lies after the last
       matching head; an insertion or a swap inside that window is located exactly by replay.
       A head of size 0 commits to the empty log and is checked before the first row.
    3. A log shorter than the largest signed head → TRUNCATED at size+1.
    """
    heads: dict[int, Checkpoint] = {}
    for cp in list(checkpoints) + ([expected_head] if expected_head is not None else []):
        heads[cp.size] = cp
    head_sizes = sorted(heads)
    max_head = head_sizes[-1] if head_sizes else 0

    problem: Problem | None = None
    # Heads below the first position cannot be met in the scan: a size-0 head is the empty
    # log, whose root and chain are fixed; the cursor then starts at the first real size.
    next_idx = 0
    while next_idx < len(head_sizes) and head_sizes[next_idx] < 1:
        cp = heads[head_sizes[next_idx]]
        if problem is None and (cp.size != 0 or cp.root_hex != EMPTY_ROOT.hex()
                                or cp.chain_hex != ZERO_HASH.hex()):
            problem = Problem(0, HEAD_INVALID, f"подписанная вершина размера {cp.size} не "
                              "совпадает с пустым журналом: такую вершину нельзя было подписать "
                              "честно")
        next_idx += 1
    next_head = head_sizes[next_idx] if next_idx < len(head_sizes) else -1

    acc = CompactRange()
    chain = ZERO_HASH  # computed chain over computed leaves
    prev_stored_chain = ZERO_HASH
    prev2_stored_chain: bytes | None = None  # the one before it (None before row 2)
    expected_pos = 1
    last_pos = 0
    count = 0
    signed_size = 0

    base_chain = ZERO_HASH  # chain at the last matching head
    window: list[bytes] | None = [] if head_sizes else None

    # Refinement state after a local problem.
    misplaced: _Misplaced | None = None
    pending_head: tuple[int, bytes] | None = None  # (head size, target chain) awaiting lookahead

    for pos, data, stored_leaf, stored_chain in (rows if problem is None else ()):
        if pending_head is not None:
            size, target = pending_head
            assert window is not None
            code, p, p_to, msg = _classify_window(
                base_chain, window, size - len(window) + 1, target, leaf_hash(data)
            )
            problem = Problem(p, code, msg, p_to)
            break

        if problem is not None:
            # Only refining a local problem: where does the bad row, or the rest, belong?
            if misplaced is not None:
                refined = misplaced.see(pos, data, bytes(stored_leaf), bytes(stored_chain))
                if refined is not None:
                    problem, misplaced = refined, None
                    break
            continue

        if pos != expected_pos:
            if pos > expected_pos:
                problem = Problem(expected_pos, DELETED, _msg(DELETED, expected_pos))
            elif pos == last_pos:
                problem = Problem(pos, INSERTED, _msg(INSERTED, pos, " (повтор номера позиции)"))
            else:
                problem = Problem(
                    expected_pos, REORDERED,
                    _msg(REORDERED, expected_pos, f" (после позиции {last_pos} идёт {pos})"),
                )
            break

        leaf = _sha256(b"\x00" + data).digest()
        stored_leaf = bytes(stored_leaf)
        stored_chain = bytes(stored_chain)
        if leaf != stored_leaf:
            problem = Problem(pos, EDITED, _msg(EDITED, pos))
            misplaced = _Misplaced(pos, EDITED, leaf, stored_leaf, stored_chain,
                                   prev_stored_chain, prev2_stored_chain)
            last_pos = pos
            continue
        link = _sha256(prev_stored_chain + stored_leaf).digest()
        if link != stored_chain:
            problem = Problem(pos, CHAIN_BROKEN, _msg(CHAIN_BROKEN, pos))
            misplaced = _Misplaced(pos, CHAIN_BROKEN, leaf, stored_leaf, stored_chain,
                                   prev_stored_chain, prev2_stored_chain)
            last_pos = pos
            continue

        prev2_stored_chain = prev_stored_chain
        prev_stored_chain = stored_chain
        chain = _sha256(chain + leaf).digest()
        acc.append(leaf)
        count += 1
        last_pos = pos
        expected_pos = pos + 1
        if window is not None:
            if len(window) < MAX_WINDOW:
                window.append(leaf)
            else:
                window = None  # too far from any head to replay; fall back to a range report

        if pos == next_head:
            cp = heads[pos]
            if chain.hex() == cp.chain_hex and acc.root().hex() == cp.root_hex:
                signed_size = pos
                base_chain = chain
                window = []
            else:
                target = bytes.fromhex(cp.chain_hex)
                if window is None:
                    first = signed_size + 1
                    problem = Problem(
                        first, HEAD_MISMATCH,
                        _msg(HEAD_MISMATCH, first,
                             f": первая расходящаяся запись в диапазоне {first}–{pos}"),
                        pos,
                    )
                    break
                pending_head = (pos, target)
            # Sizes are distinct and positions advance by one, so this moves one step; it is
            # written as "past everything reached" so no head can ever stall the cursor.
            while next_idx < len(head_sizes) and head_sizes[next_idx] <= pos:
                next_idx += 1
            next_head = head_sizes[next_idx] if next_idx < len(head_sizes) else -1

    if misplaced is not None and problem is not None:
        problem = misplaced.done(problem)

    if problem is None and pending_head is not None:
        size, target = pending_head
        assert window is not None
        code, p, p_to, msg = _classify_window(
            base_chain, window, size - len(window) + 1, target, None
        )
        problem = Problem(p, code, msg, p_to)

    if problem is None and max_head > last_pos:
        problem = Problem(
            last_pos + 1, TRUNCATED,
            _msg(TRUNCATED, last_pos + 1, f" (подписано записей: {max_head}, в журнале: "
                 f"{last_pos})"),
        )

    return VerifyResult(
        ok=problem is None,
        entries=count,
        root_hex=acc.root().hex(),
        chain_hex=chain.hex(),
        problem=problem,
        signed_size=signed_size,
    )
