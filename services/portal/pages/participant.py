"""Participants in the portal: the curator's invitation (a one-time code, printed and handed
over; for a minor, to the guardian), the sign-in with that code, and a participant's own pairs
with their meetings, a feedback form per meeting, the plan's goals whose progress they mark,
and the questionnaires they answer themselves.

A participant reads no organisation's records (``shared.auth``): these pages ask only for the
participant's own pairs and feedback; the pairing service decides what of them they see (the
other side's feedback only after their own).

URLs: ``/people/{id}/invitation``, ``/login/invitation``, ``/my``, ``/my/pairs/{id}/feedback``,
``/my/pairs/{id}/goals/{goal id}`` (a goal's progress), ``/my/pairs/{id}/surveys/{code}`` (one's
own questionnaire; the curator's tally counts it).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import Session, Signed, State, page_router, render
from services.portal.pages.home import _error, _forwarded, _signed_in
from services.portal.pages.surveys import Target, questionnaire, submit, survey_form
from services.portal.survey_status import SURVEYED, Expected, Stage, expected_of_pair, load_answered
from shared.errors import DomainError

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
                  guardian=issued["holder"] == "guardian", expires=expires,
                  reset=bool(issued.get("reset")))
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


#: What «Мои пары» confirms after each of its forms, by ``?saved=``.
SAVED = {"feedback": "Отзыв сохранён.", "goal": "Отметка о ходе работы над целью сохранена."}
#: What the participant is called on their own questionnaire.
YOU = "вы"


def my_surveys(pair: dict[str, Any], questionnaires: list[dict[str, Any]],
               me: str) -> list[Expected]:
    """The questionnaires of a pair the participant answers themselves."""
    return [e for e in expected_of_pair(pair, questionnaires, {me: YOU}) if e.respondent_id == me]


def my_survey_url(e: Expected) -> str:
    return f"/my/pairs/{e.pair_id}/surveys/{quote(e.questionnaire['code'])}?stage={e.stage}"


async def own_surveys(s: Session, pairs: list[dict[str, Any]]) -> dict[str, list[Expected]] | None:
    """By pair, the participant's own questionnaires marked answered or not; None while the
    monitoring service does not answer (the pairs, meetings and feedback still show)."""
    try:
        questionnaires = await s.api.get("/monitoring/questionnaires")
        found = {p["id"]: my_surveys(p, questionnaires, s.actor.user) for p in pairs}
        await load_answered(s.api, str(s.actor.scope), [e for group in found.values() for e in group])
    except ApiError as exc:
        if exc.status < 500:
            raise
        return None
    return found


@router.get("/my")
async def my_pairs(request: Request, s: Signed) -> Response:
    pairs, account = await asyncio.gather(s.api.get("/pairing/pairs"), s.api.get("/auth/me"))
    details = await asyncio.gather(*(s.api.get(f"/pairing/pairs/{p['id']}") for p in pairs))
    # The pair at work first, then the newest: a finished year's pair must not bury this one.
    details = sorted(details, key=lambda p: p.get("formed_on") or "", reverse=True)
    details.sort(key=lambda p: p["status"] != "active")
    me = s.actor.user
    surveys = await own_surveys(s, [p for p in details if p["status"] in SURVEYED])
    shown: list[dict[str, Any]] = []
    for pair in details:
        answers = await asyncio.gather(*(
            s.api.get(f"/pairing/pairs/{pair['id']}/meetings/{m['number']}/feedback")
            for m in pair["meetings"]))
        meetings = [{**m, "answers": a} for m, a in zip(pair["meetings"], answers, strict=True)]
        shown.append({**pair, "meetings": meetings, "surveys": [
            {"title": e.questionnaire["title"], "stage": e.stage, "done": e.done, "due": e.due,
             "url": my_survey_url(e)} for e in (surveys or {}).get(pair["id"], [])]})
    recorded = request.query_params.get("recorded")
    return render(request, "my_pairs.html", actor=s.actor, pairs=shown, me=me,
                  guardian=account.get("holder") == "guardian",
                  surveys_failed=surveys is None,
                  error=request.query_params.get("error"),
                  saved="Анкета сохранена." if recorded else
                  SAVED.get(request.query_params.get("saved") or ""),
                  pending=request.query_params.get("pending"))


@router.post("/my/pairs/{pair_id}/goals/{goal_id}")
async def my_goal(pair_id: UUID, goal_id: UUID, s: Signed,
                  status: Annotated[str, Form(max_length=20)]) -> Response:
    """A member marks how far a goal of the plan has come; the pairing service checks that they
    are in the pair."""
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/goals/{goal_id}/progress",
                         json={"status": status})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse("/my?error=" + quote(exc.message), status_code=303)
    return RedirectResponse("/my?saved=goal", status_code=303)


async def my_target(s: Session, pair_id: UUID, code: str, stage: str) -> Target:
    """One of the participant's own questionnaires, answered in the pair's organisation (the
    mentees'): a partner organisation's mentor is counted there, where the curator sees it."""
    pair, wanted = await asyncio.gather(s.api.get(f"/pairing/pairs/{pair_id}"),
                                        questionnaire(s, code))
    me = s.actor.user
    match = next((e for e in my_surveys(pair, [wanted], me) if e.stage == stage), None)
    if match is None:
        raise DomainError("SURVEY_NOT_EXPECTED", "Эта анкета не предназначена вам", 404)
    return Target({"path": pair["path"], "name": pair["organisation_name"]}, wanted, match, pair, "/my",
                  action=my_survey_url(match), own=True)


StageQuery = Annotated[Stage, Query()]


@router.get("/my/pairs/{pair_id}/surveys/{code}")
async def my_survey_form(request: Request, pair_id: UUID, code: str, stage: StageQuery,
                         s: Signed) -> Response:
    return survey_form(request, s, await my_target(s, pair_id, code, stage))


@router.post("/my/pairs/{pair_id}/surveys/{code}")
async def my_survey_submit(request: Request, pair_id: UUID, code: str, stage: StageQuery,
                           s: Signed) -> Response:
    return await submit(request, s, await my_target(s, pair_id, code, stage))


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
