"""Merkle tree and chain primitives against RFC 6962 vectors and a naive reference."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.monitoring.audit.chain import (
    EMPTY_ROOT,
    ZERO_HASH,
    CompactRange,
    MerkleTree,
    chain_next,
    chain_over,
    consistency_proof,
    encode_entry,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency reference data (RFC 6962 test vectors as published with the
# CT/transparency-dev Merkle implementations): leaves, and the root for each size 1..8.
CT_DATA = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]
CT_LEAVES = [leaf_hash(d) for d in CT_DATA]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_CONSISTENCY = {
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


# ---- naive reference: a literal transcription of RFC 6962 §2.1 -------------------------------

def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = ref_split(n)
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = ref_split(n)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def synthetic(n: int) -> list[bytes]:
    return [leaf_hash(f"entry-{i}".encode()) for i in range(n)]


def flip(b: bytes, bit: int = 0) -> bytes:
    return bytes([b[0] ^ (1 << (bit % 8))]) + b[1:]


# ---- hand-computed values ------------------------------------------------------------------

def test_empty_tree_is_sha256_of_empty_string() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_root([]) == EMPTY_ROOT
    assert MerkleTree([]).root() == EMPTY_ROOT


def test_leaf_and_node_prefixes_by_hand() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"") .hex() == CT_ROOTS[0]
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    # Three leaves: RFC split is 2+1, not 1+2.
    c = leaf_hash(b"c")
    assert merkle_root([a, b, c]) == node_hash(node_hash(a, b), c)


def test_ct_roots_for_every_size() -> None:
    for n in range(1, 9):
        assert merkle_root(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1]
        assert MerkleTree(CT_LEAVES).root(n).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_ct_inclusion_vectors(index: int, size: int) -> None:
    proof = inclusion_proof(index, CT_LEAVES[:size])
    assert [p.hex() for p in proof] == CT_INCLUSION[(index, size)]
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, root)


@pytest.mark.parametrize(("m", "n"), sorted(CT_CONSISTENCY))
def test_ct_consistency_vectors(m: int, n: int) -> None:
    proof = consistency_proof(m, CT_LEAVES[:n])
    assert [p.hex() for p in proof] == CT_CONSISTENCY[(m, n)]
    assert verify_consistency(
        m, n, bytes.fromhex(CT_ROOTS[m - 1]), bytes.fromhex(CT_ROOTS[n - 1]), proof
    )


def test_degenerate_consistency() -> None:
    root4 = merkle_root(CT_LEAVES[:4])
    root8 = merkle_root(CT_LEAVES)
    assert verify_consistency(4, 4, root4, root4, [])
    assert not verify_consistency(4, 4, root4, root8, [])
    assert verify_consistency(0, 8, EMPTY_ROOT, root8, [])
    assert not verify_consistency(0, 8, root4, root8, [])
    assert not verify_consistency(8, 4, root8, root4, consistency_proof(4, CT_LEAVES))
    assert not verify_consistency(2, 8, root4, root8, [])


def test_inclusion_rejects_out_of_range() -> None:
    proof = inclusion_proof(5, CT_LEAVES)
    root = merkle_root(CT_LEAVES)
    assert not verify_inclusion(CT_LEAVES[5], 8, 8, proof, root)
    assert not verify_inclusion(CT_LEAVES[5], -1, 8, proof, root)
    assert not verify_inclusion(CT_LEAVES[5], 5, 8, proof[:-1], root)
    assert not verify_inclusion(CT_LEAVES[5], 5, 8, proof + [ZERO_HASH], root)
    with pytest.raises(ValueError):
        inclusion_proof(8, CT_LEAVES)


# ---- exhaustive against the reference for small sizes ----------------------------------------

def test_all_small_trees_match_reference() -> None:
    leaves = synthetic(70)
    tree = MerkleTree(leaves)
    for n in range(0, 71):
        root = ref_mth(leaves[:n])
        assert merkle_root(leaves[:n]) == root
        assert tree.root(n) == root
        small = MerkleTree(leaves[:n])
        for i in range(n):
            proof = small.inclusion_proof(i)
            assert proof == ref_path(i, leaves[:n])
            assert tree.inclusion_proof(i, n) == proof
            assert verify_inclusion(leaves[i], i, n, proof, root)
        for m in range(1, n + 1):
            cproof = small.consistency_proof(m)
            assert cproof == ref_subproof(m, leaves[:n], True)
            assert tree.consistency_proof(m, n) == cproof
            assert verify_consistency(m, n, ref_mth(leaves[:m]), root, cproof)


# ---- property tests ------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.integers(1, 600), st.data())
def test_inclusion_proofs_verify_and_flipped_bit_fails(n: int, data: st.DataObject) -> None:
    leaves = synthetic(n)
    tree = MerkleTree(leaves)
    root = tree.root()
    i = data.draw(st.integers(0, n - 1))
    proof = tree.inclusion_proof(i)
    assert verify_inclusion(leaves[i], i, n, proof, root)
    assert not verify_inclusion(flip(leaves[i]), i, n, proof, root)
    assert not verify_inclusion(leaves[i], i, n, proof, flip(root, 3))
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 7))
        bad = list(proof)
        bad[k] = flip(bad[k], bit)
        assert not verify_inclusion(leaves[i], i, n, bad, root)
    if n > 1:
        j = data.draw(st.integers(0, n - 1).filter(lambda x: x != i))
        assert not verify_inclusion(leaves[i], j, n, proof, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 600), st.data())
def test_consistency_proofs_verify_and_flipped_bit_fails(n: int, data: st.DataObject) -> None:
    leaves = synthetic(n)
    tree = MerkleTree(leaves)
    m = data.draw(st.integers(1, n - 1))
    proof = tree.consistency_proof(m)
    root_m, root_n = tree.root(m), tree.root()
    assert verify_consistency(m, n, root_m, root_n, proof)
    k = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[k] = flip(bad[k], data.draw(st.integers(0, 7)))
    assert not verify_consistency(m, n, root_m, root_n, bad)
    assert not verify_consistency(m, n, flip(root_m), root_n, proof)
    assert not verify_consistency(m, n, root_m, flip(root_n), proof)
    # A history that was rewritten at some leaf < m is not consistent with the old root.
    idx = data.draw(st.integers(0, m - 1))
    forged = list(leaves)
    forged[idx] = flip(forged[idx])
    ftree = MerkleTree(forged)
    assert not verify_consistency(m, n, root_m, ftree.root(), ftree.consistency_proof(m))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=200))
def test_compact_range_matches_reference(entries: list[bytes]) -> None:
    leaves = [leaf_hash(e) for e in entries]
    acc = CompactRange()
    for i, leaf in enumerate(leaves):
        acc.append(leaf)
        assert acc.size == i + 1
        assert len(acc.frontier) == bin(i + 1).count("1")  # O(log n) memory
    assert acc.root() == ref_mth(leaves)
    restored = CompactRange.from_hex(acc.size, acc.to_hex())
    restored.append(leaf_hash(b"next"))
    acc.append(leaf_hash(b"next"))
    assert restored.root() == acc.root()


def test_compact_range_rejects_inconsistent_frontier() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, [ZERO_HASH])


def test_sequential_chain() -> None:
    leaves = synthetic(3)
    h1 = hashlib.sha256(ZERO_HASH + leaves[0]).digest()
    assert chain_next(ZERO_HASH, leaves[0]) == h1
    h3 = chain_next(chain_next(h1, leaves[1]), leaves[2])
    assert chain_over(leaves) == h3
    assert chain_over([]) == ZERO_HASH


def test_encode_entry_is_unambiguous_and_time_normalised() -> None:
    base = dict(
        source="registry", source_position=7, event_id="e", event_type="T",
        occurred_at=datetime(2025, 9, 1, 12, 0, tzinfo=UTC), aggregate_id="a",
        region="77", municipality=None, organisation=None, data=b"{}",
    )
    a = encode_entry(**base)
    assert encode_entry(**{**base, "municipality": ""}) != a  # None differs from ""
    moscow = timezone(timedelta(hours=3))
    same_instant = datetime(2025, 9, 1, 15, 0, tzinfo=moscow)
    assert encode_entry(**{**base, "occurred_at": same_instant}) == a
    naive_utc = datetime(2025, 9, 1, 12, 0)
    assert encode_entry(**{**base, "occurred_at": naive_utc}) == a
    # Shifting bytes between adjacent fields must change the encoding.
    assert encode_entry(**{**base, "source": "registry7", "source_position": 0}) != a
