"""Accounts of officials and participants: login, password hash, role, scope, TOTP.

A password is set only under ``password_policy.py``; the second factor (required of regional
and auditor accounts, optional for others) is ``second_factor.py`` and ``docs/sign-in.md``.

Accounts live in the registry's database (not in its event store): a password hash or a TOTP
secret must never travel on the bus or into the audit log. Sign-in gives a short-lived access
token (the same HS256 token every service already accepts) and an opaque refresh token, stored
only as its SHA-256 and rotated on every use; presenting an already used refresh token revokes
the whole session family, as a stolen one would be.

Failed sign-ins are counted in the same database per (login, client address), so every replica
enforces the same growing delays, which hold up the guesser's address and never the owner's;
the tables, the delays and the sealing of TOTP secrets are in ``credentials.py``. Logout ends
the session's refresh tokens and puts every access token it was given on the deny-list
(``registry_revoked_tokens``, read through ``shared.tokens.REVOKED``).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from uuid import UUID

import pyotp
import sqlalchemy as sa

from services.registry.credentials import (
    SessionSweeper,
    SharedDelays,
    TotpSealer,
    accounts,
    create_tables,
    recovery_codes,
    refresh_tokens,
    revoked_tokens,
    session_tokens,
)
from services.registry.password_policy import check_new_password
from services.registry.passwords import hash_password, password_needs_rehash, verify_password
from services.registry.second_factor import (
    CHALLENGE_AUDIENCE,
    TOTP_ISSUER,
    TotpCodes,
    code_required,
    enrolment_required,
    invalid_code,
    step_claims,
)
from services.registry.throttling import LoginGuard
from shared.auth import (
    CODE_PATTERN,
    Actor,
    OrgPath,
    Role,
    issue_token,
    require_account_admin,
    requires_second_factor,
)
from shared.errors import DomainError, conflict, forbidden
from shared.logging import get_logger
from shared.metrics import security_event
from shared.settings import Settings
from shared.tokens import REVOKED, own_token_claims

log = get_logger(__name__)

LOGIN_PATTERN = CODE_PATTERN
DEMO_PASSWORD = "vesna-sirius-2026"
DEMO_REGION = "demo"
#: The published TOTP secrets of the demo region's accounts that sign in with a second factor
#: (README, the sign-in page of the demo, ``make run``): any authenticator app, or pyotp in tests.
DEMO_TOTP_SECRETS = {"regional": "NASTAVNIKDEMOREGIONAL234567ABCDE",
                     "auditor": "NASTAVNIKDEMOAUDITOR234567ABCDEF"}


@dataclass(frozen=True)
class Account:
    login: str
    role: Role
    scope: OrgPath
    person_id: UUID | None
    totp_enabled: bool

    @property
    def actor(self) -> Actor:
        user = str(self.person_id) if self.role is Role.PARTICIPANT and self.person_id else self.login
        return Actor(user=user, role=self.role, scope=self.scope)


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    account: Account

    def to_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "bearer",
                "expires_in": self.expires_in, "refresh_token": self.refresh_token,
                "login": self.account.login, "role": self.account.role.value,
                "scope": str(self.account.scope)}


def demo_accounts(region: str) -> list[tuple[str, Role, str]]:
    """The demo region's officials, one per role (the same logins the portal offers)."""
    municipality = f"{region}/m-berezovsky"
    return [
        ("curator-school-1", Role.CURATOR, f"{municipality}/school-1"),
        ("curator-school-2", Role.CURATOR, f"{municipality}/school-2"),
        ("municipal-berezovsky", Role.MUNICIPAL, municipality),
        ("regional", Role.REGIONAL, region),
        ("auditor", Role.AUDITOR, region),
    ]


@lru_cache(maxsize=1)
def _demo_hash() -> str:
    # One argon2 hash per process, not one per account and start: tests start many registries.
    return hash_password(DEMO_PASSWORD)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService(TotpCodes):
    accounts = accounts
    recovery_codes = recovery_codes

    def __init__(self, engine: sa.Engine, signing_secret: str,
                 settings: Settings | None = None,
                 clock: Any = time.time, *, secrets_dir: Path) -> None:
        self.engine = engine
        self.secret = signing_secret
        self.settings = settings or Settings()
        self.clock = clock
        self.guard = LoginGuard(self.settings)
        #: Wall-clock time, not monotonic: replicas on different hosts compare these instants.
        self.delays = SharedDelays(engine, self.settings, lambda: self.clock())
        self.totp = TotpSealer(secrets_dir)
        self._lock = threading.Lock()
        self._sweeper = SessionSweeper()
        #: Told of every logout's revoked tokens (``jti -> exp``): the runtime announces them to
        #: the other processes (``shared.revocations``).
        self.on_revoked: Callable[[dict[str, float]], None] | None = None
        create_tables(engine)
        self.totp.seal_plain_rows(engine)
        self.load_revoked()

    def live_revocations(self) -> dict[str, float]:
        """Revoked tokens not yet expired: ``jti -> exp``."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(revoked_tokens).where(
                revoked_tokens.c.expires_at > self.clock())).all()
        return {row.jti: row.expires_at for row in rows}

    def load_revoked(self) -> int:
        """Tokens logged out before this start (or on another replica) onto the deny-list."""
        rows = self.live_revocations()
        for jti, until in rows.items():
            REVOKED.revoke(jti, until)
        return len(rows)

    # --- administration ----------------------------------------------------------------------

    def create_account(self, admin: Actor, login: str, password: str, role: Role, scope: str,
                       person_id: UUID | None = None) -> Account:
        """A regional administrator creates accounts inside their region (never a system one)."""
        require_account_admin(admin)
        login = login.strip().lower()
        if not LOGIN_PATTERN.match(login):
            raise DomainError("INVALID_LOGIN", "Логин: латинские буквы, цифры и дефис, до 63 символов",
                              422)
        if role is Role.SYSTEM:
            raise forbidden("Системную учётную запись создать нельзя")
        try:
            path = OrgPath.parse(scope)
        except ValueError as exc:
            raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc
        if not admin.scope.contains(path):
            raise forbidden("Учётная запись вне вашего региона")
        if role is Role.PARTICIPANT and person_id is None:
            raise DomainError("PERSON_REQUIRED", "Для участника укажите его идентификатор в реестре", 422)
        check_new_password(password, [login])
        password_hash = hash_password(password)
        duplicate = conflict("DUPLICATE_LOGIN", "Такой логин уже занят")
        try:
            with self._lock, self.engine.begin() as conn:
                if conn.execute(sa.select(accounts.c.login).where(accounts.c.login == login)).first():
                    raise duplicate
                conn.execute(accounts.insert().values(
                    login=login, password_hash=password_hash, role=role.value, scope=str(path),
                    person_id=person_id, totp_enabled=False, disabled=False, created_by=admin.user,
                    created_at=self.clock()))
        except sa.exc.IntegrityError as exc:  # created through another replica meanwhile
            raise duplicate from exc
        log.info("accounts.created", login=login, role=role.value, scope=str(path), by=admin.user)
        return Account(login, role, path, person_id, False)

    def change_password(self, actor: Actor, current: str, new: str, address: str) -> None:
        """One's own password: the current one proves the owner (a stolen session alone cannot
        lock them out; wrong ones are failed sign-ins), and the new one meets the policy."""
        row = self._own_row(actor)
        self.delays.check(row.login, address)
        if not verify_password(row.password_hash, current):
            self._failed(row.login, address, "INVALID_CREDENTIALS")
            raise DomainError("INVALID_CREDENTIALS", "Текущий пароль указан неверно", 422)
        check_new_password(new, [row.login])
        with self.engine.begin() as conn:
            conn.execute(accounts.update().where(accounts.c.login == row.login)
                         .values(password_hash=hash_password(new)))
        log.info("accounts.password_changed", login=row.login)

    def ensure_demo_accounts(self, region: str) -> int:
        """The demo region's accounts, so `make run` can sign in; no other region gets any."""
        if region != DEMO_REGION:
            return 0
        with self._lock, self.engine.begin() as conn:
            existing = {r.login: r for r in conn.execute(sa.select(accounts))}
            rows = [{"login": login, "password_hash": _demo_hash(), "role": role.value, "scope": scope,
                     "person_id": None, "totp_enabled": login in DEMO_TOTP_SECRETS,
                     "totp_secret": self._demo_totp(login), "disabled": False,
                     "created_by": "demo", "created_at": self.clock()}
                    for login, role, scope in demo_accounts(region) if login not in existing]
            if rows:
                conn.execute(accounts.insert(), rows)
            for login in DEMO_TOTP_SECRETS:
                # Demo databases made before the second factor was required get the published one.
                if login in existing and not existing[login].totp_enabled:
                    conn.execute(accounts.update().where(accounts.c.login == login).values(
                        totp_secret=self._demo_totp(login), totp_enabled=True))
        return len(rows)

    def _demo_totp(self, login: str) -> str | None:
        secret = DEMO_TOTP_SECRETS.get(login)
        return self.totp.seal(login, secret) if secret else None

    # --- sign-in ---------------------------------------------------------------------------

    def login(self, login: str, password: str, otp: str | None, address: str) -> Session:
        login = login.strip().lower()[:64]
        self.guard.before_attempt(address)
        had_failures = self.delays.check(login, address)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.login == login)).first()
        # verify_password hashes a dummy for an unknown login: same time, same answer.
        ok = verify_password(row.password_hash if row else None, password)
        if not ok or row is None or row.disabled:
            self._failed(login, address, "INVALID_CREDENTIALS")
            raise DomainError("INVALID_CREDENTIALS", "Неверный логин или пароль", 401)
        if row.totp_enabled or requires_second_factor(Role(row.role)):
            if not row.totp_enabled:
                raise enrolment_required(login, self.secret)
            if not otp:
                raise code_required(login, self.secret)
            if not self.check_code(row, otp):
                self._failed(login, address, "INVALID_OTP")
                raise invalid_code()
        if had_failures:
            self.delays.succeeded(login, address)
        if password_needs_rehash(row.password_hash):
            with self.engine.begin() as conn:
                conn.execute(accounts.update().where(accounts.c.login == login)
                             .values(password_hash=hash_password(password)))
        log.info("accounts.signed_in", login=login, address=address)
        return self._new_session(self._account(row), family=secrets.token_hex(16))

    def _failed(self, login: str, address: str, reason: str) -> None:
        wait = self.delays.failed(login, address)
        # The login names an account, not a person; the password is never logged.
        security_event("login_failed", reason=reason, address=address, target=login)
        if wait:
            log.warning("accounts.sign_in_delayed", login=login, address=address, seconds=wait)

    def complete_sign_in(self, challenge: str, otp: str, address: str) -> Session:
        """The second step: the challenge the right password was answered with, and a code."""
        claims = step_claims(challenge, CHALLENGE_AUDIENCE, self.secret)
        login = str(claims["sub"])
        self.guard.before_attempt(address)
        had_failures = self.delays.check(login, address)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.login == login)).first()
        if row is None or row.disabled or not row.totp_enabled:
            raise DomainError("SIGN_IN_STEP_EXPIRED", "Войдите снова с логином и паролем", 401)
        if not self.check_code(row, otp):
            self._failed(login, address, "INVALID_OTP")
            raise invalid_code()
        try:
            # A challenge gives one session: its id is spent on the deny-list until it expires.
            with self.engine.begin() as conn:
                conn.execute(revoked_tokens.insert().values(jti=str(claims["jti"]),
                                                            expires_at=float(claims["exp"])))
        except sa.exc.IntegrityError as exc:
            raise DomainError("SIGN_IN_STEP_EXPIRED", "Войдите снова с логином и паролем",
                              401) from exc
        if had_failures:
            self.delays.succeeded(login, address)
        log.info("accounts.signed_in", login=login, address=address, second_factor=True)
        return self._new_session(self._account(row), family=secrets.token_hex(16))

    def refresh(self, refresh_token: str) -> Session:
        digest = _digest(refresh_token)
        invalid = DomainError("INVALID_REFRESH_TOKEN", "Сеанс завершён, войдите снова", 401)
        t = refresh_tokens
        with self.engine.begin() as conn:
            # Spent in one conditional statement: of two requests presenting one token at once
            # (on any replicas) exactly one gets the row back; for the other it is already used.
            spent = conn.execute(t.update().where(
                t.c.token_hash == digest, t.c.used == sa.false(), t.c.expires_at > self.clock(),
            ).values(used=True).returning(t.c.login, t.c.family)).first()
        if spent is None:
            with self.engine.begin() as conn:
                token = conn.execute(sa.select(t).where(t.c.token_hash == digest)).first()
                if token is not None and token.used:
                    # Reuse of a rotated token: someone else holds the session. End all of it
                    # (committed here, before the refusal below).
                    conn.execute(t.delete().where(t.c.family == token.family))
                    log.warning("accounts.refresh_reused", login=token.login)
            raise invalid
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.login == spent.login)).first()
        if row is None or row.disabled:
            raise invalid
        return self._new_session(self._account(row), family=spent.family)

    def logout(self, refresh_token: str | None = None, access_token: str | None = None) -> int:
        """End a session, found by its refresh token, its access token or both: its refresh
        tokens are deleted and every access token it was given goes on the deny-list at once.
        Returns how many access tokens were revoked (unknown or expired tokens end nothing)."""
        families: set[str] = set()
        revoke: dict[str, float] = {}
        if access_token:
            try:
                claims = own_token_claims(access_token, self.secret)
            except DomainError:
                claims = None
            if claims is not None:
                revoke[str(claims["jti"])] = float(claims["exp"])
        with self._lock, self.engine.begin() as conn:
            if refresh_token:
                token = conn.execute(sa.select(refresh_tokens).where(
                    refresh_tokens.c.token_hash == _digest(refresh_token))).first()
                if token is not None:
                    families.add(token.family)
            if revoke:
                families.update(conn.execute(sa.select(session_tokens.c.family).where(
                    session_tokens.c.jti.in_(list(revoke)))).scalars())
            if families:
                for row in conn.execute(sa.select(session_tokens).where(
                        session_tokens.c.family.in_(families))):
                    revoke[row.jti] = row.expires_at
                conn.execute(refresh_tokens.delete().where(refresh_tokens.c.family.in_(families)))
                conn.execute(session_tokens.delete().where(session_tokens.c.family.in_(families)))
            now = self.clock()
            known = set(conn.execute(sa.select(revoked_tokens.c.jti).where(
                revoked_tokens.c.jti.in_(list(revoke)))).scalars()) if revoke else set()
            fresh = [{"jti": jti, "expires_at": until} for jti, until in revoke.items()
                     if until > now and jti not in known]
            if fresh:
                conn.execute(revoked_tokens.insert(), fresh)
            conn.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at <= now))
        for jti, until in revoke.items():
            REVOKED.revoke(jti, until)
        if revoke and self.on_revoked is not None:
            self.on_revoked(revoke)
        return len(revoke)

    def _new_session(self, account: Account, family: str) -> Session:
        ttl = self.settings.access_token_minutes * 60
        refresh = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            now = self.clock()
            self._sweeper.sweep(conn, now)
            conn.execute(refresh_tokens.insert().values(
                token_hash=_digest(refresh), login=account.login, family=family,
                expires_at=now + self.settings.refresh_token_hours * 3600, used=False))
            access = issue_token(account.actor, self.secret, ttl_seconds=ttl)
            claims = own_token_claims(access, self.secret)
            conn.execute(session_tokens.insert().values(jti=claims["jti"], family=family,
                                                        expires_at=float(claims["exp"])))
        return Session(access, refresh, ttl, account)

    # --- second factor ---------------------------------------------------------------------

    def start_totp(self, actor: Actor | str, otp: str | None = None) -> dict[str, str]:
        """A new secret for the signed-in user's own account (or, given a login, the account an
        enrolment token was given to), pending until a code confirms it.

        An active second factor stays in force meanwhile, and replacing it takes a current code
        of it: a stolen session alone can neither switch the factor off nor swap in its own.
        Wrong codes count towards the sign-in delays, as at sign-in (keyed by the user, not an
        address: the caller is signed in).
        """
        row = self._own_row(actor)
        if row.totp_enabled:
            if not otp:
                raise DomainError("OTP_REQUIRED", "Чтобы заменить второй фактор, введите текущий "
                                  "код из приложения-аутентификатора", 422)
            self.delays.check(row.login, "session")
            if not self.check_code(row, otp):
                self._failed(row.login, "session", "INVALID_OTP")
                raise invalid_code(422)
        secret = pyotp.random_base32()
        with self.engine.begin() as conn:
            conn.execute(accounts.update().where(accounts.c.login == row.login)
                         .values(totp_pending_secret=self.totp.seal(row.login, secret)))
        uri = pyotp.TOTP(secret).provisioning_uri(name=row.login, issuer_name=TOTP_ISSUER)
        return {"secret": secret, "uri": uri}

    def confirm_totp(self, actor: Actor | str, otp: str) -> tuple[list[str], Session | None]:
        """A code of the pending secret makes it the active one (the old one ends here).

        Returns a new set of recovery codes (shown once) and, when set-up was reached with an
        enrolment token (a password without a second factor yet), the session that sign-in
        would have given."""
        row = self._own_row(actor)
        invalid = invalid_code(422)
        pending = row.totp_pending_secret
        if pending is None:
            # A set-up begun before pending secrets existed left its secret in place, not active.
            if row.totp_enabled or not row.totp_secret or not self.check_otp(row, otp):
                raise invalid
            values: dict[str, Any] = {"totp_enabled": True}
            guard = accounts.c.totp_secret == row.totp_secret
        else:
            steps = self.matching_steps(row.login, pending, otp)
            if not steps:
                raise invalid
            # The confirming code is spent: it cannot sign in a second time.
            values = {"totp_secret": pending, "totp_pending_secret": None, "totp_enabled": True,
                      "totp_last_step": max(steps)}
            guard = accounts.c.totp_pending_secret == pending
        with self.engine.begin() as conn:
            switched = conn.execute(accounts.update().where(accounts.c.login == row.login, guard)
                                    .values(**values)).rowcount
        if switched != 1:
            raise invalid  # another set-up replaced the secret meanwhile
        log.info("accounts.totp_enabled", login=row.login)
        codes = self.replace_recovery_codes(row.login)
        if not isinstance(actor, str) or row.disabled:
            return codes, None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(accounts).where(accounts.c.login == row.login)).one()
        return codes, self._new_session(self._account(row), family=secrets.token_hex(16))

    def new_recovery_codes(self, actor: Actor, otp: str) -> list[str]:
        """A fresh set of recovery codes (the old ones end), for a current code of the factor."""
        row = self._own_row(actor)
        self.delays.check(row.login, "session")
        if not row.totp_enabled or not self.check_otp(row, otp):
            self._failed(row.login, "session", "INVALID_OTP")
            raise invalid_code(422)
        return self.replace_recovery_codes(row.login)

    def own_login(self, actor: Actor) -> str:
        return str(self._own_row(actor).login)

    def _own_row(self, actor: Actor | str) -> Any:
        """The caller's account: a signed-in actor's, or the login of an enrolment token."""
        with self.engine.connect() as conn:
            column = accounts.c.login
            if isinstance(actor, str):
                row = conn.execute(sa.select(accounts).where(column == actor)).first()
            elif actor.role is Role.PARTICIPANT:
                try:
                    row = conn.execute(sa.select(accounts).where(
                        accounts.c.person_id == UUID(actor.user))).first()
                except ValueError:
                    row = None
            else:
                row = conn.execute(sa.select(accounts).where(column == actor.user)).first()
        if row is None:
            raise DomainError("NO_ACCOUNT", "Вход выполнен не через учётную запись системы "
                              "(единый вход региона): второй фактор настраивается там", 409)
        return row

    def holder_of(self, actor: Actor) -> str | None:
        """Who holds a participant's account: ``guardian`` when a minor's legal representative
        accepted the code for the child, ``person`` otherwise; None for an official."""
        if actor.role is not Role.PARTICIPANT:
            return None
        try:
            row = self._own_row(actor)
        except DomainError:
            return None
        return "guardian" if row.created_by == "invitation:guardian" else "person"

    @staticmethod
    def _account(row: Any) -> Account:
        return Account(row.login, Role(row.role), OrgPath.parse(row.scope), row.person_id,
                       bool(row.totp_enabled))
