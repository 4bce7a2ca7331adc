"""Personal data sealed with a key per person (AES-256-GCM), the keys wrapped by a master key.

Destroying a person's key (when consent is withdrawn) makes every copy of their ciphertext —
in the event store, its backups, the audit log — unreadable for good: crypto-shredding.
Duplicate detection uses a keyed fingerprint (HMAC) of name and birth date, deleted with the key.
The construction itself (master key, wrapping, sealing, the WAL purge) is ``shared.sealing``.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from shared import sealing

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
        self._master = sealing.MasterKey(secrets_dir, "registry-master.key")
        self._fingerprint_key = self._master.derive(b"fingerprint")
        # Derived, never stored: labels stay stable as long as the master key does.
        self._label_key = self._master.derive(b"label")
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
        keys = {person_id: sealing.new_key() for person_id in person_ids}
        rows = [{"person_id": person_id, "wrapped_key": self._master.wrap(person_id, key)}
                for person_id, key in keys.items()]
        if rows:
            conn.execute(person_keys.insert(), rows)
        return keys

    @staticmethod
    def seal_with(key: bytes, person_id: UUID, data: dict[str, Any]) -> str:
        return sealing.seal(key, person_id.bytes, data)

    def open(self, conn: sa.Connection, person_id: UUID, sealed: str | None) -> dict[str, Any] | None:
        """The person's data, or None once their key is destroyed."""
        if sealed is None:
            return None
        wrapped = conn.execute(
            sa.select(person_keys.c.wrapped_key).where(person_keys.c.person_id == person_id)
        ).scalar()
        return self.open_wrapped(person_id, wrapped, sealed)

    def open_wrapped(self, person_id: UUID, wrapped_key: bytes | None,
                     sealed: str | None) -> dict[str, Any] | None:
        """``open`` with the person's wrapped key already read (by a query over many people);
        None when there is no key (destroyed) or nothing sealed."""
        if sealed is None or wrapped_key is None:
            return None
        key = self._master.unwrap(person_id, wrapped_key)
        opened: dict[str, Any] = sealing.unseal(key, person_id.bytes, sealed)
        return opened

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
        """Deleted keys pushed out of the SQLite write-ahead log (``sealing.purge_deleted``)."""
        return sealing.purge_deleted(self.engine)
