"""One pair's page: its members, goals, meetings with their feedback and the questionnaires its
members are to answer; logging a meeting, feedback or a goal; ending the pair's work
(completion or dissolution), each confirmed on a page of its own. The forms of a pair's
questionnaires are in ``surveys.py``.

URLs: ``/pairs/{id}``, ``/pairs/{id}/meetings``, ``/pairs/{id}/feedback``, ``/pairs/{id}/goals``,
``/pairs/{id}/complete``, ``/pairs/{id}/dissolve``, ``/pairs/{id}/plan`` (the development plan
issued as a document, then downloaded as DOCX or PDF).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import Session, Signed, page_router, render
from services.portal.lookups import current_school_year, date_today, name_paired_mentors, names_of
from services.portal.survey_status import pair_surveys
from services.portal.templating import templates
from shared.auth import OrgPath

router = page_router()
MEETING_KINDS = {"intro": "встреча-знакомство", "trial": "пробная встреча",
                 "planning": "встреча-планирование", "regular": "регулярная встреча",
                 "final": "итоговая встреча"}
MEETING_FORMATS = {"in_person": "очно", "online": "дистанционно"}
GOAL_STATUSES = {"planned": "запланирована", "in_progress": "в работе", "done": "достигнута",
                 "dropped": "снята"}
templates.env.globals.update(meeting_kinds=MEETING_KINDS, meeting_formats=MEETING_FORMATS,
                             goal_statuses=GOAL_STATUSES)


async def pair_side(s: Session, pair: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], bool]:
    """The organisation a user sees a pair from, the names they may read, and whether the pair
    is filed there. The curator of a mentor from another organisation sees the pair from the
    mentor's organisation (the pair grants that sight) and reads only their own people's names."""
    home = s.actor.can_read(OrgPath.parse(pair["path"])) or not pair.get("mentor_organisation_id")
    org_id = pair["organisation_id"] if home else pair["mentor_organisation_id"]
    org, names = await asyncio.gather(s.api.get(f"/registry/organisations/{org_id}"),
                                      names_of(s, org_id))
    if home:
        await name_paired_mentors(s, [pair], names)
    return org, names, home


async def no_surveys() -> list[dict[str, Any]]:
    """The pair's questionnaires are the business of the organisation it is filed at."""
    return []


@router.get("/pairs/{pair_id}")
async def pair_page(request: Request, pair_id: UUID, s: Signed) -> Response:
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")
    org, names, home = await pair_side(s, pair)
    feedback, surveys = await asyncio.gather(
        asyncio.gather(*(s.api.get(f"/pairing/pairs/{pair_id}/meetings/{m['number']}/feedback")
                         for m in pair["meetings"])),
        pair_surveys(s.api, pair, org["path"], names) if home else no_surveys())
    meetings = [{**m, "answers": answers} for m, answers in zip(pair["meetings"], feedback, strict=True)]
    side_writer = s.actor.can_write(OrgPath.parse(org["path"]))
    # Meetings, goals and feedback are kept by the pair's own organisation; the mentor's
    # organisation may only end a cross-organisation pair.
    writer = side_writer and home
    return render(request, "pair.html", actor=s.actor, org=org, pair=pair, names=names,
                  meetings=meetings, today=date_today(), surveys=surveys, writer=writer,
                  can_write=writer and pair["status"] == "active",
                  can_end=side_writer and pair["status"] == "active",
                  error=request.query_params.get("error"),
                  recorded=request.query_params.get("recorded"),
                  pending=request.query_params.get("pending"),
                  closed=request.query_params.get("closed"),
                  saved=SAVED_MESSAGES.get(request.query_params.get("saved") or ""))


#: What the pair page confirms after each form, by the form's name in ``?saved=``.
SAVED_MESSAGES = {"meetings": "Встреча отмечена. Внесите обратную связь обеих сторон: она обязательна "
                              "после каждой встречи.",
                  "feedback": "Отзыв сохранён.", "goals": "Цель добавлена в план развития."}


async def pair_command(pair_id: UUID, s: Session, url: str, body: dict[str, Any]) -> Response:
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/{url}", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return RedirectResponse(f"/pairs/{pair_id}?error=" + quote(exc.message), status_code=303)
    return RedirectResponse(f"/pairs/{pair_id}?saved={url}", status_code=303)


# --- ending a pair's work: completion and dissolution, each confirmed on a page of its own ------

CloseAction = Literal["complete", "dissolve"]


async def close_page(request: Request, pair_id: UUID, s: Session, action: CloseAction,
                     status: int = 200, error: str | None = None, reason: str = "") -> Response:
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")
    org, names, _ = await pair_side(s, pair)
    s.actor.require_write(OrgPath.parse(org["path"]))
    last = pair["meetings"][-1]["kind"] if pair["meetings"] else None
    return render(request, "pair_close.html", status=status, actor=s.actor, org=org, pair=pair,
                  names=names, action=action, error=error, reason=reason,
                  ready=action == "dissolve" or last == "final")


@router.get("/pairs/{pair_id}/complete")
async def complete_confirm(request: Request, pair_id: UUID, s: Signed) -> Response:
    return await close_page(request, pair_id, s, "complete")


@router.get("/pairs/{pair_id}/dissolve")
async def dissolve_confirm(request: Request, pair_id: UUID, s: Signed) -> Response:
    return await close_page(request, pair_id, s, "dissolve")


@router.post("/pairs/{pair_id}/complete")
async def complete_pair(request: Request, pair_id: UUID, s: Signed) -> Response:
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/complete", json={})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await close_page(request, pair_id, s, "complete", exc.status, exc.message)
    return RedirectResponse(f"/pairs/{pair_id}?closed=completed", status_code=303)


@router.post("/pairs/{pair_id}/dissolve")
async def dissolve_pair(request: Request, pair_id: UUID, s: Signed,
                        reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    try:
        if len(reason.strip()) < 3:
            raise ApiError(422, "REASON_REQUIRED", "Укажите причину расформирования (не короче 3 знаков)")
        await s.api.post(f"/pairing/pairs/{pair_id}/dissolve", json={"reason": reason.strip()})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await close_page(request, pair_id, s, "dissolve", exc.status, exc.message, reason)
    return RedirectResponse(f"/pairs/{pair_id}?closed=dissolved", status_code=303)


@router.post("/pairs/{pair_id}/meetings")
async def log_meeting(pair_id: UUID, s: Signed, kind: Annotated[str, Form()], date: Annotated[str, Form()],
                      duration_minutes: Annotated[int, Form()],
                      format: Annotated[str, Form()] = "in_person",  # noqa: A002
                      missing_feedback_reason: Annotated[str, Form(max_length=1000)] = "",
                      ) -> Response:
    body: dict[str, Any] = {"kind": kind, "date": date, "duration_minutes": duration_minutes,
                            "format": format}
    if missing_feedback_reason.strip():  # asked for only while a side's feedback is missing
        body["missing_feedback_reason"] = missing_feedback_reason.strip()
    return await pair_command(pair_id, s, "meetings", body)


@router.post("/pairs/{pair_id}/feedback")
async def log_feedback(pair_id: UUID, s: Signed, meeting_number: Annotated[int, Form()],
                       respondent_id: Annotated[UUID, Form()], satisfaction: Annotated[int, Form()],
                       went_well: Annotated[str, Form(max_length=4000)] = "",
                       to_change: Annotated[str, Form(max_length=4000)] = "") -> Response:
    return await pair_command(pair_id, s, "feedback", {
        "meeting_number": meeting_number, "respondent_id": str(respondent_id),
        "satisfaction": satisfaction, "went_well": went_well, "to_change": to_change})


@router.post("/pairs/{pair_id}/goals")
async def add_goal(pair_id: UUID, s: Signed, title: Annotated[str, Form(max_length=500)],
                   due: Annotated[str, Form()] = "") -> Response:
    return await pair_command(pair_id, s, "goals", {"title": title, "due": due or None})



@router.post("/pairs/{pair_id}/plan")
async def development_plan(pair_id: UUID, s: Signed,
                           signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                           signatory_name: Annotated[str, Form(min_length=3, max_length=200)],
                           fmt: Annotated[Literal["docx", "pdf"], Form()] = "docx") -> Response:
    """Issue the pair's individual development plan (numbered and registered by the documents
    service, from the goals as pairing has them) and hand over its file."""
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")
    org = await s.api.get(f"/registry/organisations/{pair['organisation_id']}")
    try:
        issued = await s.api.post("/documents/development-plan", json={
            "org": org["path"], "organisation_name": org["name"], "pair_id": str(pair_id),
            "school_year": current_school_year(datetime.date.fromisoformat(date_today())),
            "signatory": {"position": signatory_position, "full_name": signatory_name}})
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return RedirectResponse(f"/pairs/{pair_id}?error="
                                + quote("План развития не сформирован: " + exc.message),
                                status_code=303)
    return RedirectResponse(f"/files/{issued['id']}/{fmt}", status_code=303)
