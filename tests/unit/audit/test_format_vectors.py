"""docs/audit-format.md's test vectors, recomputed from the spec by hand and by the code."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.monitoring.audit.chain import (
    MerkleTree,
    canonical_time,
    encode_entry,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from services.monitoring.audit.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    parse_note,
    sign_checkpoint,
)
from services.monitoring.audit.heads import HeadSigner, SignedHead, verify_head
from services.monitoring.audit.history import business_time

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-format.md"


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def by_hand(e: dict[str, Any]) -> bytes:
    """§1 of the doc, written from the text: magic, nine uint32 lengths, uint64, fields."""
    fields = [e["source"], str(e["source_position"]), e["event_id"], e["event_type"],
              e["occurred_at"], e["aggregate_id"], e["region"], e["municipality"],
              e["organisation"]]
    raw = [b"" if f is None else f.encode() for f in fields]
    lengths = [0xFFFFFFFF if f is None else len(r) for f, r in zip(fields, raw, strict=True)]
    data = base64.b64decode(e["data_b64"])
    return b"NAUDIT1\n" + struct.pack(">9IQ", *lengths, len(data)) + b"".join(raw) + data


def test_entries_leaves_and_chain(vectors: dict[str, Any]) -> None:
    chain = bytes(32)
    for e in vectors["entries"]:
        raw = by_hand(e)
        assert raw.hex() == e["entry_bytes_hex"]
        assert encode_entry(
            source=e["source"], source_position=e["source_position"], event_id=e["event_id"],
            event_type=e["event_type"], occurred_at=datetime.fromisoformat(e["occurred_at"]),
            aggregate_id=e["aggregate_id"], region=e["region"], municipality=e["municipality"],
            organisation=e["organisation"], data=base64.b64decode(e["data_b64"])) == raw
        leaf = hashlib.sha256(b"\x00" + raw).digest()
        assert leaf.hex() == e["leaf_hash"] == leaf_hash(raw).hex()
        chain = hashlib.sha256(chain + leaf).digest()
        assert chain.hex() == e["chain_hash"]


def by_hand_v2(e: dict[str, Any]) -> bytes:
    """§1, format 2: magic NAUDIT2, eleven uint32 lengths (the nine, appended_at, business_at)."""
    fields = [e["source"], str(e["source_position"]), e["event_id"], e["event_type"],
              e["occurred_at"], e["aggregate_id"], e["region"], e["municipality"],
              e["organisation"], e["appended_at"], e["business_at"]]
    raw = [b"" if f is None else f.encode() for f in fields]
    lengths = [0xFFFFFFFF if f is None else len(r) for f, r in zip(fields, raw, strict=True)]
    data = base64.b64decode(e["data_b64"])
    return b"NAUDIT2\n" + struct.pack(">11IQ", *lengths, len(data)) + b"".join(raw) + data


def test_entries_of_format_2_keep_append_time_and_business_date(vectors: dict[str, Any]) -> None:
    zone = ZoneInfo("Europe/Moscow")
    for e in vectors["entries_v2"]:
        raw = by_hand_v2(e)
        assert raw.hex() == e["entry_bytes_hex"]
        data = base64.b64decode(e["data_b64"])
        occurred = datetime.fromisoformat(e["occurred_at"])
        # The business date is the meeting's day, from its local midnight, not when it was typed.
        business = business_time(e["event_type"], data, occurred, zone)
        assert canonical_time(business) == e["business_at"]
        assert encode_entry(
            source=e["source"], source_position=e["source_position"], event_id=e["event_id"],
            event_type=e["event_type"], occurred_at=occurred,
            aggregate_id=e["aggregate_id"], region=e["region"], municipality=e["municipality"],
            organisation=e["organisation"], data=data,
            appended_at=datetime.fromisoformat(e["appended_at"]), business_at=business) == raw
        assert leaf_hash(raw).hex() == e["leaf_hash"]
        # Format 1's bytes of the same fields differ: a row cannot change format unnoticed.
        assert encode_entry(
            source=e["source"], source_position=e["source_position"], event_id=e["event_id"],
            event_type=e["event_type"], occurred_at=occurred, aggregate_id=e["aggregate_id"],
            region=e["region"], municipality=e["municipality"], organisation=e["organisation"],
            data=data) != raw


def test_tree_and_proofs(vectors: dict[str, Any]) -> None:
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in vectors["entries"]]

    def node(a: bytes, b: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + a + b).digest()

    root2 = node(leaves[0], leaves[1])
    root3 = node(root2, leaves[2])  # RFC 6962: k = 2 for n = 3
    assert hashlib.sha256(b"").hexdigest() == vectors["empty_root"]
    assert (root2.hex(), root3.hex()) == (vectors["root_2"], vectors["root_3"])
    tree = MerkleTree(leaves)
    assert tree.root().hex() == vectors["root_3"]
    inclusion = [bytes.fromhex(p) for p in vectors["inclusion_1_of_3"]]
    assert inclusion == [leaves[0], leaves[2]] == tree.inclusion_proof(1, 3)
    assert verify_inclusion(leaves[1], 1, 3, inclusion, root3)
    for m, key in ((2, "consistency_2_to_3"), (1, "consistency_1_to_3")):
        proof = [bytes.fromhex(p) for p in vectors[key]]
        assert proof == tree.consistency_proof(m, 3)
        assert verify_consistency(m, 3, tree.root(m), root3, proof)


def test_head_and_checkpoint_signatures(vectors: dict[str, Any]) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vectors["ed25519_seed_hex"]))
    raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    assert hashlib.sha256(raw_pub).hexdigest()[:16] == vectors["key_id"]
    head = SignedHead.from_dict(vectors["head"])
    message = "\n".join(["nastavnik-audit-head/v1", str(head.size), head.root_hex,
                         head.chain_hex, head.time, head.key_id]).encode()
    assert message.hex() == vectors["head_message_hex"] == head.signed_bytes().hex()
    assert verify_head(head, key.public_key())
    assert HeadSigner(key).sign(head.size, head.root_hex, head.chain_hex, head.time) == head

    origin = "nastavnik.audit/demo"
    body = f"{origin}\n3\n{base64.b64encode(bytes.fromhex(vectors['root_3'])).decode()}\n"
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw_pub).digest()[:4]
    line = "\u2014 " + origin + " " + base64.b64encode(key_hash + key.sign(body.encode())).decode()
    assert body + "\n" + line + "\n" == vectors["checkpoint_note"]
    assert vectors["log_vkey"] == (f"{origin}+{key_hash.hex()}+"
                                   + base64.b64encode(b"\x01" + raw_pub).decode())
    signer = NoteSigner(origin, key)
    note = sign_checkpoint(signer, Checkpoint(origin, 3, bytes.fromhex(vectors["root_3"])))
    assert note.text() == vectors["checkpoint_note"]
    parsed = parse_note(vectors["checkpoint_note"])
    assert parsed.signed_by(NoteVerifier.from_vkey(vectors["log_vkey"]))
    other = NoteVerifier(origin, Ed25519PrivateKey.generate().public_key())
    assert not parsed.signed_by(other)
