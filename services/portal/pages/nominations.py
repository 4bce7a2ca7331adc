"""«Наставник года»: a school's curator nominates one of its mentors with a justification; the
municipality shortlists and decides its stage, the region then decides among the municipal
winners; the judge of a stage issues the award order and thanks letters of its winners from the
decisions. The documents service keeps the contest and decides who may do what
(``/documents/nominations…``); this page offers each role its part. The winners are shown in
the bank of best practices (``winners``).

URLs: ``/nominations`` (``?year=``), ``/nominations/{id}/decision``, ``/nominations/awards``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Form, Query, Request, Response

from services.portal import navigation
from services.portal.client import ApiError
from services.portal.frame import Session, Signed, page_router, render, see_other
from services.portal.lookups import current_school_year, own_organisation, person_label
from services.portal.pages.awards import issuer, requisites
from services.portal.templating import templates
from shared.localtime import local_today

router = page_router()
STATUSES = {"nominated": "выдвинут", "shortlisted": "в коротком списке муниципалитета",
            "municipal_winner": "победитель муниципального этапа",
            "region_shortlisted": "в коротком списке региона",
            "winner": "победитель регионального этапа", "declined": "не прошёл отбор"}
#: What a judge may decide at each status of the stage it judges, with the button's words.
DECISIONS = {"shortlisted": "В короткий список", "winner": "Признать победителем",
             "declined": "Не проходит отбор"}
DONE = {"nominated": "Наставник выдвинут на конкурс", "shortlisted": "Выдвижение включено в короткий список",
        "winner": "Наставник признан победителем этапа", "declined": "Выдвижение не прошло отбор",
        "award_order": "Приказ о награждении победителей сформирован",
        "thanks_letters": "Благодарственные письма победителям сформированы"}
templates.env.globals.update(nomination_statuses=STATUSES)


def stage_of(nomination: dict[str, Any]) -> str | None:
    """The stage judging it now (as ``domain.Nomination.stage``), or None once decided for good."""
    municipal, regional = nomination["decisions"]["municipality"], nomination["decisions"]["region"]
    if municipal in (None, "shortlisted"):
        return "municipality"
    return "region" if municipal == "winner" and regional in (None, "shortlisted") else None


def judged_by(actor_stage: str | None, nomination: dict[str, Any]) -> list[tuple[str, str]]:
    """The decisions the user may take on it now: at the user's own stage only."""
    stage = stage_of(nomination)
    if actor_stage is None or stage != actor_stage:
        return []
    shortlisted = nomination["decisions"][stage] == "shortlisted"
    return [(k, v) for k, v in DECISIONS.items() if not (shortlisted and k == "shortlisted")]


async def name_of(s: Session, person_id: str) -> str:
    """The registry's name for the user (each read is an access to personal data, so only the
    nominees shown are read); a nominee the user may not read is not named."""
    try:
        return person_label(await s.api.get(f"/registry/people/{person_id}"))
    except ApiError:
        return "наставник (имя недоступно)"


async def named(s: Session, nominations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    organisations = {o["path"]: o["name"] for o in await s.api.get("/registry/organisations")}
    names = await asyncio.gather(*(name_of(s, n["mentor_id"]) for n in nominations))
    return [{**n, "name": name, "organisation": organisations.get(n["path"], "организация другой территории"),
             "status_title": STATUSES.get(n["status"], n["status"])}
            for n, name in zip(nominations, names, strict=True)]


async def winners(s: Session) -> list[dict[str, Any]]:
    """Every stage's winners for the bank of best practices, regional winners first."""
    found = await named(s, await s.api.get("/documents/nominations/winners"))
    return sorted(found, key=lambda n: (n["school_year"], n["status"] == "winner"), reverse=True)


@router.get("/nominations")
async def nominations_page(request: Request, s: Signed,
                           year: Annotated[str | None, Query(pattern=r"^\d{4}-\d{4}$")] = None) -> Response:
    school_year = year or current_school_year(local_today())
    nominations = await named(s, await s.api.get("/documents/nominations", school_year=school_year))
    stage = navigation.judges_stage(s.actor)
    mentors: list[dict[str, Any]] = []
    if navigation.nominates_mentors(s.actor):
        own = await own_organisation(s)
        mentors = [p for p in await s.api.get(f"/registry/organisations/{own['id']}/people", role="mentor")
                   if p.get("full_name") and not p.get("withdrawn")]
    rows = [{**n, "decisions_open": judged_by(stage, n)} for n in nominations]
    return render(request, "nominations.html", actor=s.actor, school_year=school_year, rows=rows,
                  mentors=mentors, stage=stage, issues=stage is not None,
                  done=DONE.get(request.query_params.get("done") or ""))


@router.post("/nominations")
async def nominate(request: Request, s: Signed, mentor_id: Annotated[UUID, Form()],
                   school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                   justification: Annotated[str, Form(min_length=20, max_length=1000)]) -> Response:
    await s.api.post("/documents/nominations", json={
        "org": str(s.actor.scope), "mentor_id": str(mentor_id), "school_year": school_year,
        "justification": justification.strip()})
    return see_other(request, f"/nominations?year={school_year}&done=nominated")


@router.post("/nominations/{nomination_id}/decision")
async def decide(request: Request, nomination_id: UUID, s: Signed,
                 stage: Annotated[Literal["municipality", "region"], Form()],
                 decision: Annotated[Literal["shortlisted", "winner", "declined"], Form()],
                 school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                 comment: Annotated[str, Form(max_length=2000)] = "") -> Response:
    await s.api.post(f"/documents/nominations/{nomination_id}/decision",
                     json={"stage": stage, "decision": decision, "comment": comment.strip()})
    return see_other(request, f"/nominations?year={school_year}&done={decision}")


@router.post("/nominations/awards")
async def awards(request: Request, s: Signed, what: Annotated[Literal["order", "letters"], Form()],
                 school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                 signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                 signatory_name: Annotated[str, Form(min_length=3, max_length=200)],
                 place: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The award order (or the letters) of the user's stage, from its decisions."""
    org = await issuer(s)
    body = {**requisites(org, signatory_position, signatory_name, place), "school_year": school_year}
    if what == "order":
        await s.api.post("/documents/nominations/award-order", json=body)
        return see_other(request, "/territory/documents?issued=award_order")
    await s.api.post("/documents/nominations/thanks-letters", json=body)
    return see_other(request, "/territory/documents?issued=thanks_letter")
