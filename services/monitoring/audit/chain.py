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
from datetime import UTC, datetime

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
#: Version 2 adds two times after ``organisation``: when the log appended the entry and the
#: business date the event carries. Entries of version 1 keep their bytes, so they still verify.
_ENTRY_MAGIC_V2 = b"NAUDIT2\n"
_HEADER_V2 = struct.Struct(">11IQ")
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
    appended_at: datetime | str | None = None,
    business_at: datetime | str | None = None,
) -> bytes:
    """Positional twin of ``encode_entry`` for the hot loops (append and verify).

    ``occurred_at`` may already be the ``canonical_time`` text (the SQLite read path derives
    it from the stored string without building a datetime). Without ``appended_at`` the entry is
    of version 1 (``NAUDIT1``); with it, of version 2 (``NAUDIT2``, two more fields)."""
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
    if appended_at is None:
        header = _HEADER.pack(
            len(f0), len(f1), len(f2), len(f3), len(f4), len(f5), len(f6), l7, l8, len(data)
        )
        return b"".join((_ENTRY_MAGIC, header, f0, f1, f2, f3, f4, f5, f6, f7, f8, data))
    f9 = (appended_at if appended_at.__class__ is str else canonical_time(appended_at)).encode()
    if business_at is None:
        f10 = f4
    else:
        f10 = (business_at if business_at.__class__ is str else canonical_time(business_at)).encode()
    header = _HEADER_V2.pack(
        len(f0), len(f1), len(f2), len(f3), len(f4), len(f5), len(f6), l7, l8, len(f9), len(f10),
        len(data),
    )
    return b"".join((_ENTRY_MAGIC_V2, header, f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, data))


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
    appended_at: datetime | None = None,
    business_at: datetime | None = None,
) -> bytes:
    """Deterministic bytes that the leaf hash covers.

    The leaf covers the indexed metadata columns as well as the opaque event bytes: otherwise an
    UPDATE of ``aggregate_id`` or ``occurred_at`` (which drive audit queries) would go unnoticed.
    Layout: magic, all field lengths up front (0xFFFFFFFF marks None, distinct from ""), then
    the UTF-8 fields and the data, so no two different entries share an encoding.
    """
    return encode_fields(
        source, source_position, event_id, event_type, occurred_at, aggregate_id, region,
        municipality, organisation, bytes(data), appended_at, business_at,
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

