"""Where a notification goes: each account's e-mail address (sealed at rest, like every piece
of personal data here) and whether its owner wants mail at all; and the answer to the monitoring
service's question "whom of this audience do I mail, at which address" (``CONTACTS`` route).

An official's address is the one they gave on their account page. A participant's is the one
on their person record, unless they gave another; it is read through the vault, so after a
withdrawal of consent (the key destroyed) there is none. Nobody is mailed who switched mail off.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from services.registry import views
from services.registry.accounts import AccountService
from services.registry.credentials import TotpSealer, accounts
from services.registry.vault import Vault, person_keys
from shared.auth import Actor, Role
from shared.errors import DomainError, forbidden

metadata = sa.MetaData()
contacts = sa.Table(
    "registry_account_contacts", metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(400), nullable=True),
    sa.Column("email_enabled", sa.Boolean, nullable=False, default=True),
)


class Contacts:
    def __init__(self, engine: sa.Engine, vault: Vault, accounts: AccountService,
                 secrets_dir: Path) -> None:
        self.engine = engine
        self.accounts = accounts
        self.vault = vault
        self.sealer = TotpSealer(secrets_dir, purpose="email")
        metadata.create_all(engine)

    def _login_of(self, actor: Actor) -> str:
        try:
            return self.accounts.own_login(actor)
        except DomainError as exc:
            raise DomainError(exc.code, "Вход выполнен через единый вход региона: адрес для "
                              "уведомлений здесь не хранится", exc.status) from None

    def _row(self, conn: sa.Connection, login: str) -> tuple[str | None, bool]:
        row = conn.execute(sa.select(contacts).where(contacts.c.login == login)).first()
        if row is None:
            return None, True
        return (self.sealer.open(login, row.email) if row.email else None), row.email_enabled

    def settings_of(self, actor: Actor) -> dict[str, Any]:
        login = self._login_of(actor)
        with self.engine.connect() as conn:
            email, enabled = self._row(conn, login)
        return {"email": email, "email_enabled": enabled}

    def update(self, actor: Actor, email: str | None, enabled: bool) -> dict[str, Any]:
        login = self._login_of(actor)
        sealed = self.sealer.seal(login, email) if email else None
        with self.engine.begin() as conn:
            conn.execute(contacts.delete().where(contacts.c.login == login))
            conn.execute(contacts.insert().values(login=login, email=sealed, email_enabled=enabled))
        return {"email": email, "email_enabled": enabled}

    def recipients(self, actor: Actor, audiences: list[str]) -> dict[str, Any]:
        """Audience → ``[{"login", "email"}]``: only the system (another service's loop) asks."""
        if actor.role is not Role.SYSTEM:
            raise forbidden("Адреса получателей выдаются только системе уведомлений")
        found: dict[str, list[dict[str, str]]] = {}
        people: dict[str, UUID] = {}
        officials: dict[str, tuple[str, str]] = {}
        for audience in audiences:
            kind, _, rest = audience.partition(":")
            if kind == "person":
                found[audience] = []  # unless found below
                with contextlib.suppress(ValueError):
                    people[audience] = UUID(rest)
            elif kind == "role":
                role, _, path = rest.partition(":")
                officials[audience] = (role, path)
        with self.engine.connect() as conn:
            addresses = self._people(conn, set(people.values())) if people else {}
            found.update({audience: addresses.get(person_id, [])
                          for audience, person_id in people.items()})
            for audience, (role, path) in officials.items():
                found[audience] = self._officials(conn, role, path)
        return {"recipients": found}

    def _officials(self, conn: sa.Connection, role: str, path: str) -> list[dict[str, str]]:
        logins = conn.execute(sa.select(accounts.c.login).where(
            accounts.c.role == role, accounts.c.scope == path,
            accounts.c.disabled.is_(False)).order_by(accounts.c.login)).scalars()
        found = []
        for login in logins:
            email, enabled = self._row(conn, login)
            if email and enabled:
                found.append({"login": login, "email": email})
        return found

    def _people(self, conn: sa.Connection,
                person_ids: set[UUID]) -> dict[UUID, list[dict[str, str]]]:
        """Each person's address, read with their key, account and mail settings in one query
        (a mailing asks for many at once). Nobody for a person unknown or whose key is gone
        (consent withdrawn: the inner join finds no key)."""
        people = views.people
        active_account = sa.and_(accounts.c.person_id == people.c.id, accounts.c.disabled.is_(False))
        rows = conn.execute(
            sa.select(people.c.id, people.c.sealed, person_keys.c.wrapped_key, accounts.c.login,
                      contacts.c.email, contacts.c.email_enabled)
            .select_from(people.join(person_keys, person_keys.c.person_id == people.c.id)
                         .outerjoin(accounts, active_account)
                         .outerjoin(contacts, contacts.c.login == accounts.c.login))
            .where(people.c.id.in_(person_ids)))
        found: dict[UUID, list[dict[str, str]]] = {}
        for row in rows:
            if row.id in found:
                continue  # a second account of the person: the first one answers
            found[row.id] = []
            personal = self.vault.open_wrapped(row.id, row.wrapped_key, row.sealed)
            if personal is None or row.email_enabled is False:
                continue
            own = self.sealer.open(row.login, row.email) if row.email else None
            address = own or personal.get("email")
            if address:
                found[row.id] = [{"login": row.login or f"person:{row.id}", "email": address}]
        return found
