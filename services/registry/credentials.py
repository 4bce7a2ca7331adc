"""What sign-in rests on, kept in the registry's database: the account tables, the lock-out
every replica shares and the sealing of TOTP secrets.

Accounts live in the registry's database (not in its event store): a password hash or a TOTP
secret must never travel on the bus or into the audit log. TOTP secrets are sealed (AES-256-GCM)
under a key kept in the secrets directory, outside the database: a copy of the database alone
cannot mint second-factor codes.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects import postgresql, sqlite

from services.registry.throttling import account_locked
from shared.logging import get_logger
from shared.settings import Settings, read_or_create_secret

log = get_logger(__name__)

metadata = sa.MetaData()
TOTP_COLUMN_LENGTH = 200
accounts = sa.Table(
    "registry_accounts", metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    #: For participants: their registry person id, which their tokens carry as the user.
    sa.Column("person_id", sa.Uuid, nullable=True),
    #: Sealed (``TotpSealer``); rows written before sealing hold the plain base32 until start-up.
    sa.Column("totp_secret", sa.String(TOTP_COLUMN_LENGTH), nullable=True),
    sa.Column("totp_enabled", sa.Boolean, nullable=False, default=False),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    #: A new secret being set up (sealed): the active one stays in force until a code of this
    #: one confirms it.
    sa.Column("totp_pending_secret", sa.String(TOTP_COLUMN_LENGTH), nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
refresh_tokens = sa.Table(
    "registry_refresh_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, index=True),
    sa.Column("family", sa.String(32), nullable=False, index=True),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used", sa.Boolean, nullable=False, default=False),
)
#: Failed sign-ins per login, shared by every replica. A table of its own, not columns of the
#: accounts: unknown logins are counted and locked the same way (the answers must not tell which
#: logins exist), and existing databases need no migration.
login_failures = sa.Table(
    "registry_login_failures", metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
    sa.Column("last_failure_at", sa.Float, nullable=False, index=True),
)


class SharedLockout:
    """Lock-out per login after repeated failures, counted in the registry's database.

    One atomic upsert per failure (SQLite and PostgreSQL both have INSERT … ON CONFLICT DO
    UPDATE), so failures spread over replicas add up to one count and two failing at the same
    moment never lose one. A streak older than the lock-out period is forgotten. Attempts that
    are already past the check when the lock falls may still finish (at most one per replica
    and concurrent request); every later one is refused.
    """

    def __init__(self, engine: sa.Engine, settings: Settings, clock: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def check(self, login: str) -> bool:
        """Refuses a locked login; True when it has failures on record (to clear on success)."""
        with self.engine.connect() as conn:
            locked_until = conn.execute(sa.select(login_failures.c.locked_until)
                                        .where(login_failures.c.login == login)).scalar()
        remaining = (locked_until or 0.0) - self.clock()
        if remaining > 0:
            raise account_locked(remaining)
        return locked_until is not None

    def failed(self, login: str) -> None:
        now = self.clock()
        limit = self.settings.login_max_failures
        period = self.settings.login_lockout_seconds
        t = login_failures
        streak = sa.case((t.c.last_failure_at < now - period, 0), else_=t.c.failures) + 1
        locks = streak >= limit
        first_locks = limit <= 1
        with self.engine.begin() as conn:
            insert = (postgresql.insert(t) if conn.dialect.name == "postgresql" else sqlite.insert(t))
            statement = insert.values(
                login=login, failures=0 if first_locks else 1,
                locked_until=now + period if first_locks else 0.0, last_failure_at=now,
            ).on_conflict_do_update(index_elements=[t.c.login], set_={
                # Every right-hand side reads the row as it was before this update.
                "failures": sa.case((locks, 0), else_=streak),
                "locked_until": sa.case((locks, now + period), else_=t.c.locked_until),
                "last_failure_at": now,
            }).returning(t.c.locked_until)
            locked_until = conn.execute(statement).scalar_one()
        # Streaks nobody continued and locks that ended: the table stays as small as the attack.
        # A transaction of its own: holding this row while waiting for others' could deadlock.
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.last_failure_at < now - period, t.c.locked_until <= now))
        if locked_until > now:
            log.warning("accounts.locked_out", login=login, seconds=period)

    def succeeded(self, login: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(login_failures.delete().where(login_failures.c.login == login))


SEALED_PREFIX = "v1:"


class TotpSealer:
    """TOTP secrets sealed with AES-256-GCM under a key in the secrets directory.

    The login is the associated data: a sealed secret copied onto another account's row does not
    open. A plain base32 secret (written before sealing existed) still opens, and
    ``seal_plain_rows`` replaces those at start-up.
    """

    def __init__(self, secrets_dir: Path) -> None:
        material = read_or_create_secret(secrets_dir / "registry-totp.key")
        self._aead = AESGCM(hashlib.sha256(b"totp" + material.encode()).digest())

    def seal(self, login: str, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, secret.encode(), login.encode())
        return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, login: str, stored: str) -> str:
        if not stored.startswith(SEALED_PREFIX):
            return stored
        raw = base64.urlsafe_b64decode(stored[len(SEALED_PREFIX):])
        return self._aead.decrypt(raw[:12], raw[12:], login.encode()).decode()

    def seal_plain_rows(self, engine: sa.Engine) -> int:
        """Seal the secrets still stored plain; safe when replicas start together."""
        with engine.begin() as conn:
            plain = conn.execute(sa.select(accounts.c.login, accounts.c.totp_secret).where(
                accounts.c.totp_secret.is_not(None),
                sa.not_(accounts.c.totp_secret.startswith(SEALED_PREFIX, autoescape=True)))).all()
            for row in plain:
                # Compare-and-set: a row another replica sealed meanwhile is left alone.
                conn.execute(accounts.update().where(accounts.c.login == row.login,
                                                     accounts.c.totp_secret == row.totp_secret)
                             .values(totp_secret=self.seal(row.login, row.totp_secret)))
        if plain:
            log.info("accounts.totp_secrets_sealed", count=len(plain))
        return len(plain)


def _widen_totp_column(engine: sa.Engine) -> None:
    """Databases made before sealing have a 64-character column, too short for a sealed secret.

    Widening a varchar is a catalogue change in PostgreSQL (no table rewrite); SQLite does not
    enforce declared lengths at all.
    """
    if engine.dialect.name != "postgresql":
        return
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns(accounts.name)}
    length = getattr(columns["totp_secret"]["type"], "length", None)
    if length is not None and length < TOTP_COLUMN_LENGTH:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {accounts.name} ALTER COLUMN totp_secret "
                                 f"TYPE VARCHAR({TOTP_COLUMN_LENGTH})"))


def _add_pending_totp_column(engine: sa.Engine) -> None:
    """Databases made before pending secrets lack the column; adding a nullable column is a
    catalogue change on both SQLite and PostgreSQL. Replicas starting together may both try."""
    if "totp_pending_secret" in {c["name"] for c in sa.inspect(engine).get_columns(accounts.name)}:
        return
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {accounts.name} ADD COLUMN totp_pending_secret "
                                 f"VARCHAR({TOTP_COLUMN_LENGTH})"))
    except sa.exc.DBAPIError:
        columns = {c["name"] for c in sa.inspect(engine).get_columns(accounts.name)}
        if "totp_pending_secret" not in columns:
            raise


def create_tables(engine: sa.Engine) -> None:
    """The tables, and the columns databases made by earlier versions lack."""
    metadata.create_all(engine)
    _widen_totp_column(engine)
    _add_pending_totp_column(engine)
