"""Free text about a pair, sealed with its members' keys and destroyed with any one of them.

A goal's wording, a meeting's feedback and a curator's reason to dissolve a pair may name the
mentor or a mentee. So they are sealed (``shared.sealing``) before they are stored — the pairing's
events hold only ciphertext — with a key derived from the keys of every member of the pair. Each
person's key is kept here, in the pairing's own database, wrapped by the pairing's master key.
When a member withdraws consent their key is destroyed and a tombstone left, so the pair's texts
can never be opened again and no new key is ever made for that person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared import sealing
from shared.errors import DomainError

metadata = sa.MetaData()
#: A person's key, wrapped; ``wrapped_key`` None is the tombstone of a destroyed key.
person_keys = sa.Table(
    "pairing_person_keys", metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
)

#: What a reader sees where a text was, once a member of the pair withdrew consent.
TEXT_REMOVED = "текст удалён: согласие на обработку персональных данных отозвано"

Seal = Callable[[dict[str, Any]], str]


def withdrawn_error() -> DomainError:
    return DomainError("CONSENT_WITHDRAWN", "Участник пары отозвал согласие на обработку "
                       "персональных данных: текст о паре больше не сохраняется", 409)


class PairText:
    """Seals and opens the texts of one pair; ``key`` None when a member's key is destroyed."""

    def __init__(self, pair_id: UUID, key: bytes | None, erased: bool) -> None:
        self.context = b"pairing-text" + pair_id.bytes
        self.key = key
        #: A member withdrew consent: even a text stored before sealing existed is not shown.
        self.erased = erased

    def seal(self, data: dict[str, Any]) -> str:
        if self.key is None:
            raise withdrawn_error()
        return sealing.seal(self.key, self.context, data)

    def open(self, sealed: str | None, field: str, legacy: str | None = None) -> str | None:
        """The field of a sealed text; a text stored in the clear before sealing existed
        (``legacy``) as it is, unless a member withdrew; ``TEXT_REMOVED`` once the key is gone."""
        if sealed is None:
            return TEXT_REMOVED if self.erased and legacy else legacy
        if self.key is None:
            return TEXT_REMOVED
        value = sealing.unseal(self.key, self.context, sealed).get(field)
        return None if value is None else str(value)


class PairingVault:
    def __init__(self, engine: sa.Engine, secrets_dir: Path) -> None:
        self.engine = engine
        self._master = sealing.MasterKey(secrets_dir, "pairing-master.key")
        #: A destroyed key may still sit in the write-ahead log: purged again until it works.
        self.purge_pending = True
        metadata.create_all(engine)

    def text_of(self, pair_id: UUID, members: Iterable[UUID], *, create: bool = False) -> PairText:
        """The pair's sealer: its key derived from every member's key (made if ``create`` and
        missing), or none when any member's key was destroyed (or, without ``create``, never
        made: no text of the pair was sealed yet)."""
        people = sorted(set(members))
        rows = self._rows(people)
        if create and any(p not in rows for p in people):
            self._make_keys([p for p in people if p not in rows])
            rows = self._rows(people)
        erased = any(rows.get(p, b"") is None for p in people)
        if erased or any(p not in rows for p in people):
            return PairText(pair_id, None, erased)
        material = b"".join(self._master.unwrap(p, rows[p]) for p in people)  # type: ignore[arg-type]
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"nastavnik pairing text " + pair_id.bytes).derive(material)
        return PairText(pair_id, key, erased=False)

    def _rows(self, people: list[UUID]) -> dict[UUID, bytes | None]:
        with self.engine.connect() as conn:
            return {row.person_id: row.wrapped_key for row in conn.execute(
                sa.select(person_keys).where(person_keys.c.person_id.in_(people)))}

    def _make_keys(self, people: list[UUID]) -> None:
        for person_id in people:
            try:
                with self.engine.begin() as conn:
                    conn.execute(person_keys.insert().values(
                        person_id=person_id,
                        wrapped_key=self._master.wrap(person_id, sealing.new_key())))
            except sa.exc.IntegrityError:
                pass  # another replica made it first (or shredded it): the caller reads it back

    def shred(self, person_id: UUID) -> None:
        """Destroy the person's key for good, leaving a tombstone; idempotent.

        The row is deleted (``secure_delete`` zeroes it in its page) and a fresh one without a
        key inserted, rather than the key overwritten in place.
        """
        with self.engine.begin() as conn:
            conn.execute(person_keys.delete().where(person_keys.c.person_id == person_id))
            conn.execute(person_keys.insert().values(person_id=person_id, wrapped_key=None))

    def purge_deleted(self) -> bool:
        self.purge_pending = not sealing.purge_deleted(self.engine)
        return not self.purge_pending
