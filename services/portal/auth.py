"""Who is signed in to the portal: the one place that checks credentials and keeps the session.

Credentials are checked by the registry's ``POST /auth/login`` (argon2 hashes, delays,
optional second factor), like any other client would; the portal keeps the access token it
returns. The demo region's accounts are listed on the sign-in page for convenience.

The token lives in an HttpOnly, SameSite=Strict cookie: scripts cannot read it and no other
site can make the browser send it, which is what keeps the portal's forms safe from CSRF.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request, Response

from shared.auth import Actor, OrgPath, Role, read_claims
from shared.errors import DomainError
from shared.logging import get_logger
from shared.settings import Settings
from shared.tokens import REVOKED, actor_from_token

log = get_logger(__name__)

COOKIE = "nastavnik_session"


@dataclass(frozen=True)
class DemoAccount:
    login: str
    role: Role
    scope: str
    title: str

    @property
    def actor(self) -> Actor:
        return Actor(user=self.login, role=self.role, scope=OrgPath.parse(self.scope))


ROLE_TITLES: dict[Role, str] = {
    Role.CURATOR: "Куратор образовательной организации",
    Role.MUNICIPAL: "Муниципальный орган управления образованием",
    Role.REGIONAL: "Региональный оператор",
    Role.AUDITOR: "Аудитор (только чтение)",
    Role.PARTICIPANT: "Участник",
    Role.SYSTEM: "Система",
}


def demo_accounts(region: str) -> list[DemoAccount]:
    """The demo region's accounts (services/demo.py plans the same codes)."""
    municipality = f"{region}/m-berezovsky"
    return [
        DemoAccount("curator-school-1", Role.CURATOR, f"{municipality}/school-1",
                    "Куратор: Берёзовский округ, школа № 1"),
        DemoAccount("curator-school-2", Role.CURATOR, f"{municipality}/school-2",
                    "Куратор: Берёзовский округ, школа № 2"),
        DemoAccount("municipal-berezovsky", Role.MUNICIPAL, municipality,
                    "Управление образования Берёзовского округа"),
        DemoAccount("regional", Role.REGIONAL, region, "Региональный центр наставничества"),
        DemoAccount("auditor", Role.AUDITOR, region, "Аудитор региона"),
    ]


DEMO_PASSWORD = "vesna-sirius-2026"  # noqa: S105 - the published password of the demo region only
#: The published second-factor secrets of the demo accounts that need one (the registry seeds
#: the same): type one into an authenticator app, and it shows the codes.
DEMO_TOTP_SECRETS = {"regional": "NASTAVNIKDEMOREGIONAL234567ABCDE",
                     "auditor": "NASTAVNIKDEMOAUDITOR234567ABCDEF"}


def start_session(response: Response, token: str, max_age: int, secure: bool) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
                        secure=secure, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def session_actor(request: Request, settings: Settings) -> Actor | None:
    """The signed-in actor, or None when there is no valid session (expired, forged, absent,
    logged out: the deny-list of ``shared.tokens`` is checked)."""
    token = session_token(request)
    if not token:
        return None
    try:
        return actor_from_token(token, settings.signing_secret, settings)
    except DomainError:
        return None


async def revoke_session(http: httpx.AsyncClient, token: str, settings: Settings) -> None:
    """Ask the registry to end the session of this token (refresh tokens and access tokens),
    then refuse the token in this process too (the portal may run apart from the registry)."""
    try:
        claims = read_claims(token, settings.signing_secret)
    except DomainError:
        return  # not a token of ours, or expired: nothing to revoke
    try:
        await http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        # The cookie is still removed and this portal refuses the token below.
        log.warning("portal.logout_not_revoked", error=type(exc).__name__)
    REVOKED.revoke(str(claims["jti"]), float(claims["exp"]))
