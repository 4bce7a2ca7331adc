"""The bank of best practices and «Наставник года», as one part of the documents service layer
(``application.DocumentsService`` is built on it): rights checked once through the policy of
``shared.auth``, then the rule of the aggregate, the event stored, the view caught up.

A school's curator puts a practice forward or nominates one of its mentors; the level above
publishes or rejects the practice; the municipality, then the region, judges the nominations.
The judge of a stage issues the award order and the thanks letters of that stage's winners from
its decisions, so no winner is typed twice; the winners are open to everyone, as the bank is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.documents import views
from services.documents.commands import (
    AwardIn,
    AwardOrderIn,
    IssueIn,
    NominationAwardsIn,
    NominationDecisionIn,
    NominationIn,
    PracticeIn,
    ReviewIn,
    ThanksLetterIn,
    parse_path,
)
from services.documents.domain import Nomination, NominationStage, Practice
from services.documents.peers import Peers
from shared.auth import (
    Actor,
    OrgPath,
    require_issuer,
)
from shared.auth_recognition import (
    require_nomination_judge,
    require_nominator,
    require_practice_author,
    require_practice_reviewer,
)
from shared.errors import DomainError, not_found
from shared.store import CommandContext, EventSourcedService

#: How a stage's winners are named in its award order and letters.
STAGE_TITLES = {"municipality": "муниципального этапа", "region": "регионального этапа"}
AWARD = "наградить дипломом победителя конкурса «Наставник года»"


class BankDesk(EventSourcedService):
    peers: Peers
    #: ``DocumentsService.issue``: numbers, renders with the registry's names and registers.
    issue: Callable[[CommandContext, str, IssueIn], Awaitable[dict[str, Any]]]

    # --- the bank of best practices ----------------------------------------------------------

    def submit_practice(self, ctx: CommandContext, offer: PracticeIn) -> dict[str, Any]:
        path = parse_path(offer.org)
        require_practice_author(ctx.actor, path)
        practice = Practice(practice_id=uuid4(), form=offer.form, tags=normalise_tags(offer.tags),
                            title=offer.title, description=offer.description,
                            submitted_by=ctx.actor.user, meta=ctx.meta(path))
        with self._lock:
            self._save(practice)
        return self.get_practice(ctx.actor, practice.id)

    def review_practice(self, ctx: CommandContext, practice_id: UUID,
                        review: ReviewIn) -> dict[str, Any]:
        row = self._practice_row(practice_id)
        path = OrgPath.parse(row.path)
        require_practice_reviewer(ctx.actor, path)
        with self._lock:
            practice: Practice = self.events.repository.get(practice_id)
            practice.review(review.decision == "publish", review.comment, ctx.meta(path))
            self._save(practice)
        return self.get_practice(ctx.actor, practice_id)

    def _practice_row(self, practice_id: UUID) -> sa.Row[Any]:
        row = views.find(self.engine, views.practices, practice_id)
        if row is None:
            raise not_found("Практика", "PRACTICE_NOT_FOUND")
        return row

    def get_practice(self, actor: Actor, practice_id: UUID) -> dict[str, Any]:
        row = self._practice_row(practice_id)
        if row.status != "published" and not actor.can_read(OrgPath.parse(row.path)):
            raise not_found("Практика", "PRACTICE_NOT_FOUND")
        return views.practice_json(row)

    def search_practices(self, actor: Actor, form: str | None = None, tag: str | None = None,
                         text: str | None = None, status: str = "published") -> list[dict[str, Any]]:
        """Published practices are open to everyone; others only inside the actor's scope."""
        query = sa.select(views.practices).where(views.practices.c.status == status)
        if form:
            query = query.where(views.practices.c.form == form)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(views.practices.c.title)).all()
        wanted_tag = tag.strip().lower() if tag else None
        needle = text.strip().lower() if text else None
        return [views.practice_json(r) for r in rows
                if (status == "published" or actor.can_read(OrgPath.parse(r.path)))
                and (wanted_tag is None or wanted_tag in r.tags)
                and (needle is None or needle in f"{r.title} {r.description}".lower())]

    # --- «Наставник года» --------------------------------------------------------------------

    async def nominate(self, ctx: CommandContext, offer: NominationIn) -> dict[str, Any]:
        """The mentor must be one the registry shows this curator as a mentor of the school."""
        path = parse_path(offer.org)
        require_nominator(ctx.actor, path)
        found = await self.peers.names(ctx.actor, [offer.mentor_id])
        person = found.people.get(str(offer.mentor_id))
        if person is None or person.role != "mentor":
            raise DomainError("PERSON_NOT_FOUND", "Наставник не найден в базе вашей организации", 404)
        return await asyncio.to_thread(self._nominate_once, ctx, path, offer)

    def _nominate_once(self, ctx: CommandContext, path: OrgPath, offer: NominationIn) -> dict[str, Any]:
        """One nomination of a mentor a school year: the view is checked and the nomination
        saved under one lock on exactly that (school, mentor, year), so a second attempt at once
        (another request, another replica) waits, then finds the first and is refused."""
        scope = f"{path}/nominations/{offer.mentor_id}/{offer.school_year}"
        with self.exclusive(scope):
            if self._nominated(path, offer.mentor_id, offer.school_year):
                raise DomainError("ALREADY_NOMINATED",
                                  "Этот наставник уже выдвинут на конкурс этого учебного года", 409)
            nomination = Nomination(nomination_id=uuid4(), mentor_id=offer.mentor_id,
                                    school_year=offer.school_year,
                                    justification=offer.justification, meta=ctx.meta(path))
            self._save(nomination)
        return self.get_nomination(ctx.actor, nomination.id)

    def _nominated(self, path: OrgPath, mentor_id: UUID, school_year: str) -> bool:
        table = views.nominations
        with self.engine.connect() as conn:
            return conn.execute(sa.select(table.c.id).where(
                table.c.path == str(path), table.c.mentor_id == mentor_id,
                table.c.school_year == school_year)).first() is not None

    def decide_nomination(self, ctx: CommandContext, nomination_id: UUID,
                          decision: NominationDecisionIn) -> dict[str, Any]:
        row = self._nomination_row(ctx.actor, nomination_id)
        path = OrgPath.parse(row.path)
        require_nomination_judge(ctx.actor, path, decision.stage)
        with self._lock:
            nomination: Nomination = self.events.repository.get(nomination_id)
            nomination.decide(decision.stage, decision.decision, decision.comment, ctx.meta(path))
            self._save(nomination)
        return self.get_nomination(ctx.actor, nomination_id)

    def _nomination_row(self, actor: Actor, nomination_id: UUID) -> sa.Row[Any]:
        return self._readable_row(actor, views.nominations, nomination_id, "Выдвижение",
                                  "NOMINATION_NOT_FOUND")

    def _readable_row(self, actor: Actor, table: sa.Table, row_id: UUID, what: str,
                      code: str) -> sa.Row[Any]:
        """The row, if it exists and the actor may read its place; one refusal for both cases,
        so that an address out of reach does not tell whether it exists."""
        row = views.find(self.engine, table, row_id)
        if row is None or not actor.can_read(OrgPath.parse(row.path)):
            raise not_found(what, code)
        return row

    def get_nomination(self, actor: Actor, nomination_id: UUID) -> dict[str, Any]:
        return views.nomination_json(self._nomination_row(actor, nomination_id))

    def list_nominations(self, actor: Actor, under: OrgPath | None = None,
                         school_year: str | None = None) -> list[dict[str, Any]]:
        """The nominations inside the actor's territory (or ``under`` it), newest year first."""
        scope = under or actor.scope
        actor.require_read(scope)
        return [views.nomination_json(r) for r in self._nomination_rows(scope, school_year)]

    def winners(self, school_year: str | None = None) -> list[dict[str, Any]]:
        """Every stage's winners, open to all like the bank (ids and the justification only)."""
        return [{**views.nomination_json(r), "comment": None}
                for r in self._nomination_rows(None, school_year)
                if r.municipality == "winner"]

    def _nomination_rows(self, scope: OrgPath | None, school_year: str | None) -> list[sa.Row[Any]]:
        table = views.nominations
        query = sa.select(table).order_by(table.c.school_year.desc(), table.c.path)
        if school_year:
            query = query.where(table.c.school_year == school_year)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [r for r in rows if scope is None or scope.contains(OrgPath.parse(r.path))]

    def _stage_winners(self, ctx: CommandContext, body: NominationAwardsIn
                       ) -> tuple[NominationStage, list[sa.Row[Any]]]:
        """The judge's stage (by the level of the issuer) and its winners of the year."""
        path = parse_path(body.org)
        require_issuer(ctx.actor, path)
        if path.organisation is not None:
            raise DomainError("NOT_A_JUDGE", "Приказ по итогам конкурса издаёт муниципалитет или регион", 422)
        stage: NominationStage = "municipality" if path.municipality else "region"
        rows = [r for r in self._nomination_rows(path, body.school_year)
                if getattr(r, stage) == "winner"]
        if not rows:
            raise DomainError("NO_WINNERS", f"Победителей {STAGE_TITLES[stage]} конкурса "
                              f"{body.school_year} учебного года ещё нет", 422)
        return stage, rows

    async def issue_nomination_order(self, ctx: CommandContext,
                                     body: NominationAwardsIn) -> dict[str, Any]:
        """The award order of the stage's winners, from the decisions."""
        stage, rows = self._stage_winners(ctx, body)
        merit = f"победитель {STAGE_TITLES[stage]} конкурса «Наставник года»"
        order = AwardOrderIn(**body.model_dump(), awards=[
            AwardIn(mentor_id=r.mentor_id, merit=merit, award=AWARD) for r in rows])
        return await self.issue(ctx, "award_order", order)

    async def issue_nomination_letters(self, ctx: CommandContext,
                                       body: NominationAwardsIn) -> list[dict[str, Any]]:
        """A thanks letter to each of the stage's winners."""
        stage, rows = self._stage_winners(ctx, body)
        text = (f"Благодарим Вас за преданность делу наставничества и поздравляем с победой "
                f"{STAGE_TITLES[stage]} конкурса «Наставник года» {body.school_year} учебного года. "
                "Ваш опыт помогает молодым людям найти свой путь.")
        fields = body.model_dump(exclude={"school_year"})
        return [await self.issue(ctx, "thanks_letter",
                                 ThanksLetterIn(**fields, person_id=r.mentor_id, text=text))
                for r in rows]


def normalise_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
