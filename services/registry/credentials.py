"""What sign-in rests on, kept in the registry's database: the account tables, the delays after
failed sign-ins every replica shares, the deny-list of logged-out tokens and the sealing of TOTP
secrets.

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

from services.registry.throttling import login_delayed
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
#: Written by a lock-out per login (earlier versions); kept so old databases stay readable.
login_failures = sa.Table(
    "registry_login_failures", metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
    sa.Column("last_failure_at", sa.Float, nullable=False, index=True),
)
#: Failed sign-ins per (login, client address), shared by every replica. Unknown logins are
#: counted the same way (the answers must not tell which logins exist).
login_delays = sa.Table(
    "registry_login_delays", metadata,
    sa.Column("key", sa.String(160), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("not_before", sa.Float, nullable=False),
    sa.Column("last_failure_at", sa.Float, nullable=False, index=True),
)
#: One-time recovery codes of the second factor, only as SHA-256 of login and code (each code is
#: 60 random bits: a fast hash is enough, unlike a password). A new set replaces the old one.
recovery_codes = sa.Table(
    "registry_recovery_codes", metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, index=True),
    sa.Column("used_at", sa.Float, nullable=True),
)
#: Access tokens ended by a logout, until they would have expired (``shared/tokens.py``).
revoked_tokens = sa.Table(
    "registry_revoked_tokens", metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)

#: The access tokens each session (refresh family) was given, so a logout ends them all.
session_tokens = sa.Table(
    "registry_session_tokens", metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("family", sa.String(32), nullable=False, index=True),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
)


class SessionSweeper:
    """Expired refresh and session rows, deleted at most every ``every`` seconds by a process
    rather than by every sign-in: the refresh tokens' sweep scans their table, and expired rows
    are refused anyway (a race between two sign-ins costs one extra sweep)."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._swept_at = float("-inf")

    def sweep(self, conn: sa.Connection, now: float) -> None:
        if now - self._swept_at < self.every:
            return
        self._swept_at = now
        conn.execute(refresh_tokens.delete().where(refresh_tokens.c.expires_at <= now))
        conn.execute(session_tokens.delete().where(session_tokens.c.expires_at <= now))


def delay_key(login: str, address: str) -> str:
    return f"{login[:64]}|{address[:64]}"


class SharedDelays:
    """Progressive delays per (login, client address) after repeated failures, never a lock-out.

    Whoever guesses a password from one address waits longer after each failure beyond the free
    ones (``login_delay_base_seconds`` doubling, up to ``login_lockout_seconds``); the account's
    owner signing in from an address that did not fail is never held up, so a guessing attack
    cannot lock anyone out. The per-address budget of ``LoginGuard`` bounds how many logins one
    address may try. One atomic upsert per failure (INSERT … ON CONFLICT DO UPDATE on SQLite and
    PostgreSQL), so failures spread over replicas add up; a streak idle for longer than the cap
    is forgotten. Attempts already past the check when a failure lands may still finish (at most
    one per replica and concurrent request).
    """

    def __init__(self, engine: sa.Engine, settings: Settings, clock: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock

    def check(self, login: str, address: str) -> bool:
        """Refuses an attempt made too early; True when failures are on record (clear on success)."""
        with self.engine.connect() as conn:
            not_before = conn.execute(sa.select(login_delays.c.not_before)
                                      .where(login_delays.c.key == delay_key(login, address))).scalar()
        remaining = (not_before or 0.0) - self.clock()
        if remaining > 0:
            raise login_delayed(remaining)
        return not_before is not None

    def delay_after(self, failures: int) -> float:
        free = self.settings.login_max_failures
        if failures < free:
            return 0.0
        return float(min(self.settings.login_delay_base_seconds * 2 ** min(failures - free, 30),
                         self.settings.login_lockout_seconds))

    def failed(self, login: str, address: str) -> float:
        """Count one failure; the seconds the next attempt from this address has to wait."""
        now = self.clock()
        forget = self.settings.login_lockout_seconds
        t = login_delays
        streak = sa.case((t.c.last_failure_at < now - forget, 0), else_=t.c.failures) + 1
        with self.engine.begin() as conn:
            insert = (postgresql.insert(t) if conn.dialect.name == "postgresql" else sqlite.insert(t))
            statement = insert.values(
                key=delay_key(login, address), failures=1, not_before=now + self.delay_after(1),
                last_failure_at=now,
            ).on_conflict_do_update(index_elements=[t.c.key], set_={
                "failures": streak, "last_failure_at": now,
            }).returning(t.c.failures)
            failures = conn.execute(statement).scalar_one()
            wait = self.delay_after(failures)
            conn.execute(t.update().where(t.c.key == delay_key(login, address))
                         .values(not_before=now + wait))
        # Streaks nobody continued: the table stays as small as the attack.
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.last_failure_at < now - forget, t.c.not_before <= now))
        return wait

    def succeeded(self, login: str, address: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(login_delays.delete().where(login_delays.c.key == delay_key(login, address)))


SEALED_PREFIX = "v1:"


class TotpSealer:
    """TOTP secrets sealed with AES-256-GCM under a key in the secrets directory.

    The login is the associated data: a sealed secret copied onto another account's row does not
    open. A plain base32 secret (written before sealing existed) still opens, and
    ``seal_plain_rows`` replaces those at start-up.
    """

    def __init__(self, secrets_dir: Path, purpose: str = "totp") -> None:
        # One key per purpose: the officials' e-mail addresses are sealed the same way.
        material = read_or_create_secret(secrets_dir / f"registry-{purpose}.key")
        self._aead = AESGCM(hashlib.sha256(purpose.encode() + material.encode()).digest())

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
