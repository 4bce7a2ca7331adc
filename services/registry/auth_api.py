"""HTTP routes of sign-in: login, refresh, logout, the second factor, accounts by an administrator."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.registry.accounts import AccountService
from shared.auth import Role
from shared.middlewares import client_address
from shared.web import CurrentActor


def account_service(request: Request) -> AccountService:
    return request.app.state.registry.accounts


Accounts = Annotated[AccountService, Depends(account_service)]
router = APIRouter(prefix="/auth", tags=["auth"])


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = Field(default=None, max_length=10)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    login: str
    role: str
    scope: str


class NewAccount(Body):
    login: str = Field(min_length=2, max_length=63)
    password: str = Field(min_length=1, max_length=256)
    role: Role
    scope: str = Field(min_length=1, max_length=200)
    person_id: UUID | None = None


class OtpCode(Body):
    otp: str = Field(min_length=6, max_length=10)


class TotpSetup(Body):
    #: A code of the second factor in force: required to replace it, not to set up the first.
    otp: str | None = Field(default=None, min_length=6, max_length=10)


@router.post("/login")
def login(body: LoginRequest, request: Request, accounts: Accounts) -> TokenPair:
    # The portal and reverse proxies in NASTAVNIK_TRUSTED_PROXIES pass on the user's address.
    address = client_address(request.scope, request.app.state.registry.settings.trusted_proxies)
    return TokenPair(**accounts.login(body.login, body.password, body.otp, address).to_json())


@router.post("/refresh")
def refresh(body: RefreshRequest, accounts: Accounts) -> TokenPair:
    return TokenPair(**accounts.refresh(body.refresh_token).to_json())


@router.post("/logout", status_code=204)
def logout(body: RefreshRequest, accounts: Accounts) -> Response:
    accounts.logout(body.refresh_token)
    return Response(status_code=204)


@router.get("/me")
def me(actor: CurrentActor) -> dict[str, Any]:
    return {"user": actor.user, "role": actor.role.value, "scope": str(actor.scope)}


@router.post("/accounts", status_code=201)
def create_account(body: NewAccount, actor: CurrentActor, accounts: Accounts) -> dict[str, str]:
    account = accounts.create_account(actor, body.login, body.password, body.role, body.scope,
                                      body.person_id)
    return {"login": account.login, "role": account.role.value, "scope": str(account.scope)}


@router.post("/totp/setup")
def totp_setup(actor: CurrentActor, accounts: Accounts, body: TotpSetup | None = None) -> dict[str, str]:
    """A new TOTP secret for one's own account (shown once as a QR link); confirm it with a code.

    The second factor in force, if any, stays until then; replacing it takes its current code."""
    return accounts.start_totp(actor, body.otp if body else None)


@router.post("/totp/confirm", status_code=204)
def totp_confirm(body: OtpCode, actor: CurrentActor, accounts: Accounts) -> Response:
    accounts.confirm_totp(actor, body.otp)
    return Response(status_code=204)
