"""Invitations: how a mentor or mentee (a minor's guardian, acting for the child) gets an account.

The curator of the person's organisation issues a one-time code, printed on paper and handed
over in person (no e-mail needed). It is 12 characters of an alphabet without look-alikes
(no 0/O, 1/I), 60 random bits, grouped by four for printing. Only its HMAC under the deployment's
signing secret is stored (a copy of the database alone cannot test guesses), with an expiry
(``NASTAVNIK_INVITATION_DAYS``). A person has at most one live invitation: issuing again
replaces the old one. Accepting the code, with a login and a password under the password
policy, creates the participant account bound to the person and signs in; the code is spent in
the same transaction. Issuing a code to someone who already has an account is their reset (a
forgotten password, a code or a password in the wrong hands): the account is disabled and its
sessions end at once, and accepting the new code gives it back with the login and password
chosen then. Wrong, spent and expired codes are failed sign-ins: the same per-address
budget and progressive delays, and a security event each.

Like accounts, invitations live in the registry's database, never on the bus.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from services.registry import views
from services.registry.accounts import LOGIN_PATTERN, AccountService, Session
from services.registry.credentials import accounts, refresh_tokens, revoked_tokens, session_tokens
from services.registry.credentials import metadata as credentials_metadata
from services.registry.password_policy import check_new_password
from services.registry.passwords import hash_password
from shared.auth import Actor, OrgPath, Role, require_inviter
from shared.errors import DomainError, conflict, not_found
from shared.logging import get_logger
from shared.metrics import security_event
from shared.tokens import REVOKED

log = get_logger(__name__)

#: No 0/O, 1/I/L: a code is read off paper and typed by hand.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
GROUP = 4
#: The delays count failures per (this key, address): a guesser tries codes, not a login.
DELAY_KEY = "invitation"

invitations = sa.Table(
    "registry_invitations", credentials_metadata,
    #: One live invitation per person: issuing again replaces the row.
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scope", sa.String(200), nullable=False),
    #: ``guardian``: the code is for a minor's legal representative, acting for the child.
    sa.Column("holder", sa.String(16), nullable=False),
    sa.Column("issued_by", sa.String(200), nullable=False),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float, nullable=True),
)


@dataclass(frozen=True)
class Invitation:
    code: str
    person_id: UUID
    holder: str
    expires_at: float
    #: The person had an account: this code resets their sign-in.
    reset: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "person_id": str(self.person_id), "holder": self.holder,
                "expires_at": self.expires_at, "reset": self.reset}


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalise(code: str) -> str:
    """What the holder typed, as issued: case, spaces and dashes do not matter."""
    return re.sub(r"[^A-Z0-9]", "", code.upper())[:64]


def invalid_invitation() -> DomainError:
    return DomainError("INVALID_INVITATION", "Код приглашения неверен, уже использован или истёк. "
                       "Попросите куратора выдать новый код", 401)


class InvitationService:
    def __init__(self, engine: sa.Engine, accounts_service: AccountService) -> None:
        self.engine = engine
        self.accounts = accounts_service
        invitations.create(engine, checkfirst=True)

    def _digest(self, code: str) -> str:
        return hmac.new(self.accounts.secret.encode(), normalise(code).encode(),
                        hashlib.sha256).hexdigest()

    def issue(self, actor: Actor, person_id: UUID) -> Invitation:
        """A new code for the person (the old one, if any, ends); shown once, stored hashed.
        For a person with an account, a reset: the account is disabled until the code is
        accepted, and every session of it ends now."""
        with self.engine.connect() as conn:
            person = conn.execute(sa.select(views.people).where(
                views.people.c.id == person_id)).first()
            if person is None:
                raise not_found("Участник", "PERSON_NOT_FOUND")
            require_inviter(actor, OrgPath.parse(person.path), not_found("Участник", "PERSON_NOT_FOUND"))
            if person.withdrawn or person.consent is None:
                raise conflict("CONSENT_REQUIRED", "Без согласия на обработку персональных данных "
                               "участника пригласить нельзя")
            reset = conn.execute(sa.select(accounts.c.login).where(
                accounts.c.person_id == person_id)).first() is not None
        if reset:
            self._end_sessions(person_id)
        code = new_code()
        now = self.accounts.clock()
        holder = "guardian" if person.consent == "guardian" else "person"
        expires = now + self.accounts.settings.invitation_days * 86400
        with self.engine.begin() as conn:
            conn.execute(invitations.delete().where(invitations.c.person_id == person_id))
            conn.execute(invitations.insert().values(
                person_id=person_id, code_hash=self._digest(code), scope=person.path, holder=holder,
                issued_by=actor.user, issued_at=now, expires_at=expires, used_at=None))
        log.info("invitations.issued", person_id=str(person_id), holder=holder, by=actor.user,
                 reset=reset)
        return Invitation(code, person_id, holder, expires, reset)

    def accept(self, code: str, login: str, password: str, address: str) -> Session:
        """The code, a login and a password: a participant account for the invited person, and
        its first session. Refused codes count as failed sign-ins from ``address``."""
        login = login.strip().lower()
        service = self.accounts
        service.guard.before_attempt(address)
        had_failures = service.delays.check(DELAY_KEY, address)
        digest = self._digest(code)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(invitations).where(invitations.c.code_hash == digest)).first()
        reason = None if row is not None else "UNKNOWN"
        if row is not None and row.used_at is not None:
            reason = "USED"
        elif row is not None and row.expires_at <= service.clock():
            reason = "EXPIRED"
        if reason is not None:
            self._refused(address, reason, row)
            raise invalid_invitation()
        if not LOGIN_PATTERN.match(login):
            raise DomainError("INVALID_LOGIN", "Логин: латинские буквы, цифры и дефис, до 63 символов",
                              422)
        check_new_password(password, [login])
        password_hash = hash_password(password)
        duplicate = conflict("DUPLICATE_LOGIN", "Такой логин уже занят")
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(accounts.c.login).where(
                        accounts.c.login == login,
                        sa.or_(accounts.c.person_id.is_(None),
                               accounts.c.person_id != row.person_id))).first():
                    raise duplicate
                # Spent in one conditional statement: of two acceptances at once, one wins.
                spent = conn.execute(invitations.update().where(
                    invitations.c.code_hash == digest, invitations.c.used_at.is_(None),
                ).values(used_at=service.clock())).rowcount
                if spent != 1:
                    raise invalid_invitation()
                # A reset: the person's former account gives way to the one made now.
                conn.execute(accounts.delete().where(accounts.c.person_id == row.person_id))
                conn.execute(accounts.insert().values(
                    login=login, password_hash=password_hash, role=Role.PARTICIPANT.value,
                    scope=row.scope, person_id=row.person_id, totp_enabled=False, disabled=False,
                    created_by=f"invitation:{row.holder}", created_at=service.clock()))
        except sa.exc.IntegrityError as exc:
            raise duplicate from exc
        if had_failures:
            service.delays.succeeded(DELAY_KEY, address)
        log.info("invitations.accepted", person_id=str(row.person_id), login=login, address=address)
        with self.engine.connect() as conn:
            account = conn.execute(sa.select(accounts).where(accounts.c.login == login)).one()
        return service._new_session(service._account(account), family=secrets.token_hex(16))

    def end_access(self, person_id: UUID) -> None:
        """Consent withdrawn: the person's invitation ends, their account is disabled and every
        session of it ends now (its access tokens on the deny-list, as a logout's)."""
        with self.engine.begin() as conn:
            conn.execute(invitations.delete().where(invitations.c.person_id == person_id))
        self._end_sessions(person_id)

    def _end_sessions(self, person_id: UUID) -> None:
        """The person's account disabled and every session of it ended now (its access tokens
        on the deny-list, as a logout's)."""
        now = self.accounts.clock()
        with self.engine.begin() as conn:
            logins = list(conn.execute(sa.select(accounts.c.login).where(
                accounts.c.person_id == person_id)).scalars())
            if not logins:
                return
            conn.execute(accounts.update().where(accounts.c.login.in_(logins)).values(disabled=True))
            families = sa.select(refresh_tokens.c.family).where(refresh_tokens.c.login.in_(logins))
            revoke = {row.jti: row.expires_at for row in conn.execute(sa.select(session_tokens).where(
                session_tokens.c.family.in_(families), session_tokens.c.expires_at > now))}
            conn.execute(session_tokens.delete().where(session_tokens.c.family.in_(families)))
            conn.execute(refresh_tokens.delete().where(refresh_tokens.c.login.in_(logins)))
            known = set(conn.execute(sa.select(revoked_tokens.c.jti).where(
                revoked_tokens.c.jti.in_(list(revoke)))).scalars()) if revoke else set()
            fresh = [{"jti": j, "expires_at": e} for j, e in revoke.items() if j not in known]
            if fresh:
                conn.execute(revoked_tokens.insert(), fresh)
        for jti, until in revoke.items():
            REVOKED.revoke(jti, until)
        if revoke and self.accounts.on_revoked is not None:
            self.accounts.on_revoked(revoke)
        log.info("invitations.access_ended", person_id=str(person_id), sessions=len(revoke))

    def _refused(self, address: str, reason: str, row: Any) -> None:
        wait = self.accounts.delays.failed(DELAY_KEY, address)
        # A failed sign-in like a wrong password (the same alerts watch it); the target is the
        # invited person's id when the code was a real one, never the code itself.
        security_event("login_failed", reason=f"INVITATION_{reason}", address=address,
                       target=str(row.person_id) if row is not None else DELAY_KEY)
        if wait:
            log.warning("invitations.delayed", address=address, seconds=wait)
