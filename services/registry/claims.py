"""Reservations that make the registry's uniqueness rules hold across replicas.

A rule checked against the view ("this path is free") holds only in the process that checked
it; two replicas could both pass it and store two organisations on one path, which the view
(``path`` is unique there) could then never apply. Reserving the path in a table with a unique
constraint before the events are saved lets the database decide: exactly one reservation wins.
People are reserved the same way, by fingerprint, in ``vault.person_claims``.
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa

metadata = sa.MetaData()
organisation_claims = sa.Table(
    "registry_organisation_claims", metadata,
    sa.Column("path", sa.String(200), primary_key=True),
    sa.Column("organisation_id", sa.Uuid, nullable=False, unique=True),
)


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)


def claim_path(conn: sa.Connection, path: str, organisation_id: UUID) -> None:
    """Raises ``IntegrityError`` when another organisation holds the path."""
    conn.execute(organisation_claims.insert().values(path=path, organisation_id=organisation_id))


def release(conn: sa.Connection, organisation_id: UUID) -> None:
    conn.execute(organisation_claims.delete()
                 .where(organisation_claims.c.organisation_id == organisation_id))
