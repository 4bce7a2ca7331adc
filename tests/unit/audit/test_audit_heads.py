"""Signed heads: keys on disk, signatures, and a tampered heads file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.monitoring.audit.heads import (
    AuditKeyMissing,
    HeadsFile,
    HeadSigner,
    SignedHead,
    create_key,
    key_id_of,
    load_public_key,
    load_signing_key,
    public_key_pem,
    verify_head,
)

ROOT = "ab" * 32
CHAIN = "cd" * 32


def test_key_created_with_owner_only_permissions_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit.pem"
    with pytest.raises(AuditKeyMissing, match="init-key"):
        load_signing_key(path)  # nothing creates a key in passing
    assert not path.exists()
    key = create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = load_signing_key(path)
    assert key_id_of(again.public_key()) == key_id_of(key.public_key())
    with pytest.raises(FileExistsError):
        create_key(path)  # an existing key is never replaced
    assert key_id_of(load_signing_key(path).public_key()) == key_id_of(key.public_key())


def test_sign_and_verify_roundtrip() -> None:
    signer = HeadSigner(Ed25519PrivateKey.generate())
    head = signer.sign(10, ROOT, CHAIN)
    assert head.time.endswith("Z")
    assert verify_head(head, signer.public_key)
    assert verify_head(SignedHead.from_dict(json.loads(head.to_json())), signer.public_key)
    pem_key = load_public_key(public_key_pem(signer.public_key))
    assert verify_head(head, pem_key)


def test_any_changed_field_breaks_the_signature() -> None:
    signer = HeadSigner(Ed25519PrivateKey.generate())
    head = signer.sign(10, ROOT, CHAIN, time="2025-09-01T00:00:00.000000Z")
    for change in (
        {"size": 11}, {"root_hex": "00" * 32}, {"chain_hex": "00" * 32},
        {"time": "2025-09-02T00:00:00.000000Z"},
        {"signature_b64": "!!not-base64!!"},
    ):
        forged = SignedHead(**{**head.to_dict(), **change})
        assert not verify_head(forged, signer.public_key), change


def test_other_key_is_rejected() -> None:
    head = HeadSigner(Ed25519PrivateKey.generate()).sign(1, ROOT, CHAIN)
    other = Ed25519PrivateKey.generate().public_key()
    assert not verify_head(head, other)


def test_heads_file_append_latest_all(tmp_path: Path) -> None:
    signer = HeadSigner(Ed25519PrivateKey.generate())
    hf = HeadsFile(tmp_path / "heads.jsonl")
    assert hf.latest() is None and hf.all() == []
    for size in (1, 5, 9):
        hf.append(signer.sign(size, ROOT, CHAIN))
    assert [h.size for h in hf.all()] == [1, 5, 9]
    assert hf.latest().size == 9
    good, issues = hf.checked(signer.public_key)
    assert len(good) == 3 and issues == []


def test_tampered_heads_file_is_reported_with_line(tmp_path: Path) -> None:
    signer = HeadSigner(Ed25519PrivateKey.generate())
    path = tmp_path / "heads.jsonl"
    hf = HeadsFile(path)
    for size in (1, 5, 9):
        hf.append(signer.sign(size, ROOT, CHAIN))
    lines = path.read_text().splitlines()
    raw = json.loads(lines[1])
    raw["root_hex"] = "ee" * 32  # the attacker "fixes" the head to match a rewritten DB
    lines[1] = json.dumps(raw)
    lines.append("{not json")
    path.write_text("\n".join(lines) + "\n")
    good, issues = hf.checked(signer.public_key)
    assert [h.size for h in good] == [1, 9]
    assert issues[0].line == 2 and "подпись" in issues[0].message_ru
    assert issues[1].line == 4 and "повреждена" in issues[1].message_ru


def test_fork_between_signed_heads_is_reported(tmp_path: Path) -> None:
    signer = HeadSigner(Ed25519PrivateKey.generate())
    hf = HeadsFile(tmp_path / "heads.jsonl")
    hf.append(signer.sign(5, ROOT, CHAIN))
    hf.append(signer.sign(5, "00" * 32, CHAIN))  # key holder re-signed a rewritten log
    good, issues = hf.checked(signer.public_key)
    assert len(good) == 1 and "расходятся" in issues[0].message_ru
