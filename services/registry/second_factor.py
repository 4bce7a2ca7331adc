"""The second factor of the registry's accounts: TOTP codes (RFC 6238), recovery codes, and the
short-lived step tokens between the password and the code.

Accounts of the roles in ``shared.auth.SECOND_FACTOR_ROLES`` (regional administrators and
auditors) sign in only with a second factor; any other account may turn it on. A right password
of such an account answers, instead of tokens:

- ``401 MFA_REQUIRED`` with a *challenge* (``details[0].challenge``): a token of its own audience
  that no service accepts as an access token, good for ``CHALLENGE_SECONDS``; ``POST /auth/mfa``
  with it and a code gives the tokens (a client may also send the code with the password, in the
  ``otp`` field of ``/auth/login``);
- ``403 MFA_ENROLMENT_REQUIRED`` with an *enrolment token* (``details[0].enrolment_token``) while
  no second factor is set up: it opens only ``/auth/totp/setup`` and ``/auth/totp/confirm``,
  whose confirmation then gives the tokens with the recovery codes.

Every code is good once: a TOTP time step is spent in one conditional UPDATE (a replayed code,
even on another replica at the same moment, is refused), a recovery code is marked used the same
way, and a challenge gives one session. Wrong codes are failed sign-ins: the same progressive
delays, the same ``login_failed`` security event. The secret is sealed (``TotpSealer``) and shown
once, at set-up; neither it nor a code is ever logged.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import jwt
import pyotp
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from shared.auth import TOKEN_ISSUER
from shared.errors import DomainError
from shared.logging import get_logger

log = get_logger(__name__)

TOTP_ISSUER = "Наставник"
CHALLENGE_AUDIENCE = "nastavnik-sign-in-code"
ENROLMENT_AUDIENCE = "nastavnik-totp-enrolment"
CHALLENGE_SECONDS = 300
ENROLMENT_SECONDS = 900
RECOVERY_CODE_COUNT = 10
#: Lowercase letters and digits that cannot be misread for one another (no 0/o, 1/l/i).
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def step_token(login: str, audience: str, secret: str, ttl: int) -> str:
    """A token proving the password (not a session): only the sign-in routes read it."""
    now = int(datetime.now(UTC).timestamp())
    return jwt.encode({"sub": login, "aud": audience, "iss": TOKEN_ISSUER, "iat": now,
                       "exp": now + ttl, "jti": uuid4().hex}, secret, algorithm="HS256")


def step_claims(token: str, audience: str, secret: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, secret, algorithms=["HS256"], audience=audience, issuer=TOKEN_ISSUER,
                          options={"require": ["exp", "jti", "aud", "iss", "sub"]})
    except jwt.InvalidTokenError as exc:
        raise DomainError("SIGN_IN_STEP_EXPIRED", "Время на ввод кода истекло: войдите снова "
                          "с логином и паролем", 401) from exc


def new_recovery_codes() -> list[str]:
    """Ten codes of 12 characters (≈ 59 random bits each), grouped by four to read them out."""
    return ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
            for _ in range(RECOVERY_CODE_COUNT)]


def recovery_digest(login: str, code: str) -> str:
    typed = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(f"{login}:{typed}".encode()).hexdigest()


def is_totp_code(code: str) -> bool:
    text = code.strip()
    return len(text) == 6 and text.isdigit()


def invalid_code(status: int = 401) -> DomainError:
    return DomainError("INVALID_OTP", "Неверный или уже использованный код подтверждения: "
                       "введите новый код из приложения или резервный код", status)


def code_required(login: str, secret: str) -> DomainError:
    return DomainError("MFA_REQUIRED", "Введите код из приложения-аутентификатора", 401, details=[
        {"challenge": step_token(login, CHALLENGE_AUDIENCE, secret, CHALLENGE_SECONDS),
         "expires_in": CHALLENGE_SECONDS}])


def enrolment_required(login: str, secret: str) -> DomainError:
    return DomainError(
        "MFA_ENROLMENT_REQUIRED", "Для вашей роли вход возможен только со вторым фактором: "
        "подключите приложение-аутентификатор (например, Яндекс Ключ или Google Authenticator)", 403,
        details=[{"enrolment_token": step_token(login, ENROLMENT_AUDIENCE, secret, ENROLMENT_SECONDS),
                  "expires_in": ENROLMENT_SECONDS}])


def enrolment_login(token: str, secret: str) -> str | None:
    """The login an enrolment token was given to (it opens set-up only), or None for any other."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=ENROLMENT_AUDIENCE,
                            issuer=TOKEN_ISSUER, options={"require": ["exp", "jti", "sub"]})
    except jwt.InvalidTokenError:
        return None
    return str(claims["sub"])


class TotpCodes:
    """Checking and spending codes of one account table (the methods of ``AccountService`` that
    deal with codes); ``engine``, ``totp`` (the sealer), ``clock`` and the tables come from it."""

    engine: sa.Engine
    totp: Any
    clock: Any
    accounts: sa.Table
    recovery_codes: sa.Table

    def matching_steps(self, login: str, stored: str | None, otp: str) -> list[int]:
        """The time steps (now, one back, one ahead: clock skew) whose code ``otp`` is."""
        if not stored or not is_totp_code(otp):
            return []
        try:
            totp = pyotp.TOTP(self.totp.open(login, stored))
        except (InvalidTag, ValueError):
            # Sealed under another key (a lost or replaced secrets directory) or damaged: no code
            # can match; the user sets the second factor up again with an administrator.
            log.error("accounts.totp_secret_unreadable", login=login)
            return []
        now = self.clock()
        steps = []
        for drift in (0, -1, 1):
            at = now + drift * totp.interval
            if totp.verify(otp.strip(), for_time=at):
                steps.append(totp.timecode(datetime.fromtimestamp(at, tz=UTC)))
        return steps

    def check_code(self, row: Any, code: str) -> bool:
        """A TOTP code of the active secret or an unused recovery code, spent here."""
        if is_totp_code(code):
            return self.check_otp(row, code)
        return self.use_recovery_code(row.login, code)

    def check_otp(self, row: Any, otp: str) -> bool:
        """A code of the active secret, good once: the step is taken in one conditional UPDATE,
        so two sign-ins with one code (a shoulder-surfed code replayed at the same moment, on
        another replica) cannot both pass; the row read before is no proof of anything."""
        t = self.accounts
        for step in self.matching_steps(row.login, row.totp_secret, otp):
            with self.engine.begin() as conn:
                taken = conn.execute(t.update().where(
                    t.c.login == row.login, t.c.totp_secret == row.totp_secret,
                    sa.or_(t.c.totp_last_step.is_(None), t.c.totp_last_step < step),
                ).values(totp_last_step=step)).rowcount
            if taken == 1:
                return True
        return False

    def use_recovery_code(self, login: str, code: str) -> bool:
        t = self.recovery_codes
        with self.engine.begin() as conn:
            used = conn.execute(t.update().where(
                t.c.code_hash == recovery_digest(login, code), t.c.login == login,
                t.c.used_at.is_(None)).values(used_at=self.clock())).rowcount
        if used == 1:
            log.warning("accounts.recovery_code_used", login=login)
        return used == 1

    def replace_recovery_codes(self, login: str) -> list[str]:
        codes = new_recovery_codes()
        t = self.recovery_codes
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.login == login))
            conn.execute(t.insert(), [{"code_hash": recovery_digest(login, c), "login": login,
                                       "used_at": None} for c in codes])
        return codes
