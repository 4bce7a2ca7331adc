"""What a process takes from the bucket of revoked tokens: only what the registry signed."""

from __future__ import annotations

import json

import pytest

from shared import revocations, signing

KEYS = signing.Keyring.generate()


def test_an_entry_the_registry_signed_is_read_back() -> None:
    assert revocations.read_entry(KEYS, revocations.entry(KEYS, "abc", 1_900_000_000.5)) == (
        "abc", 1_900_000_000.0)


@pytest.mark.parametrize("data", [
    revocations.entry(signing.Keyring.generate(), "abc", 1_900_000_000),  # another registry key
    json.dumps({**json.loads(revocations.entry(KEYS, "abc", 1_900_000_000)),
                "jti": "someone-else"}).encode(),  # the signature of another token
    json.dumps({**json.loads(revocations.entry(KEYS, "abc", 1_900_000_000)),
                "exp": 1_800_000_000}).encode(),  # another expiry
    b"{}", b"not json", b"[]",
])
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a revocation"):
        revocations.read_entry(KEYS, data)


def test_a_pairing_signed_entry_is_not_the_registrys() -> None:
    signature = KEYS.signer("pairing").key.sign(revocations.LABEL + b"abc|1900000000").hex()
    forged = json.dumps({"jti": "abc", "exp": 1_900_000_000, "sig": signature}).encode()
    with pytest.raises(ValueError):
        revocations.read_entry(KEYS, forged)
