"""Sealing personal data with a key per person (AES-256-GCM), the keys wrapped by a master key.

The construction every service that keeps personal data uses (the registry's names and contacts,
the pairing's free text about a pair): a random key per person, stored wrapped by the service's
own master key (``<data_dir>/secrets/<service>-master.key``), and data sealed with it before it
is stored anywhere — the event store included. Destroying the person's key (when consent is
withdrawn) makes every copy of the ciphertext unreadable for good: crypto-shredding. Which table
holds the keys stays with each service; this module holds no state of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import read_or_create_secret

NONCE_BYTES = 12


class MasterKey:
    """A service's master key: wraps and unwraps the per-person keys, derives purpose keys."""

    def __init__(self, secrets_dir: Path, file_name: str) -> None:
        master = read_or_create_secret(secrets_dir / file_name)
        self._material = base64.urlsafe_b64decode(master + "=" * (-len(master) % 4))
        self._wrapping = AESGCM(self.derive(b"wrap"))

    def derive(self, purpose: bytes) -> bytes:
        """A 256-bit key for one purpose (wrapping keys, keyed fingerprints)."""
        return hashlib.sha256(purpose + self._material).digest()

    def wrap(self, person_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, key, person_id.bytes)

    def unwrap(self, person_id: UUID, wrapped: bytes) -> bytes:
        return self._wrapping.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], person_id.bytes)


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, context: bytes, data: Any) -> str:
    """``data`` (JSON) sealed with ``key``; ``context`` (whose data it is) is authenticated, so
    a ciphertext moved to another person's or pair's record does not open."""
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(data, ensure_ascii=False).encode()
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, context)).decode()


def unseal(key: bytes, context: bytes, sealed: str) -> Any:
    raw = base64.b64decode(sealed)
    return json.loads(AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context))


def purge_deleted(engine: sa.Engine) -> bool:
    """Push deleted keys out of the SQLite write-ahead log.

    With ``secure_delete`` a deleted row is zeroed in its page, but until a checkpoint the page
    as it was (key and all) still sits in the ``-wal`` file next to the database: a TRUNCATE
    checkpoint copies the zeroed pages home and empties that file. False when a reader kept it
    from finishing (the next purge or close finishes it). PostgreSQL: nothing to do here.
    """
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    return not busy
