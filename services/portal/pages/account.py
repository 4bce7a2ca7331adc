"""One's own account: e-mail notifications on or off, a new password (for the current one) and a
new set of recovery codes (for a current code of the second factor).
The registry checks both, as for any client
(``POST /auth/password``, ``POST /auth/totp/recovery-codes``); the portal shows its answer.

The address for notifications and whether to get them by mail: ``GET``/``PUT /auth/notifications``.

URLs: ``/account``, ``/account/password``, ``/account/recovery-codes``, ``/account/notifications``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response

from services.portal.client import ApiError
from services.portal.frame import Signed, page_router, render, see_other

router = page_router()


def account_page(request: Request, s: Signed, status: int = 200, **context: object) -> Response:
    page = render(request, "account.html", status=status, actor=s.actor, **context)
    page.headers["Cache-Control"] = "no-store"  # recovery codes are shown once, never cached
    return page


async def mail_settings(s: Signed) -> dict[str, object] | None:
    try:
        found: dict[str, object] = await s.api.get("/auth/notifications")
    except ApiError:
        # An account the registry keeps no settings for (single sign-on), or the registry is
        # away: the rest of the page still serves.
        return None
    return found


@router.get("/account")
async def account(request: Request, s: Signed, saved: str = "") -> Response:
    return account_page(request, s, saved=saved == "password", mail_saved=saved == "mail",
                        mail=await mail_settings(s))


@router.post("/account/notifications")
async def change_mail(request: Request, s: Signed,
                      email: Annotated[str, Form(max_length=254)] = "",
                      email_enabled: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Where notifications are mailed, and whether at all."""
    wanted = {"email": email.strip() or None, "email_enabled": email_enabled == "on"}
    try:
        await s.api.put("/auth/notifications", json=wanted)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return account_page(request, s, status=exc.status, mail=wanted, mail_error=exc.message)
    return see_other(request, "/account?saved=mail")


@router.post("/account/password")
async def change_password(request: Request, s: Signed,
                          current_password: Annotated[str, Form(max_length=256)],
                          new_password: Annotated[str, Form(max_length=256)],
                          repeat_password: Annotated[str, Form(max_length=256)]) -> Response:
    if new_password != repeat_password:
        return account_page(request, s, status=422,
                            password_error="Новый пароль и повтор не совпадают")
    try:
        await s.api.post("/auth/password", json={"current_password": current_password,
                                                 "new_password": new_password})
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return account_page(request, s, status=exc.status, password_error=exc.message)
    return see_other(request, "/account?saved=password")


@router.post("/account/recovery-codes")
async def new_recovery_codes(request: Request, s: Signed,
                             otp: Annotated[str, Form(max_length=20)]) -> Response:
    try:
        answer = await s.api.post("/auth/totp/recovery-codes", json={"otp": otp.strip()})
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return account_page(request, s, status=exc.status, codes_error=exc.message)
    return account_page(request, s, codes=answer["recovery_codes"])
