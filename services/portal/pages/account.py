"""One's own account: a new password (for the current one) and a new set of recovery codes (for
a current code of the second factor). The registry checks both, as for any client
(``POST /auth/password``, ``POST /auth/totp/recovery-codes``); the portal shows its answer.

URLs: ``/account``, ``/account/password``, ``/account/recovery-codes``.
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


@router.get("/account")
async def account(request: Request, s: Signed, saved: str = "") -> Response:
    return account_page(request, s, saved=saved == "password")


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
