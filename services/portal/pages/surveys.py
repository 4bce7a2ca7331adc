"""Monitoring surveys in the portal: the organisation's tally of what is answered and what is
missing, and the questionnaire form a curator fills in (e.g. from a paper answer).

The questionnaires and every answer live in the monitoring service: the portal reads them with
the user's token and sends the answers there, which validates them and records
``SurveyRecorded``; its Russian messages are shown next to the questions they concern.

URLs: ``/surveys``, ``/organisations/{id}/surveys``, ``/pairs/{id}/surveys/{code}`` (a pair
member's form), ``/surveys/{code}`` (the curator's own).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.collation import ru_key
from services.portal.frame import Session, Signed, page_router, render
from services.portal.lookups import name_paired_mentors, names_of, to_own_organisation
from services.portal.survey_status import (
    RESPONDENT_TITLES,
    STAGE_TITLES,
    SURVEYED,
    Expected,
    Stage,
    curator_expected,
    expected_of_pair,
    load_answered,
)
from services.portal.templating import templates
from shared.auth import OrgPath
from shared.errors import DomainError

router = page_router()
templates.env.globals.update(stage_titles=STAGE_TITLES, respondent_titles=RESPONDENT_TITLES)
#: How long the portal waits for an answer it just sent to reach the tally before redirecting.
TALLY_WAIT_SECONDS = 5.0


# --- the organisation's tally --------------------------------------------------------------------

@router.get("/surveys")
async def my_surveys(s: Signed) -> Response:
    return await to_own_organisation(s, "/surveys")


@router.get("/organisations/{organisation_id}/surveys")
async def surveys_page(request: Request, organisation_id: UUID, s: Signed,
                       show: Literal["", "missing"] = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    pairs, names, questionnaires = await asyncio.gather(
        s.api.get("/pairing/pairs", organisation_id=str(organisation_id)),
        names_of(s, organisation_id), s.api.get("/monitoring/questionnaires"))
    await name_paired_mentors(s, pairs, names)
    pairs = sorted((p for p in pairs if p["status"] in SURVEYED),
                   key=lambda p: (p["status"] != "active", ru_key(names.get(p["mentor_id"])), p["id"]))
    by_pair = {p["id"]: expected_of_pair(p, questionnaires, names) for p in pairs}
    own = curator_expected(questionnaires, str(organisation_id))
    every = [e for group in by_pair.values() for e in group] + ([own] if own else [])
    await load_answered(s.api, org["path"], every)
    due = [e for e in every if e.due]
    groups = []
    for pair in pairs:
        rows = [e for e in by_pair[pair["id"]] if show != "missing" or (e.due and not e.done)]
        if rows or show != "missing":
            groups.append((pair, rows))
    writer = s.actor.can_write(OrgPath.parse(org["path"]))
    return render(request, "surveys.html", actor=s.actor, org=org, names=names, own=own, show=show,
                  groups=groups, done=sum(e.done for e in due), total=len(due), writer=writer,
                  can_write=writer,
                  recorded=request.query_params.get("recorded"),
                  pending=request.query_params.get("pending"))


# --- one questionnaire: the form and its answers ---------------------------------------------------

@dataclass
class Target:
    """Whom a questionnaire is filled in for, resolved with the user's own token."""

    org: dict[str, Any]
    questionnaire: dict[str, Any]
    expected: Expected
    pair: dict[str, Any] | None
    back: str
    #: Where the form is sent, when not to the curator's address (a participant's own form).
    action: str | None = None
    #: A participant answering for themselves (the curator's right does not apply).
    own: bool = False


async def questionnaire(s: Session, code: str) -> dict[str, Any]:
    found = next((q for q in await s.api.get("/monitoring/questionnaires") if q["code"] == code), None)
    if found is None:
        raise DomainError("QUESTIONNAIRE_NOT_FOUND", "Анкета не найдена", 404)
    return dict(found)


async def pair_target(s: Session, pair_id: UUID, code: str, stage: str, respondent: UUID) -> Target:
    pair = await s.api.get(f"/pairing/pairs/{pair_id}")  # the pairing service decides who may
    org, names, wanted = await asyncio.gather(
        s.api.get(f"/registry/organisations/{pair['organisation_id']}"),
        names_of(s, pair["organisation_id"]), questionnaire(s, code))
    await name_paired_mentors(s, [pair], names)
    match = next((e for e in expected_of_pair(pair, [wanted], names)
                  if e.respondent_id == str(respondent) and e.stage == stage), None)
    if match is None:
        raise DomainError("SURVEY_NOT_EXPECTED", "Эта анкета не предназначена этому участнику пары", 404)
    return Target(org, wanted, match, pair, f"/pairs/{pair_id}")


async def curator_target(s: Session, code: str, respondent: UUID) -> Target:
    org, wanted = await asyncio.gather(s.api.get(f"/registry/organisations/{respondent}"),
                                       questionnaire(s, code))
    expected = curator_expected([wanted], str(respondent))
    if expected is None or org["kind"] in ("region", "municipality"):
        raise DomainError("SURVEY_NOT_EXPECTED", "Эта анкета заполняется для пары или участника", 404)
    return Target(org, wanted, expected, None, f"/organisations/{respondent}/surveys")


def survey_form(request: Request, s: Session, target: Target, status: int = 200,
                values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                message: str | None = None) -> Response:
    return render(request, "survey.html", status=status, actor=s.actor, t=target,
                  q=target.questionnaire, e=target.expected, values=values or {},
                  errors=errors or {}, message=message,
                  can_write=target.own or s.actor.can_write(OrgPath.parse(target.org["path"])))


async def submit(request: Request, s: Session, target: Target) -> Response:
    form = await request.form()
    values = {q["key"]: str(form.get(f"q_{q['key']}") or "").strip()
              for q in target.questionnaire["question"]}
    # Numbers go as numbers; anything else goes as sent, so the service names what is wrong.
    answers = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in values.items() if v}
    e = target.expected
    body = {"organisation": target.org["path"], "survey": target.questionnaire["code"],
            "stage": e.stage, "respondent_role": e.role, "respondent_id": e.respondent_id,
            "pair_id": e.pair_id, "form": target.pair["form"] if target.pair else None,
            "answers": answers}
    try:
        await s.api.post("/monitoring/surveys", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = {str(d.get("question") or d.get("field", "")): str(d.get("message", ""))
                  for d in exc.details}
        return survey_form(request, s, target, status=exc.status, values=values, errors=errors,
                           message=exc.message)
    flag = "recorded" if await wait_counted(s, target) else "pending"
    return RedirectResponse(f"{target.back}?{flag}={quote(target.questionnaire['code'])}",
                            status_code=303)


async def wait_counted(s: Session, target: Target) -> bool:
    """An answer reaches the tally over the bus within moments: wait for it (briefly), so the
    page the curator returns to already counts it."""
    deadline = time.monotonic() + TALLY_WAIT_SECONDS
    e = target.expected
    while True:
        await load_answered(s.api, target.org["path"], [e])
        if e.done or time.monotonic() > deadline:
            return e.done
        await asyncio.sleep(0.2)


StageQuery = Annotated[Stage, Query()]


@router.get("/pairs/{pair_id}/surveys/{code}")
async def pair_survey_form(request: Request, pair_id: UUID, code: str, stage: StageQuery,
                           respondent: UUID, s: Signed) -> Response:
    return survey_form(request, s, await pair_target(s, pair_id, code, stage, respondent))


@router.post("/pairs/{pair_id}/surveys/{code}")
async def pair_survey_submit(request: Request, pair_id: UUID, code: str, stage: StageQuery,
                             respondent: UUID, s: Signed) -> Response:
    return await submit(request, s, await pair_target(s, pair_id, code, stage, respondent))


@router.get("/surveys/{code}")
async def curator_survey_form(request: Request, code: str, respondent: UUID, s: Signed) -> Response:
    return survey_form(request, s, await curator_target(s, code, respondent))


@router.post("/surveys/{code}")
async def curator_survey_submit(request: Request, code: str, respondent: UUID, s: Signed) -> Response:
    return await submit(request, s, await curator_target(s, code, respondent))
