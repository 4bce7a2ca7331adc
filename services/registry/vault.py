"""Personal data sealed with a key per person (AES-256-GCM), the keys wrapped by a master key.

Destroying a person's key (when consent is withdrawn) makes every copy of their ciphertext —
in the event store, its backups, the audit log — unreadable for good: crypto-shredding.
Duplicate detection uses a keyed fingerprint (HMAC) of name and birth date, deleted with the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import read_or_create_secret

metadata = sa.MetaData()
person_keys = sa.Table(
    "registry_person_keys", metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
)
person_claims = sa.Table(
    "registry_person_claims", metadata,
    sa.Column("organisation_id", sa.Uuid, primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, unique=True),
)

NONCE_BYTES = 12
LABEL_TITLES = {"mentor": "Наставник", "mentee": "Наставляемый"}
#: Hex digits of the label's HMAC: 32 bits, so two people of one region rarely share a label
#: (the id, given beside it, tells them apart anyway).
LABEL_DIGITS = 8


def pseudonym(key: bytes, person_id: UUID, role: str) -> str:
    """«Наставляемый №7F3A-91C2»: stable for the person within the deployment, and without the
    registry's key no way back to the id (an HMAC, not a hash anyone could recompute)."""
    digest = hmac.new(key, b"label:" + person_id.bytes, hashlib.sha256).hexdigest().upper()
    code = digest[:LABEL_DIGITS]
    return f"{LABEL_TITLES.get(role, 'Участник')} №{code[:4]}-{code[4:]}"


class Vault:
    def __init__(self, engine: sa.Engine, secrets_dir: Path) -> None:
        self.engine = engine
        master = read_or_create_secret(secrets_dir / "registry-master.key")
        material = base64.urlsafe_b64decode(master + "=" * (-len(master) % 4))
        self._master = AESGCM(hashlib.sha256(b"wrap" + material).digest())
        self._fingerprint_key = hashlib.sha256(b"fingerprint" + material).digest()
        # Derived, never stored: labels stay stable as long as the master key does.
        self._label_key = hashlib.sha256(b"label" + material).digest()
        metadata.create_all(engine)

    def label(self, person_id: UUID, role: str) -> str:
        """The person's pseudonymous label (``pseudonym``) under this deployment's key."""
        return pseudonym(self._label_key, person_id, role)

    def fingerprint(self, last: str, first: str, middle: str | None, birth_date: str) -> str:
        normalised = "|".join(
            part.strip().lower().replace("ё", "е") for part in (last, first, middle or "", birth_date)
        )
        return hmac.new(self._fingerprint_key, normalised.encode(), hashlib.sha256).hexdigest()

    def new_keys(self, conn: sa.Connection, person_ids: list[UUID]) -> dict[UUID, bytes]:
        """A fresh key for each person, stored wrapped in one statement."""
        keys = {person_id: AESGCM.generate_key(bit_length=256) for person_id in person_ids}
        rows = []
        for person_id, key in keys.items():
            nonce = os.urandom(NONCE_BYTES)
            rows.append({"person_id": person_id,
                         "wrapped_key": nonce + self._master.encrypt(nonce, key, person_id.bytes)})
        if rows:
            conn.execute(person_keys.insert(), rows)
        return keys

    def _key(self, conn: sa.Connection, person_id: UUID) -> bytes | None:
        wrapped = conn.execute(
            sa.select(person_keys.c.wrapped_key).where(person_keys.c.person_id == person_id)
        ).scalar()
        if wrapped is None:
            return None
        return self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], person_id.bytes)

    @staticmethod
    def seal_with(key: bytes, person_id: UUID, data: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(data, ensure_ascii=False).encode()
        sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, person_id.bytes)
        return base64.b64encode(sealed).decode()

    def open(self, conn: sa.Connection, person_id: UUID, sealed: str | None) -> dict[str, Any] | None:
        """The person's data, or None once their key is destroyed."""
        if sealed is None:
            return None
        key = self._key(conn, person_id)
        if key is None:
            return None
        raw = base64.b64decode(sealed)
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], person_id.bytes)
        return json.loads(plaintext)

    def shred(self, conn: sa.Connection, person_id: UUID) -> None:
        """Destroy a person's key and fingerprint; idempotent (a second call finds nothing)."""
        self.forget(conn, [person_id])

    @staticmethod
    def forget(conn: sa.Connection, person_ids: list[UUID]) -> None:
        """Delete the keys and claims of these people (shredded, or never stored)."""
        if person_ids:
            conn.execute(person_keys.delete().where(person_keys.c.person_id.in_(person_ids)))
            conn.execute(person_claims.delete().where(person_claims.c.person_id.in_(person_ids)))

    def purge_deleted(self) -> bool:
        """Push deleted keys out of the SQLite write-ahead log.

        With ``secure_delete`` a deleted row is zeroed in its page, but until a checkpoint the
        page as it was (key and all) still sits in the ``-wal`` file next to the database:
        a TRUNCATE checkpoint copies the zeroed pages home and empties that file. False when a
        reader kept it from finishing (the next purge or close finishes it).
        """
        if self.engine.dialect.name != "sqlite":
            return True
        with self.engine.connect() as conn:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        return not busy
