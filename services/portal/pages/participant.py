"""Participants in the portal: the curator's invitation (a one-time code, printed and handed
over; for a minor, to the guardian), the sign-in with that code, and a participant's own pairs
with their meetings and a feedback form per meeting.

A participant reads no organisation's records (``shared.auth``): these pages ask only for the
participant's own pairs and feedback; the pairing service decides what of them they see (the
other side's feedback only after their own).

URLs: ``/people/{id}/invitation``, ``/login/invitation``, ``/my``, ``/my/pairs/{id}/feedback``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import Signed, State, page_router, render
from services.portal.pages.home import _error, _forwarded, _signed_in

router = page_router()


@router.post("/people/{person_id}/invitation")
async def issue_invitation(request: Request, person_id: UUID, s: Signed) -> Response:
    """The code is shown once, on a page made for printing; it is not kept anywhere readable."""
    person = await s.api.get(f"/registry/people/{person_id}")
    try:
        issued = await s.api.post(f"/registry/people/{person_id}/invitation", json={})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(f"/people/{person_id}?error=" + quote(exc.message), status_code=303)
    expires = datetime.fromtimestamp(float(issued["expires_at"]), UTC).date()
    page = render(request, "invitation.html", actor=s.actor, person=person, code=issued["code"],
                  guardian=issued["holder"] == "guardian", expires=expires)
    page.headers["Cache-Control"] = "no-store"  # the code: not in any cache
    return page


def invitation_form(request: Request, status: int = 200, error: str | None = None,
                    login: str = "") -> HTMLResponse:
    return render(request, "login_invitation.html", status=status, error=error, login=login)


@router.get("/login/invitation")
def invitation_page(request: Request) -> HTMLResponse:
    return invitation_form(request)


@router.post("/login/invitation")
async def accept_invitation(request: Request, state: State,
                            invitation_code: Annotated[str, Form(max_length=64)],
                            login: Annotated[str, Form(max_length=63)],
                            password: Annotated[str, Form(max_length=200)]) -> Response:
    # The registry checks the code, the delays and the password policy, as for any client.
    response = await state.http.post("/auth/invitation/accept", json={
        "code": invitation_code, "login": login, "password": password}, headers=_forwarded(request, state))
    if response.status_code == 201:
        return _signed_in(request, response.json(), "/my")
    _, message = _error(response)
    return invitation_form(request, status=response.status_code, error=message, login=login)


@router.get("/my")
async def my_pairs(request: Request, s: Signed) -> Response:
    pairs = await s.api.get("/pairing/pairs")
    details = await asyncio.gather(*(s.api.get(f"/pairing/pairs/{p['id']}") for p in pairs))
    shown: list[dict[str, Any]] = []
    for pair in details:
        answers = await asyncio.gather(*(
            s.api.get(f"/pairing/pairs/{pair['id']}/meetings/{m['number']}/feedback")
            for m in pair["meetings"]))
        meetings = [{**m, "answers": a} for m, a in zip(pair["meetings"], answers, strict=True)]
        shown.append({**pair, "meetings": meetings})
    return render(request, "my_pairs.html", actor=s.actor, pairs=shown, me=s.actor.user,
                  error=request.query_params.get("error"),
                  saved=request.query_params.get("saved"))


@router.post("/my/pairs/{pair_id}/feedback")
async def my_feedback(pair_id: UUID, s: Signed, meeting_number: Annotated[int, Form()],
                      satisfaction: Annotated[int, Form()],
                      went_well: Annotated[str, Form(max_length=4000)] = "",
                      to_change: Annotated[str, Form(max_length=4000)] = "") -> Response:
    """One's own feedback on a meeting: the service takes the respondent from the sign-in."""
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/feedback", json={
            "meeting_number": meeting_number, "satisfaction": satisfaction,
            "went_well": went_well, "to_change": to_change})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse("/my?error=" + quote(exc.message), status_code=303)
    return RedirectResponse("/my?saved=feedback", status_code=303)
