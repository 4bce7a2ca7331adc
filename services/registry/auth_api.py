"""HTTP routes of sign-in: login, refresh, logout, the second factor, accounts by an administrator."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.registry.accounts import AccountService
from services.registry.passwords import hashing_slots
from services.registry.second_factor import enrolment_login
from services.registry.validation.fields import validate_email
from shared.auth import Actor, Role
from shared.middlewares import client_address
from shared.web import CurrentActor, current_actor


async def registry_service(request: Request) -> Any:
    return request.app.state.registry


async def account_service(request: Request) -> AccountService:
    return request.app.state.registry.accounts


Accounts = Annotated[AccountService, Depends(account_service)]
Registry = Annotated[Any, Depends(registry_service)]
router = APIRouter(prefix="/auth", tags=["auth"])


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: A TOTP code (6 digits) or a recovery code (``abcd-efgh-jkmn``).
OTP_MAX_LENGTH = 20


class LoginRequest(Body):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    #: The second factor's code with the password, in one step (otherwise: ``/auth/mfa``).
    otp: str | None = Field(default=None, max_length=OTP_MAX_LENGTH)


class MfaRequest(Body):
    #: ``details[0].challenge`` of the ``MFA_REQUIRED`` answer to the password.
    challenge: str = Field(min_length=1, max_length=1000)
    otp: str = Field(min_length=6, max_length=OTP_MAX_LENGTH)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class LogoutRequest(Body):
    #: The session's refresh token; may be left out when the access token is sent as a bearer.
    refresh_token: str | None = Field(default=None, min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    login: str
    role: str
    scope: str


class InvitationAcceptance(Body):
    code: str = Field(min_length=1, max_length=64)
    login: str = Field(min_length=2, max_length=63)
    password: str = Field(min_length=1, max_length=256)


class NewAccount(Body):
    login: str = Field(min_length=2, max_length=63)
    password: str = Field(min_length=1, max_length=256)
    role: Role
    scope: str = Field(min_length=1, max_length=200)
    person_id: UUID | None = None


class PasswordChange(Body):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class OtpCode(Body):
    otp: str = Field(min_length=6, max_length=OTP_MAX_LENGTH)


class TotpSetup(Body):
    #: A code of the second factor in force: required to replace it, not to set up the first.
    otp: str | None = Field(default=None, min_length=6, max_length=OTP_MAX_LENGTH)


class TotpSecret(BaseModel):
    #: Base32, shown once (for typing into an app by hand); ``uri`` is the same as otpauth://.
    secret: str
    uri: str


class TotpConfirmed(BaseModel):
    #: One-time codes for when the phone is lost; shown once, stored only hashed.
    recovery_codes: list[str]
    #: The session, when set-up was reached with an enrolment token (sign-in's second factor).
    session: TokenPair | None = None


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


async def setup_caller(request: Request, accounts: Accounts,
                       authorization: Annotated[str | None, Header()] = None) -> Actor | str:
    """A signed-in actor, or the login of an enrolment token (``MFA_ENROLMENT_REQUIRED``): such a
    token opens the set-up of the second factor and nothing else."""
    if authorization and authorization.lower().startswith("bearer "):
        login = enrolment_login(authorization[7:].strip(), accounts.secret)
        if login is not None:
            return login
    return await current_actor(request, authorization)


SetupCaller = Annotated[Actor | str, Depends(setup_caller)]


#: Sign-ins run in at most this many worker threads; the rest wait on the event loop (costing
#: nothing), so a flood of sign-ins queues behind the password hashing instead of taking every
#: thread of the pool the other routes run in. A few per hashing thread: while one sign-in's hash
#: runs, the others read the account and store their sessions, so the hashing threads never
#: wait for a sign-in's own database work (with one per thread they idled through it).
SIGN_INS_PER_HASHING_SLOT = 4
_SIGN_IN_SLOTS = anyio.CapacityLimiter(SIGN_INS_PER_HASHING_SLOT * hashing_slots())


#: Sign-in refusals the document lists beside the platform's (shared/openapi.py).
REFUSED_SIGN_IN = {401: {"description": "Неверный логин, пароль или код; сессия истекла"}}


@router.post("/login", responses=REFUSED_SIGN_IN)
async def login(body: LoginRequest, request: Request, accounts: Accounts) -> TokenPair:
    # The portal (proving it with its header) and reverse proxies in NASTAVNIK_TRUSTED_PROXIES
    # pass on the user's address.
    settings = request.app.state.registry.settings
    address = client_address(request.scope, settings.trusted_proxies, settings.signing_secret)
    session = await anyio.to_thread.run_sync(accounts.login, body.login, body.password, body.otp,
                                             address, limiter=_SIGN_IN_SLOTS)
    return TokenPair(**session.to_json())


@router.post("/mfa", responses=REFUSED_SIGN_IN)
async def mfa(body: MfaRequest, request: Request, accounts: Accounts) -> TokenPair:
    """Sign-in's second step: the challenge of the password's answer and a code."""
    settings = request.app.state.registry.settings
    address = client_address(request.scope, settings.trusted_proxies, settings.signing_secret)
    session = await anyio.to_thread.run_sync(accounts.complete_sign_in, body.challenge, body.otp,
                                             address, limiter=_SIGN_IN_SLOTS)
    return TokenPair(**session.to_json())


@router.post("/invitation/accept", status_code=201, responses=REFUSED_SIGN_IN)
async def accept_invitation(body: InvitationAcceptance, request: Request,
                            registry: Annotated[Any, Depends(registry_service)]) -> TokenPair:
    """A participant's first sign-in: the curator's one-time code, a login and a password of
    their choosing (the password policy applies). Wrong codes are failed sign-ins."""
    settings = registry.settings
    address = client_address(request.scope, settings.trusted_proxies, settings.signing_secret)
    session = await anyio.to_thread.run_sync(registry.invitations.accept, body.code, body.login,
                                             body.password, address, limiter=_SIGN_IN_SLOTS)
    return TokenPair(**session.to_json())


@router.post("/refresh", responses=REFUSED_SIGN_IN)
def refresh(body: RefreshRequest, accounts: Accounts) -> TokenPair:
    return TokenPair(**accounts.refresh(body.refresh_token).to_json())


@router.post("/logout", status_code=204)
def logout(accounts: Accounts, body: LogoutRequest | None = None,
           authorization: Annotated[str | None, Header()] = None) -> Response:
    """End the session: its refresh tokens, and every access token it was given, at once."""
    access = authorization[7:].strip() if authorization and \
        authorization.lower().startswith("bearer ") else None
    accounts.logout(body.refresh_token if body else None, access or None)
    return Response(status_code=204)


@router.get("/me")
def me(actor: CurrentActor, accounts: Accounts) -> dict[str, Any]:
    """``holder``: for a participant, whether they or a minor's guardian signed in (the portal
    tells the guardian they act for the child)."""
    return {"user": actor.user, "role": actor.role.value, "scope": str(actor.scope),
            "holder": accounts.holder_of(actor)}


class MailSettings(Body):
    email: str | None = Field(default=None, max_length=254)
    email_enabled: bool = True

    @field_validator("email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return validate_email(value)


@router.get("/notifications")
def mail_settings(actor: CurrentActor, registry: Registry) -> MailSettings:
    """One's own e-mail for notifications and whether to get them by mail."""
    return MailSettings(**registry.contacts.settings_of(actor))


@router.put("/notifications")
def change_mail_settings(body: MailSettings, actor: CurrentActor, registry: Registry) -> MailSettings:
    return MailSettings(**registry.contacts.update(actor, body.email, body.email_enabled))


@router.post("/accounts", status_code=201)
def create_account(body: NewAccount, actor: CurrentActor, accounts: Accounts) -> dict[str, str]:
    account = accounts.create_account(actor, body.login, body.password, body.role, body.scope,
                                      body.person_id)
    return {"login": account.login, "role": account.role.value, "scope": str(account.scope)}


@router.post("/password", status_code=204)
def change_password(body: PasswordChange, request: Request, actor: CurrentActor,
                    accounts: Accounts) -> Response:
    """One's own password, for the current one; the new one meets the password policy."""
    settings = request.app.state.registry.settings
    address = client_address(request.scope, settings.trusted_proxies, settings.signing_secret)
    accounts.change_password(actor, body.current_password, body.new_password, address)
    return Response(status_code=204)


@router.post("/totp/setup")
def totp_setup(caller: SetupCaller, accounts: Accounts, body: TotpSetup | None = None) -> TotpSecret:
    """A new TOTP secret for one's own account (shown once as a QR link); confirm it with a code.

    The second factor in force, if any, stays until then; replacing it takes its current code."""
    return TotpSecret(**accounts.start_totp(caller, body.otp if body else None))


@router.post("/totp/confirm")
def totp_confirm(body: OtpCode, caller: SetupCaller, accounts: Accounts) -> TotpConfirmed:
    codes, session = accounts.confirm_totp(caller, body.otp)
    return TotpConfirmed(recovery_codes=codes,
                         session=TokenPair(**session.to_json()) if session else None)


@router.post("/totp/recovery-codes")
def recovery_codes(body: OtpCode, actor: CurrentActor, accounts: Accounts) -> RecoveryCodes:
    """A new set of recovery codes for a current code; the old set ends."""
    return RecoveryCodes(recovery_codes=accounts.new_recovery_codes(actor, body.otp))
