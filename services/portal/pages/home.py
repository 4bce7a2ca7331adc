"""The way in: the vendored static assets, sign-in and sign-out, and «/», which leads each user
to the page they start on (``navigation.py`` says which): a curator to their organisation's
worklist (``worklist.py``).

URLs: ``/static/{name}``, ``/login``, ``/logout``, ``/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
                  demo_password=auth.DEMO_PASSWORD if demo else None, next=safe_next(next))


@router.get("/login")
def login_page(request: Request, state: State, next: str = "/") -> HTMLResponse:
    return login_form(request, state, next)


@router.post("/login")
async def login(request: Request, state: State, login: Annotated[str, Form(max_length=100)],
                password: Annotated[str, Form(max_length=200)],
                otp: Annotated[str, Form(max_length=10)] = "",
                next: Annotated[str, Form()] = "/") -> Response:
    # The registry checks the password, the lock-out and the second factor, as for any client.
    # It throttles per user's address, not the portal's: the portal proves it forwarded the form.
    user_address = client_address(request.scope, state.settings.trusted_proxies)
    response = await state.http.post("/auth/login", json={
        "login": login, "password": password, "otp": otp or None},
        headers={"X-Forwarded-For": user_address,
                 FORWARDED_BY_HEADER: forwarding_proof(state.settings.signing_secret)})
    if response.status_code != 200:
        message = response.json().get("message", "Не удалось войти") if response.content else (
            "Не удалось войти")
        return login_form(request, state, next, status=response.status_code, error=message,
                          login=login)
    tokens = response.json()
    redirect = RedirectResponse(safe_next(next), status_code=303)
    auth.start_session(redirect, tokens["access_token"], int(tokens["expires_in"]),
                       secure=request.url.scheme == "https")
    return redirect


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
