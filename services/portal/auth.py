"""Who is signed in to the portal: the one place that checks credentials and keeps the session.

Credentials are checked by the registry's ``POST /auth/login`` (argon2 hashes, lock-out,
optional second factor), like any other client would; the portal keeps the access token it
returns. The demo region's accounts are listed on the sign-in page for convenience.

The token lives in an HttpOnly, SameSite=Strict cookie: scripts cannot read it and no other
site can make the browser send it, which is what keeps the portal's forms safe from CSRF.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from shared.auth import Actor, OrgPath, Role, read_token
from shared.errors import DomainError
from shared.settings import Settings

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


DEMO_PASSWORD = "nastavnik-demo"  # noqa: S105 - the published password of the demo region only


def start_session(response: Response, token: str, max_age: int, secure: bool) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
                        secure=secure, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def session_actor(request: Request, settings: Settings) -> Actor | None:
    """The signed-in actor, or None when there is no valid session (expired, forged, absent)."""
    token = session_token(request)
    if not token:
        return None
    try:
        return read_token(token, settings.signing_secret)
    except DomainError:
        return None
