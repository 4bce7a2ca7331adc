"""The way in: the vendored static assets, sign-in and sign-out, and «/», which leads each user
to the page they start on (``navigation.py`` says which): a curator to their organisation's
worklist (``worklist.py``).

Regional and auditor accounts sign in with a second factor: the password's answer leads to a
second step (``/login/code``: the code of the authenticator app, or a recovery code), or, while
no app is set up, to the set-up (``/login/enrol``: the QR code, a first code, then the recovery
codes shown once). The registry's short-lived step token travels in a hidden field of the form;
it opens nothing but these steps.

URLs: ``/static/{name}``, ``/login``, ``/login/code``, ``/login/enrol``, ``/logout``, ``/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import segno
from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.portal import auth, navigation
from services.portal.frame import Signed, State, page_router, render
from services.portal.lookups import own_organisation
from shared.errors import DomainError
from shared.middlewares import FORWARDED_BY_HEADER, client_address, forwarding_proof

router = page_router()
STATIC = Path(__file__).parents[1] / "static"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


# --- static assets (vendored: the portal works offline) -----------------------------------------

@router.get("/static/{name}")
def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        raise DomainError("NOT_FOUND", "Файл не найден", 404)
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=86400"})


# --- sign-in ----------------------------------------------------------------------------------

def login_form(request: Request, state: State, next: str, status: int = 200,
               error: str | None = None, login: str = "") -> HTMLResponse:
    demo = state.settings.region == "demo"
    return render(request, "login.html", status=status, error=error, login=login,
                  accounts=auth.demo_accounts(state.settings.region) if demo else [],
                  demo_password=auth.DEMO_PASSWORD if demo else None,
                  demo_secrets=auth.DEMO_TOTP_SECRETS if demo else {}, next=safe_next(next))


def _forwarded(request: Request, state: State) -> dict[str, str]:
    """The registry throttles per user's address, not the portal's: the portal proves it
    forwarded the form."""
    return {"X-Forwarded-For": client_address(request.scope, state.settings.trusted_proxies),
            FORWARDED_BY_HEADER: forwarding_proof(state.settings.signing_secret)}


def _error(response: httpx.Response) -> tuple[str, str]:
    body = response.json() if response.content else {}
    return str(body.get("code", "")), str(body.get("message", "Не удалось войти"))


def _signed_in(request: Request, tokens: dict[str, Any], next: str) -> Response:
    redirect = RedirectResponse(safe_next(next), status_code=303)
    auth.start_session(redirect, tokens["access_token"], int(tokens["expires_in"]),
                       secure=request.url.scheme == "https")
    return redirect


def code_form(request: Request, challenge: str, next: str, status: int = 200,
              error: str | None = None) -> HTMLResponse:
    return render(request, "login_code.html", status=status, error=error, challenge=challenge,
                  next=safe_next(next))


def enrol_form(request: Request, enrolment: str, secret: str, uri: str, next: str,
               status: int = 200, error: str | None = None) -> HTMLResponse:
    # The QR code is drawn here, as inline SVG: the secret never leaves for a QR service.
    qr = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff",
                                                 title="QR-код для приложения-аутентификатора")
    page = render(request, "login_enrol.html", status=status, error=error, enrolment=enrolment,
                  secret=secret, uri=uri, qr=qr, next=safe_next(next))
    page.headers["Cache-Control"] = "no-store"  # the secret: not in any cache
    return page


@router.get("/login")
def login_page(request: Request, state: State, next: str = "/") -> HTMLResponse:
    return login_form(request, state, next)


@router.post("/login")
async def login(request: Request, state: State, login: Annotated[str, Form(max_length=100)],
                password: Annotated[str, Form(max_length=200)],
                otp: Annotated[str, Form(max_length=20)] = "",
                next: Annotated[str, Form()] = "/") -> Response:
    # The registry checks the password, the delays and the second factor, as for any client.
    response = await state.http.post("/auth/login", json={
        "login": login, "password": password, "otp": otp or None},
        headers=_forwarded(request, state))
    if response.status_code == 200:
        return _signed_in(request, response.json(), next)
    code, message = _error(response)
    if code == "MFA_REQUIRED":
        return code_form(request, response.json()["details"][0]["challenge"], next)
    if code == "MFA_ENROLMENT_REQUIRED":
        enrolment = response.json()["details"][0]["enrolment_token"]
        setup = await state.http.post("/auth/totp/setup",
                                      headers={"Authorization": f"Bearer {enrolment}"})
        if setup.status_code == 200:
            return enrol_form(request, enrolment, setup.json()["secret"], setup.json()["uri"], next)
        code, message = _error(setup)
    return login_form(request, state, next, status=response.status_code, error=message, login=login)


@router.post("/login/code")
async def login_code(request: Request, state: State,
                     challenge: Annotated[str, Form(max_length=1000)],
                     otp: Annotated[str, Form(max_length=20)],
                     next: Annotated[str, Form()] = "/") -> Response:
    """The second step: the code of the app (or a recovery code) for the password's challenge."""
    response = await state.http.post("/auth/mfa", json={"challenge": challenge, "otp": otp.strip()},
                                     headers=_forwarded(request, state))
    if response.status_code == 200:
        return _signed_in(request, response.json(), next)
    code, message = _error(response)
    if code == "SIGN_IN_STEP_EXPIRED":
        return login_form(request, state, next, status=401, error=message)
    return code_form(request, challenge, next, status=response.status_code, error=message)


@router.post("/login/enrol")
async def login_enrol(request: Request, state: State,
                      enrolment: Annotated[str, Form(max_length=1000)],
                      secret: Annotated[str, Form(max_length=64)],
                      uri: Annotated[str, Form(max_length=300)],
                      otp: Annotated[str, Form(max_length=20)],
                      next: Annotated[str, Form()] = "/") -> Response:
    """The set-up's first code: the app works; the recovery codes are shown once, signed in."""
    response = await state.http.post("/auth/totp/confirm", json={"otp": otp.strip()},
                                     headers={"Authorization": f"Bearer {enrolment}"})
    if response.status_code != 200:
        code, message = _error(response)
        if response.status_code == 401:  # the enrolment token expired: start again
            return login_form(request, state, next, status=401,
                              error="Время на подключение истекло: войдите снова")
        return enrol_form(request, enrolment, secret, uri, next, status=response.status_code,
                          error=message)
    confirmed = response.json()
    page = render(request, "login_recovery.html", codes=confirmed["recovery_codes"],
                  next=safe_next(next))
    page.headers["Cache-Control"] = "no-store"
    if confirmed.get("session"):
        auth.start_session(page, confirmed["session"]["access_token"],
                           int(confirmed["session"]["expires_in"]),
                           secure=request.url.scheme == "https")
    return page


@router.post("/logout")
async def logout(request: Request, state: State) -> Response:
    token = auth.session_token(request)
    if token:
        # The registry puts the session's token on the deny-list: a copy of the cookie (or the
        # token the portal forwards) stops working now, not when it expires.
        await auth.revoke_session(state.http, token, state.settings)
    response = RedirectResponse("/login", status_code=303)
    auth.end_session(response)
    return response


def safe_next(target: str) -> str:
    """Only paths of this site: a crafted link must not send the user elsewhere after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/")
async def home(s: Signed) -> Response:
    if navigation.works_in_own_organisation(s.actor):
        own = await own_organisation(s)
        return RedirectResponse(f"/organisations/{own['id']}/worklist", status_code=303)
    return RedirectResponse(navigation.start_page(s.actor), status_code=303)
