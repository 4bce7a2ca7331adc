"""Forming pairs: the pairing board (the matching service's explained suggestions and the pool
of who is free), confirming suggested pairs or forming one by hand, the organisation's list of
pairs and the order approving them. One pair's own page is ``pair.py``.

URLs: ``/organisations/{id}/pairing``, ``…/pairing/confirm``, ``…/pairing/manual``,
``/organisations/{id}/pairs``, ``/organisations/{id}/pairs-order``, and the answer to a pair
proposed by another organisation for one of ours: ``…/proposals/{pair}/confirm`` and
``…/proposals/{pair}/decline``.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Awaitable
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.collation import ru_key
from services.portal.frame import Signed, page_router, render, see_other
from services.portal.lookups import current_school_year, date_today, name_paired_mentors, names_of
from services.portal.pages.documents import given_requisites, order_refusal
from services.portal.templating import templates
from shared.auth import OrgPath
from shared.errors import DomainError
from shared.localtime import local_today

router = page_router()
PAIR_STATUSES = {"active": "действует", "completed": "завершена", "dissolved": "расформирована",
                 "proposed": "ожидает подтверждения организацией наставника",
                 "declined": "отклонена организацией наставника"}
templates.env.globals.update(pair_statuses=PAIR_STATUSES)


@router.get("/organisations/{organisation_id}/pairing")
async def pairing_board(request: Request, organisation_id: UUID, s: Signed,
                        programme: UUID | None = None) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    programmes = await s.api.get(f"/registry/organisations/{organisation_id}/programmes")
    # By default the programme of the school year under way, as the worklist counts it.
    year = current_school_year(local_today())
    chosen = next((p for p in programmes if p["id"] == str(programme)), None) or next(
        (p for p in programmes if p["school_year"] == year), programmes[0] if programmes else None)
    suggestions, pool, names = None, None, await names_of(s, organisation_id)
    if chosen is not None:
        suggestions, pool = await asyncio.gather(
            s.api.get("/pairing/suggestions", programme_id=chosen["id"]),
            s.api.get(f"/pairing/organisations/{organisation_id}/pool"))
        for side in ("mentors", "mentees"):
            pool[side] = sorted(pool[side], key=lambda p: ru_key(names.get(p["id"])))
    return render(request, "pairing.html", actor=s.actor, org=org, programmes=programmes,
                  programme=chosen, suggestions=suggestions, pool=pool, names=names, current_year=year,
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  error=request.query_params.get("error"))


def group_value(mentor_id: str, mentee_ids: list[str]) -> str:
    return mentor_id + ":" + ",".join(mentee_ids)


templates.env.globals.update(group_value=group_value)


def parse_group(value: str) -> dict[str, Any]:
    mentor, _, mentees = value.partition(":")
    try:
        return {"mentor_id": str(UUID(mentor)), "mentee_ids": [str(UUID(m)) for m in mentees.split(",") if m]}
    except ValueError as exc:
        raise DomainError("INVALID_GROUP", "Неверный выбор пары", 422) from exc


def back_to_board(organisation_id: UUID, programme_id: UUID, message: str) -> Response:
    return RedirectResponse(f"/organisations/{organisation_id}/pairing?programme={programme_id}"
                            "&error=" + quote(message), status_code=303)


async def form_pairs(organisation_id: UUID, programme_id: UUID, formed: int,
                     sent: Awaitable[Any]) -> Response:
    """On to the organisation's pairs once the pairing service has formed them; back to the
    board with its refusal otherwise."""
    try:
        answer = await sent
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return back_to_board(organisation_id, programme_id, exc.message)
    # A mentor of another organisation makes a proposal, not a pair: said apart.
    proposed = len(answer.get("proposed_ids", [])) if "pair_ids" in answer else \
        int(answer.get("status") == "proposed")
    query = f"confirmed={formed - proposed}" + (f"&proposed={proposed}" if proposed else "")
    return RedirectResponse(f"/organisations/{organisation_id}/pairs?{query}", status_code=303)


@router.post("/organisations/{organisation_id}/pairing/confirm")
async def confirm_pairs(organisation_id: UUID, s: Signed, programme_id: Annotated[UUID, Form()],
                        order_ref: Annotated[str, Form(max_length=100)] = "",
                        group: Annotated[list[str] | None, Form()] = None) -> Response:
    if not group:
        return back_to_board(organisation_id, programme_id, "Отметьте хотя бы одну пару")
    return await form_pairs(organisation_id, programme_id, len(group), s.api.post(
        "/pairing/suggestions/confirm", json={"programme_id": str(programme_id), "order_ref": order_ref,
                                              "groups": [parse_group(g) for g in group]}))


@router.post("/organisations/{organisation_id}/pairing/manual")
async def form_group(organisation_id: UUID, s: Signed, programme_id: Annotated[UUID, Form()],
                     mentor_id: Annotated[UUID, Form()],
                     mentee_ids: Annotated[list[UUID] | None, Form()] = None,
                     order_ref: Annotated[str, Form(max_length=100)] = "") -> Response:
    if not mentee_ids:
        return back_to_board(organisation_id, programme_id, "Выберите хотя бы одного наставляемого")
    return await form_pairs(organisation_id, programme_id, 1, s.api.post("/pairing/pairs", json={
        "programme_id": str(programme_id), "mentor_id": str(mentor_id),
        "mentee_ids": [str(m) for m in mentee_ids], "order_ref": order_ref or None}))


@router.get("/organisations/{organisation_id}/pairs")
async def pairs_page(request: Request, organisation_id: UUID, s: Signed,
                     status: Literal["", "active", "completed", "dissolved", "proposed",
                                     "declined"] = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    filed, with_our_mentors, names, proposals = await asyncio.gather(
        s.api.get("/pairing/pairs", organisation_id=str(organisation_id), status=status or None),
        s.api.get("/pairing/pairs", mentor_organisation_id=str(organisation_id),
                  status=status or None),
        names_of(s, organisation_id), s.api.get("/pairing/proposals"))
    # The organisation's own pairs and those of other organisations with its mentors (a
    # confirmed cross-organisation pair is seen by both); proposals are listed apart below.
    pairs = list({p["id"]: p for p in [*filed, *with_our_mentors]
                  if p["status"] not in ("proposed", "declined") or p["status"] == status}.values())
    await name_paired_mentors(s, filed, names)
    pairs = sorted(pairs, key=lambda p: ru_key(names.get(p["mentor_id"])))
    own = str(organisation_id)
    return render(request, "pairs.html", actor=s.actor, org=org, pairs=pairs, names=names,
                  pair_status=status, can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  school_year=current_school_year(datetime.date.fromisoformat(date_today())),
                  incoming=[p for p in proposals["incoming"]
                            if p["mentor_organisation_id"] == own],
                  outgoing=[p for p in proposals["outgoing"] if p["organisation_id"] == own],
                  confirmed=request.query_params.get("confirmed"),
                  proposed=request.query_params.get("proposed"),
                  answered=ANSWERED.get(request.query_params.get("answered") or ""),
                  error=request.query_params.get("error"))


ANSWERED = {"confirmed": "Пара подтверждена: наставник приступает к работе с парой.",
            "declined": "Предложение пары отклонено; организация-инициатор увидит причину."}


async def answer_proposal(request: Request, organisation_id: UUID, pair_id: UUID, s: Signed,
                          answer: Literal["confirm", "decline"], body: dict[str, Any]) -> Response:
    page = f"/organisations/{organisation_id}/pairs"
    try:
        await s.api.post(f"/pairing/pairs/{pair_id}/{answer}", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return see_other(request, page + "?error=" + quote(exc.message))
    return see_other(request, page + "?answered=" + ("confirmed" if answer == "confirm"
                                                      else "declined"))


@router.post("/organisations/{organisation_id}/proposals/{pair_id}/confirm")
async def confirm_proposal(request: Request, organisation_id: UUID, pair_id: UUID,
                           s: Signed) -> Response:
    return await answer_proposal(request, organisation_id, pair_id, s, "confirm", {})


@router.post("/organisations/{organisation_id}/proposals/{pair_id}/decline")
async def decline_proposal(request: Request, organisation_id: UUID, pair_id: UUID, s: Signed,
                           reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    return await answer_proposal(request, organisation_id, pair_id, s, "decline",
                                 {"reason": reason.strip() or None})


@router.post("/organisations/{organisation_id}/pairs-order")
async def issue_pairs_order(request: Request, organisation_id: UUID, s: Signed,
                            school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                            signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                            signatory_name: Annotated[str, Form(min_length=3, max_length=200)],
                            order_number: Annotated[str, Form(max_length=32)] = "",
                            order_date: Annotated[str, Form(max_length=10)] = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    pairs = await s.api.get("/pairing/pairs", organisation_id=str(organisation_id), status="active")
    page = f"/organisations/{organisation_id}/pairs"
    if not pairs:
        return see_other(request, page + "?error=" + quote("Нет действующих пар для приказа"))
    try:
        issued = await s.api.post("/documents/pairs-order", json={
            "org": org["path"], "organisation_name": org["name"], "school_year": school_year,
            "signatory": {"position": signatory_position, "full_name": signatory_name},
            "pairs": [{"pair_id": p["id"], "mentor_id": p["mentor_id"], "mentee_ids": p["mentee_ids"],
                       "form": p["form"]}
                      for p in pairs],
            **given_requisites(order_number, order_date)})
    except ApiError as exc:
        if exc.status == 401:
            raise
        # e.g. a pair with a mentor from another organisation, whose name this user may not read
        return see_other(request, page + "?error=" + quote("Приказ не сформирован: "
                                                           + order_refusal(exc)))
    return see_other(request, f"/organisations/{organisation_id}/documents?issued={issued['id']}")

