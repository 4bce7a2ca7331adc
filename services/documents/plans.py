"""A pair's individual development plan (персонализированная программа наставничества) as a
document: its recipe, made from what the pairing service holds, and its rendering.

The plan prints the pair's goals, which the pairing service keeps sealed (they are free text and
may name the members). The documents service asks pairing for them over NATS for the acting user
(signed claims; the reply is sealed to this service), so pairing decides what that user may read,
exactly as on the pair's page. The recipe keeps the members by id and the goals as they stood at
issue — a plan, once issued and signed, does not change under its number — and, since it names
the members, a withdrawal of any of them erases it (``erasure``), as it erases the goals in
pairing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from uuid import UUID

from pydantic import Field

from services.documents import templates
from services.documents.commands import Body, DevelopmentPlanIn, IssueIn
from services.documents.peers import Peers
from shared.auth import Actor, OrgPath
from shared.contracts import PersonNames
from shared.errors import DomainError


class PlanGoal(Body):
    title: str = Field(max_length=500)
    due: date | None = None
    status: str = Field(max_length=20)


class DevelopmentPlanRecipe(IssueIn):
    """What a development plan is rendered from (``plan_recipe`` makes it from a request)."""

    pair_id: UUID
    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    mentor_id: UUID
    mentee_ids: list[UUID] = Field(min_length=1, max_length=30)
    form: str = Field(min_length=2, max_length=200)
    formed_on: date | None = None
    goals: list[PlanGoal] = Field(default_factory=list, max_length=200)


async def plan_recipe(peers: Peers, actor: Actor, path: OrgPath,
                      request: DevelopmentPlanIn) -> DevelopmentPlanRecipe:
    """The plan's recipe from the pair as pairing has it for this user, or a refusal: a pair
    the user may not read is «not found», as if it did not exist."""
    found = await peers.pairs(actor, [request.pair_id], with_goals=True)
    pair = found.pairs.get(str(request.pair_id))
    if pair is None:
        raise DomainError("PAIR_NOT_FOUND", "Пара (группа) не найдена в подборе пар или вне вашей "
                          "зоны доступа; план развития не сформирован", 404,
                          details=[{"pair_id": str(request.pair_id)}])
    if not path.contains(OrgPath.parse(pair.path)):
        raise DomainError("PAIR_OF_ANOTHER_ORGANISATION", "Пара (группа) относится к другой "
                          "организации: план развития оформляет организация, в которой "
                          "сформирована пара", 422, details=[{"pair_id": str(request.pair_id)}])
    return DevelopmentPlanRecipe.model_validate({
        **request.model_dump(mode="json"), "mentor_id": str(pair.mentor_id),
        "mentee_ids": [str(m) for m in pair.mentee_ids], "form": pair.form_title,
        "formed_on": pair.formed_on.isoformat() if pair.formed_on else None,
        "goals": [g.model_dump(mode="json") for g in pair.goals]})


def plan_people(body: DevelopmentPlanRecipe) -> list[UUID]:
    return [body.mentor_id, *body.mentee_ids]


def render_plan(body: DevelopmentPlanRecipe, names: Mapping[UUID, PersonNames], number: str,
                day: date) -> bytes:
    def member(role: str, person_id: UUID) -> templates.Member:
        person = names[person_id]
        return templates.Member(role, person.full_name, person.pseudonymous)

    members = [member("Наставник", body.mentor_id),
               *(member("Наставляемый", m) for m in body.mentee_ids)]
    goals = [templates.PlanGoalRow(g.title, g.due, g.status) for g in body.goals]
    return templates.development_plan(body.requisites(number, day), members, body.form,
                                      body.school_year, body.formed_on, goals)
