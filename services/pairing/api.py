"""HTTP routes of the pairing service: they only translate requests into commands and queries."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from services.pairing.application import PairingService
from services.pairing.commands import (
    AnswerProposal,
    ConfirmSuggestions,
    DissolvePair,
    FormPair,
    GoalProgress,
    HoldMeeting,
    Objective,
    Scope,
    SetGoal,
    SetProfile,
    SubmitFeedback,
)
from shared.errors import DomainError
from shared.web import Context, CurrentActor


async def pairing_service(request: Request) -> PairingService:
    return request.app.state.pairing


Pairing = Annotated[PairingService, Depends(pairing_service)]
router = APIRouter(prefix="/pairing", tags=["pairing"])


async def scope_query(programme_id: UUID | None = None, municipality_id: UUID | None = None,
                form: Annotated[str | None, Query(min_length=2, max_length=64)] = None) -> Scope:
    if programme_id is None and (municipality_id is None or form is None):
        raise DomainError("SCOPE_REQUIRED", "Укажите программу (programme_id) или муниципалитет "
                          "с формой наставничества (municipality_id и form)", 422)
    try:
        return Scope(programme_id=programme_id, municipality_id=municipality_id, form=form)
    except ValidationError as exc:  # e.g. a form that is blank once trimmed: the caller's mistake
        raise DomainError("INVALID_SCOPE", "Неверная форма наставничества: от 2 до 64 значащих "
                          "символов", 422) from exc


ScopeQuery = Annotated[Scope, Depends(scope_query)]


@router.get("/suggestions")
def suggestions(scope: ScopeQuery, actor: CurrentActor, pairing: Pairing,
                objective: Objective | None = None) -> dict[str, Any]:
    """Optimal pairs and groups for a programme or a municipality, each with its criteria."""
    return pairing.suggestions(actor, scope, objective)


@router.get("/suggestions/stable")
def stable_suggestions(scope: ScopeQuery, actor: CurrentActor, pairing: Pairing) -> dict[str, Any]:
    """A stable matching (deferred acceptance) on the preferences both sides named."""
    return pairing.stable_suggestions(actor, scope)


@router.post("/suggestions/confirm", status_code=201)
def confirm(cmd: ConfirmSuggestions, ctx: Context, pairing: Pairing) -> dict[str, list[str]]:
    """A group with another organisation's mentor becomes a proposal (in ``proposed_ids``)."""
    return pairing.confirm_answer(ctx, cmd)


@router.get("/unpaired")
def unpaired(scope: ScopeQuery, actor: CurrentActor, pairing: Pairing) -> list[dict[str, Any]]:
    return pairing.unpaired(actor, scope)


@router.get("/organisations/{organisation_id}/pool")
def pool(organisation_id: UUID, actor: CurrentActor, pairing: Pairing) -> dict[str, Any]:
    return pairing.pool(actor, organisation_id)


@router.put("/people/{person_id}/profile", status_code=204)
def set_profile(person_id: UUID, cmd: SetProfile, ctx: Context, pairing: Pairing) -> Response:
    pairing.set_profile(ctx, person_id, cmd)
    return Response(status_code=204)


@router.post("/pairs", status_code=201)
def form_pair(cmd: FormPair, ctx: Context, pairing: Pairing) -> dict[str, str]:
    """With another organisation's mentor the pair is a proposal (``status: proposed``) that
    organisation's curator confirms or declines."""
    return pairing.form_pair_answer(ctx, cmd)


@router.get("/proposals")
def proposals(actor: CurrentActor, pairing: Pairing) -> dict[str, list[dict[str, Any]]]:
    """Proposals of pairs to answer (``incoming``) and one's own waiting or declined ones."""
    return pairing.proposals(actor)


@router.post("/pairs/{pair_id}/confirm", status_code=204)
def confirm_proposal(pair_id: UUID, ctx: Context, pairing: Pairing) -> Response:
    pairing.confirm_proposal(ctx, pair_id)
    return Response(status_code=204)


@router.post("/pairs/{pair_id}/decline", status_code=204)
def decline_proposal(pair_id: UUID, cmd: AnswerProposal, ctx: Context,
                     pairing: Pairing) -> Response:
    pairing.decline_proposal(ctx, pair_id, cmd)
    return Response(status_code=204)


@router.get("/pairs")
def list_pairs(actor: CurrentActor, pairing: Pairing, organisation_id: UUID | None = None,
               status: Literal["proposed", "active", "completed", "dissolved", "declined"]
               | None = None,
               mentor_id: UUID | None = None,
               mentor_organisation_id: UUID | None = None) -> list[dict[str, Any]]:
    return pairing.list_pairs(actor, organisation_id, status, mentor_id, mentor_organisation_id)


@router.get("/pairs/{pair_id}")
def get_pair(pair_id: UUID, actor: CurrentActor, pairing: Pairing) -> dict[str, Any]:
    return pairing.get_pair(actor, pair_id)


@router.post("/pairs/{pair_id}/goals", status_code=201)
def set_goal(pair_id: UUID, cmd: SetGoal, ctx: Context, pairing: Pairing) -> dict[str, str]:
    return {"goal_id": str(pairing.set_goal(ctx, pair_id, cmd))}


@router.post("/pairs/{pair_id}/goals/{goal_id}/progress", status_code=204)
def mark_goal(pair_id: UUID, goal_id: UUID, cmd: GoalProgress, ctx: Context,
              pairing: Pairing) -> Response:
    pairing.mark_goal(ctx, pair_id, goal_id, cmd)
    return Response(status_code=204)


@router.post("/pairs/{pair_id}/meetings", status_code=201)
def hold_meeting(pair_id: UUID, cmd: HoldMeeting, ctx: Context, pairing: Pairing) -> dict[str, int]:
    return {"number": pairing.hold_meeting(ctx, pair_id, cmd)}


@router.post("/pairs/{pair_id}/feedback", status_code=201)
def submit_feedback(pair_id: UUID, cmd: SubmitFeedback, ctx: Context,
                    pairing: Pairing) -> dict[str, str]:
    return {"side": pairing.submit_feedback(ctx, pair_id, cmd)}


@router.get("/pairs/{pair_id}/meetings/{number}/feedback")
def feedback(pair_id: UUID, number: int, actor: CurrentActor,
             pairing: Pairing) -> list[dict[str, Any]]:
    return pairing.feedback(actor, pair_id, number)


@router.post("/pairs/{pair_id}/complete", status_code=204)
def complete(pair_id: UUID, ctx: Context, pairing: Pairing) -> Response:
    pairing.complete(ctx, pair_id)
    return Response(status_code=204)


@router.post("/pairs/{pair_id}/dissolve")
def dissolve(pair_id: UUID, cmd: DissolvePair, ctx: Context, pairing: Pairing) -> dict[str, Any]:
    return {"returned_mentee_ids": [str(m) for m in pairing.dissolve(ctx, pair_id, cmd)]}


@router.get("/reminders")
def reminders(actor: CurrentActor, pairing: Pairing,
              days: Annotated[int | None, Query(ge=1, le=365)] = None) -> list[dict[str, Any]]:
    """Active pairs with no meeting for N days (the configured period when not given)."""
    return pairing.reminders(actor, days)
