"""The pairing's service layer: suggestions from the pools, pairs and groups, plans, meetings,
feedback, completion and dissolution. Each command checks rights (through the policy of
``shared.auth``) and every hard rule before anything is stored, stores its events atomically,
catches the local view up and wakes the relay. The queries are in ``queries.py``, what they read
of the pools in ``pool_reader.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.pairing import pools, views
from services.pairing.commands import (
    AnswerProposal,
    ConfirmSuggestions,
    DissolvePair,
    FormPair,
    GoalProgress,
    GroupChoice,
    HoldMeeting,
    SetGoal,
    SetProfile,
    SubmitFeedback,
)
from services.pairing.config import PairingConfig, load_config
from services.pairing.domain import CONSENT_REASON, Pair, check_new_pair
from services.pairing.legacy_text import erase_legacy_text, erase_legacy_text_of_withdrawn
from services.pairing.matching import Exclusion, Form, score_pair
from services.pairing.matching.domain import CATEGORY_NOT_ALLOWED, NO_CAPACITY
from services.pairing.pool_reader import ResolvedScope
from services.pairing.queries import PairingQueries
from services.pairing.vault import PairingVault
from shared.auth import (
    Actor,
    OrgPath,
    pair_needs_agreement,
    participant_id,
    require_pair_ender,
    require_pair_member_or_keeper,
    require_proposal_answerer,
    system_actor,
)
from shared.errors import DomainError, conflict, forbidden, not_found
from shared.localtime import today_in
from shared.logging import get_logger
from shared.settings import Settings
from shared.store import CommandContext, EventSourcedService, ServiceApplication, view_engine
from shared.titles import category_title

log = get_logger(__name__)


class PairingStore(ServiceApplication):
    name = "Pairing"
    source = "pairing"


def people_scopes(groups: Sequence[GroupChoice]) -> list[str]:
    """The units the forming rules hold on: each mentee's one pair, each mentor's places."""
    return [*(f"mentor:{g.mentor_id}" for g in groups),
            *(f"mentee:{m}" for g in groups for m in g.mentee_ids)]


def exclusion_error(exclusion: Exclusion) -> DomainError:
    status = 409 if exclusion.code == NO_CAPACITY else 422
    return DomainError(exclusion.code, exclusion.reason_ru, status)


class PairingService(PairingQueries, EventSourcedService):
    def __init__(self, settings: Settings, today: Callable[[], date] | None = None,
                 config: PairingConfig | None = None, *, events: ServiceApplication | None = None,
                 engine: sa.Engine | None = None) -> None:
        """``events`` and ``engine``: another event store and view database (in memory, for the
        service layer's own tests); by default those the settings name."""
        self.settings = settings
        # The region's date, not the server's (a UTC server is a day behind after 21:00 MSK).
        self.today = today or today_in(settings.zone)
        self.config = config or load_config(Path(settings.pairing_config) if settings.pairing_config
                                            else None)
        # secure_delete: a destroyed person key must not stay readable in the database file.
        super().__init__(events or PairingStore(settings),
                         engine or view_engine(settings, "pairing", secure_delete=True), views)
        self.vault = PairingVault(self.engine, settings.secrets_dir)
        views.create_tables(self.engine)
        pools.create_tables(self.engine)
        self.catch_up()
        with self.engine.begin() as conn:
            views.fill_mentor_organisations(conn)
        # Whoever withdrew before clear texts were erased on withdrawal: caught up once here.
        erase_legacy_text_of_withdrawn(self.events, self.engine)

    # --- forming pairs ----------------------------------------------------------------------

    def confirm(self, ctx: CommandContext, cmd: ConfirmSuggestions) -> list[UUID]:
        resolved = self.resolve_scope(cmd)
        if resolved is None:
            raise DomainError("SCOPE_REQUIRED", "Укажите программу или муниципалитет", 422)
        return self._form_pairs(ctx, resolved, resolved.form, cmd.groups, cmd.order_ref,
                                suggested=True, formed_on=cmd.formed_on)

    def confirm_answer(self, ctx: CommandContext, cmd: ConfirmSuggestions) -> dict[str, list[str]]:
        """The pairs formed and, among them, the proposals sent to mentors' organisations."""
        ids = self.confirm(ctx, cmd)
        return {"pair_ids": [str(i) for i in ids],
                "proposed_ids": [str(i) for i in ids if self._pair_row(i).status == "proposed"]}

    def form_pair(self, ctx: CommandContext, cmd: FormPair) -> UUID:
        resolved = self.resolve_scope(cmd)
        form = resolved.form if resolved else self.form_of(cmd.form or "")
        group = GroupChoice(mentor_id=cmd.mentor_id, mentee_ids=cmd.mentee_ids)
        return self._form_pairs(ctx, resolved, form, [group], cmd.order_ref, suggested=False,
                                formed_on=cmd.formed_on)[0]

    def form_pair_answer(self, ctx: CommandContext, cmd: FormPair) -> dict[str, str]:
        """The new pair's id and status: ``proposed`` when another organisation's mentor was
        named (that organisation answers), else ``active``."""
        pair_id = self.form_pair(ctx, cmd)
        return {"id": str(pair_id), "status": self._pair_row(pair_id).status}

    def _form_pairs(self, ctx: CommandContext, scope: ResolvedScope | None, form: Form,
                    groups: Sequence[GroupChoice], order_ref: str | None,
                    suggested: bool, formed_on: date | None = None) -> list[UUID]:
        """All groups or none: every hard rule is checked for every member before one is stored.

        ``formed_on`` records pairs formed earlier by an order (their meetings may then be dated
        from that day); never a day still to come.
        """
        if formed_on is not None and formed_on > self.today():
            raise DomainError("FORMED_IN_FUTURE", f"Пара не может быть сформирована заранее: "
                              f"{formed_on:%d.%m.%Y} ещё не наступило", 422)
        # The mentee-not-paired and free-places rules read the view: caught up, under a lock
        # of each mentee and mentor named, the rows they read stay theirs until the save.
        # Commands on other people run meanwhile, on this replica and the others.
        with self.exclusive(*people_scopes(groups)):
            groups = self._one_organisation_each(ctx.actor, groups, split=suggested)
            mentor_ids = list({g.mentor_id for g in groups})
            mentee_ids = [m for g in groups for m in g.mentee_ids]
            if len(set(mentee_ids)) != len(mentee_ids):
                raise DomainError("DUPLICATE_MENTEE", "Один наставляемый указан дважды", 422)
            with self.engine.connect() as conn:
                mentor_rows = {r.id: r for r in conn.execute(
                    sa.select(pools.mentors).where(pools.mentors.c.id.in_(mentor_ids)))}
                mentee_rows = {r.id: r for r in conn.execute(
                    sa.select(pools.mentees).where(pools.mentees.c.id.in_(mentee_ids)))}
                paired = self._paired(conn, mentee_ids)
                loads = self._loads(conn, mentor_ids)
                profiles = self._profiles(conn, mentor_ids + mentee_ids)
                withdrawn = self._withdrawn(conn, mentor_ids + mentee_ids)
            today = (formed_on or self.today()).isoformat()
            pairs: list[Pair] = []
            for group in groups:
                check_new_pair(group.mentor_id, group.mentee_ids)
                mentor_row = mentor_rows.get(group.mentor_id)
                if mentor_row is None:
                    raise not_found("Наставник", "MENTOR_NOT_FOUND")
                rows = []
                for mentee_id in group.mentee_ids:
                    row = mentee_rows.get(mentee_id)
                    if row is None:
                        raise not_found("Наставляемый", "MENTEE_NOT_FOUND")
                    rows.append(row)
                if scope is not None:
                    path, organisation_id = scope.path, scope.organisation_id or rows[0].organisation_id
                    if scope.organisation_id is None:
                        path = OrgPath.parse(rows[0].path)
                else:
                    path, organisation_id = OrgPath.parse(rows[0].path), rows[0].organisation_id
                ctx.actor.require_write(path)
                if not self._mentor_reaches(path, mentor_row):
                    if not ctx.actor.can_read(OrgPath.parse(mentor_row.path)):
                        raise not_found("Наставник", "MENTOR_NOT_FOUND")
                    raise DomainError("MENTOR_OUT_OF_SCOPE", "Наставник не относится к "
                                      "муниципалитету пары и не является партнёром региона", 422)
                load = loads.get(group.mentor_id, 0)
                mentor = self._mentor_profile(mentor_row, profiles.get(mentor_row.id), load,
                                              mentor_row.id in withdrawn)
                if mentor is None:
                    raise DomainError(CATEGORY_NOT_ALLOWED, f"Категория наставника "
                                      f"«{category_title(mentor_row.category)}» не участвует в подборе", 422)
                total = 0
                for row in rows:
                    if scope is not None and not self._in_scope(scope, row):
                        raise DomainError("MENTEE_OUT_OF_SCOPE", "Наставляемый не относится к "
                                          "этой программе или территории", 422)
                    if row.id in paired:
                        raise conflict("MENTEE_ALREADY_PAIRED",
                                       "Наставляемый уже состоит в действующей паре (группе)")
                    mentee = self._mentee_profile(row, profiles.get(row.id), row.id in withdrawn)
                    if mentee is None:
                        raise DomainError(CATEGORY_NOT_ALLOWED, f"Категория наставляемого "
                                          f"«{category_title(row.category)}» не участвует в подборе", 422)
                    score = score_pair(mentee, mentor, form, self.config.weights)
                    if isinstance(score, Exclusion):
                        raise exclusion_error(score)
                    total += score.total_milli
                fields = {"programme_id": scope.programme_id if scope else None,
                          "organisation_id": organisation_id, "form": form.code,
                          "mentor_id": group.mentor_id, "mentee_ids": list(group.mentee_ids),
                          "order_ref": order_ref, "suggested": suggested,
                          "score": total / 1000, "formed_on": today, "meta": ctx.meta(path)}
                if pair_needs_agreement(ctx.actor, mentor_row.organisation_id == organisation_id,
                                        OrgPath.parse(mentor_row.path)):
                    # Another organisation's person: a proposal, which takes no place of the
                    # mentor until that organisation confirms (the places are checked then).
                    pairs.append(Pair.propose(
                        mentor_organisation_id=mentor_row.organisation_id, **fields))
                    continue
                free = mentor_row.capacity - load
                if len(rows) > free:
                    raise conflict(NO_CAPACITY, f"У наставника нет столько свободных мест: мест "
                                   f"{mentor_row.capacity}, занято {load}, "
                                   f"предлагается ещё {len(rows)}")
                loads[group.mentor_id] = load + len(rows)
                pairs.append(Pair(**fields))
            self._save(*pairs)
            log.info("pairing.pairs_formed", count=len(pairs), suggested=suggested,
                     proposed=sum(p.proposed for p in pairs),
                     actor=ctx.actor.user, correlation_id=str(ctx.correlation_id))
            return [p.id for p in pairs]

    def _one_organisation_each(self, actor: Actor, groups: Sequence[GroupChoice],
                               split: bool) -> list[GroupChoice]:
        """Every mentee must be the actor's to pair, not only the one a pair is filed under
        (someone else's answers as if there were none). A pair or group belongs to one
        organisation, whose curator keeps it: a suggestion for a municipality may give one
        mentor mentees of several schools, and each school gets its own group with that
        mentor; a group formed by hand must be one school's."""
        ids = [m for g in groups for m in g.mentee_ids]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(pools.mentees.c.id, pools.mentees.c.organisation_id,
                                          pools.mentees.c.path)
                                .where(pools.mentees.c.id.in_(ids))).all()
        for row in rows:
            actor.require_record_write(OrgPath.parse(row.path),
                                       not_found("Наставляемый", "MENTEE_NOT_FOUND"))
        organisation_of = {row.id: row.organisation_id for row in rows}
        result: list[GroupChoice] = []
        for group in groups:
            by_organisation: dict[Any, list[UUID]] = defaultdict(list)
            for mentee_id in group.mentee_ids:  # an unknown mentee is refused later, by name
                by_organisation[organisation_of.get(mentee_id)].append(mentee_id)
            if len(by_organisation) > 1 and not split:
                raise DomainError("GROUP_ACROSS_ORGANISATIONS", "В группу объединяются "
                                  "наставляемые одной организации", 422)
            result += [GroupChoice(mentor_id=group.mentor_id, mentee_ids=members)
                       for members in by_organisation.values()]
        return result

    def set_profile(self, ctx: CommandContext, person_id: UUID, cmd: SetProfile) -> None:
        with self.engine.connect() as conn:
            mentee = conn.execute(sa.select(pools.mentees).where(pools.mentees.c.id == person_id)).first()
            mentor = conn.execute(sa.select(pools.mentors).where(pools.mentors.c.id == person_id)).first()
        row = mentee or mentor
        if row is None or row.withdrawn:
            raise not_found("Участник", "PERSON_NOT_FOUND")
        ctx.actor.require_record_write(OrgPath.parse(row.path), not_found("Участник", "PERSON_NOT_FOUND"))
        if mentee is None and (cmd.relatives or cmd.class_teacher):
            raise DomainError("NOT_A_MENTEE", "Родственников и классного руководителя указывают "
                              "только для наставляемого", 422)
        values = {"preferred": [str(i) for i in dict.fromkeys(cmd.preferred)],
                  "availability": sorted(set(cmd.availability)),
                  "relatives": [str(i) for i in dict.fromkeys(cmd.relatives)],
                  "class_teacher": cmd.class_teacher}
        with self.engine.begin() as conn:
            conn.execute(pools.profiles.delete().where(pools.profiles.c.person_id == person_id))
            conn.execute(pools.profiles.insert().values(person_id=person_id, **values))

    # --- the life of a pair -----------------------------------------------------------------
    def _pair_row(self, pair_id: UUID) -> sa.Row[Any]:
        return self.fresh(partial(super()._pair_row, pair_id))

    def _pair_for_writing(self, ctx: CommandContext, pair_id: UUID) -> tuple[Pair, OrgPath]:
        path = OrgPath.parse(self._pair_row(pair_id).path)
        ctx.actor.require_record_write(path, not_found("Пара", "PAIR_NOT_FOUND"))
        return self.events.repository.get(pair_id), path

    def _pair_for_either_side(self, ctx: CommandContext, pair_id: UUID,
                              require: Callable[..., None]) -> tuple[Pair, OrgPath]:
        """The pair and its path, once ``require`` allows the actor (the pair's organisation or,
        for a cross-organisation pair, the mentor's)."""
        row = self._pair_row(pair_id)
        path = OrgPath.parse(row.path)
        require(ctx.actor, path, self._mentor_path(row), not_found("Пара", "PAIR_NOT_FOUND"))
        return self.events.repository.get(pair_id), path

    def set_goal(self, ctx: CommandContext, pair_id: UUID, cmd: SetGoal) -> UUID:
        goal_id = cmd.goal_id or uuid4()
        return self.retrying(lambda: self._set_goal(ctx, pair_id, cmd, goal_id))

    def _set_goal(self, ctx: CommandContext, pair_id: UUID, cmd: SetGoal, goal_id: UUID) -> UUID:
        pair, path = self._pair_for_writing(ctx, pair_id)
        pair.set_goal(goal_id, cmd.title, cmd.due, cmd.status, meta=ctx.meta(path),
                      seal=self._sealer(pair))
        self._save(pair)
        return goal_id

    def mark_goal(self, ctx: CommandContext, pair_id: UUID, goal_id: UUID,
                  cmd: GoalProgress) -> None:
        """A goal's progress, marked by a member of the pair (a mentor from a partner
        organisation too) or by the pair's curator."""
        self.retrying(lambda: self._mark_goal(ctx, pair_id, goal_id, cmd))

    def _mark_goal(self, ctx: CommandContext, pair_id: UUID, goal_id: UUID,
                   cmd: GoalProgress) -> None:
        row = self._pair_row(pair_id)
        path = OrgPath.parse(row.path)
        pair: Pair = self.events.repository.get(pair_id)
        require_pair_member_or_keeper(ctx.actor, path, [pair.mentor_id, *pair.mentee_ids],
                                      not_found("Пара", "PAIR_NOT_FOUND"))
        pair.mark_goal(goal_id, cmd.status, meta=ctx.meta(path))
        self._save(pair)

    def hold_meeting(self, ctx: CommandContext, pair_id: UUID, cmd: HoldMeeting) -> int:
        return self.retrying(lambda: self._hold_meeting(ctx, pair_id, cmd))

    def _hold_meeting(self, ctx: CommandContext, pair_id: UUID, cmd: HoldMeeting) -> int:
        pair, path = self._pair_for_writing(ctx, pair_id)
        number = pair.hold_meeting(cmd.kind, cmd.date, cmd.duration_minutes, cmd.format,
                                   self.today(), meta=ctx.meta(path),
                                   missing_feedback_reason=cmd.missing_feedback_reason,
                                   seal=self._sealer(pair))
        self._save(pair)
        return number

    def submit_feedback(self, ctx: CommandContext, pair_id: UUID, cmd: SubmitFeedback) -> str:
        return self.retrying(lambda: self._submit_feedback(ctx, pair_id, cmd))

    def _submit_feedback(self, ctx: CommandContext, pair_id: UUID, cmd: SubmitFeedback) -> str:
        row = self._pair_row(pair_id)
        path = OrgPath.parse(row.path)
        actor = ctx.actor
        participant = participant_id(actor)
        if participant is not None:
            # Membership is the participant's right here: a mentor from a partner
            # organisation answers about a school's pair.
            respondent = participant
            if cmd.respondent_id not in (None, respondent):
                raise forbidden("Участник отвечает только за себя")
        else:
            actor.require_record_write(path, not_found("Пара", "PAIR_NOT_FOUND"))
            if cmd.respondent_id is None:
                raise DomainError("RESPONDENT_REQUIRED", "Укажите, чей это отзыв", 422)
            respondent = cmd.respondent_id
        pair: Pair = self.events.repository.get(pair_id)
        if participant is not None and pair.side_of(respondent) is None:
            raise not_found("Пара", "PAIR_NOT_FOUND")
        side = pair.submit_feedback(cmd.meeting_number, respondent, cmd.satisfaction,
                                    cmd.went_well, cmd.to_change, meta=ctx.meta(path),
                                    seal=self._sealer(pair))
        self._save(pair)
        return side

    def complete(self, ctx: CommandContext, pair_id: UUID) -> None:
        def attempt() -> None:
            pair, path = self._pair_for_writing(ctx, pair_id)
            pair.complete(meta=ctx.meta(path))
            self._save(pair)
        self.retrying(attempt)

    def dissolve(self, ctx: CommandContext, pair_id: UUID, cmd: DissolvePair) -> list[UUID]:
        """Either side of a cross-organisation pair may end it (``require_pair_ender``).

        Ending a pair only frees places, so it takes no lock: a command that read the pair as
        still active refuses at worst what it could have done a moment later."""
        def attempt() -> list[UUID]:
            pair, path = self._pair_for_either_side(ctx, pair_id, require_pair_ender)
            returned = pair.dissolve(cmd.reason, meta=ctx.meta(path), seal=self._sealer(pair))
            self._save(pair)
            return returned
        return self.retrying(attempt)

    def _sealer(self, pair: Pair) -> Callable[[dict[str, Any]], str]:
        """Seals free text about the pair with its members' keys (made on first use)."""
        return lambda data: self.vault.text_of(
            pair.id, [pair.mentor_id, *pair.mentee_ids], create=True).seal(data)

    # --- a proposal to another organisation's mentor ----------------------------------------

    def confirm_proposal(self, ctx: CommandContext, pair_id: UUID) -> None:
        """The mentor's organisation agrees: the mentor's free places and everyone's consent
        are checked now, when the places are taken, not when the pair was proposed."""
        mentor_id = self._pair_row(pair_id).mentor_id  # a pair's mentor never changes
        with self.exclusive(f"mentor:{mentor_id}"):
            pair, path = self._pair_for_either_side(ctx, pair_id, require_proposal_answerer)
            if pair.proposed:
                people = [pair.mentor_id, *pair.mentee_ids]
                with self.engine.connect() as conn:
                    mentor_row = conn.execute(sa.select(pools.mentors).where(
                        pools.mentors.c.id == pair.mentor_id)).first()
                    load = self._loads(conn, [pair.mentor_id]).get(pair.mentor_id, 0)
                    withdrawn = self._withdrawn(conn, people)
                if mentor_row is None or mentor_row.withdrawn or withdrawn:
                    raise conflict("CONSENT_WITHDRAWN", "Участник пары отозвал согласие на "
                                   "обработку персональных данных: пару подтвердить нельзя")
                if len(pair.mentee_ids) > mentor_row.capacity - load:
                    raise conflict(NO_CAPACITY, f"У наставника нет столько свободных мест: мест "
                                   f"{mentor_row.capacity}, занято {load}, "
                                   f"предлагается ещё {len(pair.mentee_ids)}")
            pair.confirm(self.today(), meta=ctx.meta(path))
            self._save(pair)
            log.info("pairing.proposal_confirmed", pair_id=str(pair_id), actor=ctx.actor.user)

    def decline_proposal(self, ctx: CommandContext, pair_id: UUID, cmd: AnswerProposal) -> None:
        def attempt() -> None:
            pair, path = self._pair_for_either_side(ctx, pair_id, require_proposal_answerer)
            pair.decline(cmd.reason or "", meta=ctx.meta(path), seal=self._sealer(pair))
            self._save(pair)
        self.retrying(attempt)
        log.info("pairing.proposal_declined", pair_id=str(pair_id), actor=ctx.actor.user)

    # --- consent withdrawn in the registry --------------------------------------------------

    def process_consent_withdrawals(self) -> int:
        """Dissolve every active pair of each person who withdrew consent, then destroy the
        person's key: every text of every pair they were in (goals, feedback, reasons) becomes
        unreadable. Returns pairs dissolved.

        Idempotent: a notice worked off twice (a crash before it was marked done) finds the pairs
        already dissolved. The system acts, and the withdrawal is the cause of the dissolution.
        """
        with self.engine.connect() as conn:
            notices = conn.execute(sa.select(views.consent_inbox)
                                   .where(views.consent_inbox.c.done.is_(False))).all()
        dissolved = 0
        for notice in notices:
            with self._lock:
                ctx = CommandContext(system_actor(notice.region), correlation_id=notice.correlation_id,
                                     causation_id=notice.event_id)
                with self.engine.connect() as conn:
                    as_mentee = sa.select(views.pair_mentees.c.pair_id).where(
                        views.pair_mentees.c.mentee_id == notice.person_id,
                        views.pair_mentees.c.active.is_(True))
                    rows = conn.execute(sa.select(views.pairs.c.id, views.pairs.c.path).where(
                        views.pairs.c.status.in_(("active", "proposed")),
                        sa.or_(views.pairs.c.mentor_id == notice.person_id,
                               views.pairs.c.id.in_(as_mentee)))).all()
                pairs = []
                for row in rows:
                    pair: Pair = self.events.repository.get(row.id)
                    if pair.active:
                        pair.dissolve_on_withdrawal(ctx.meta(OrgPath.parse(row.path)),
                                                    withdrawn_ids=[notice.person_id])
                        pairs.append(pair)
                    elif pair.proposed:  # nobody may confirm it any more
                        pair.decline(CONSENT_REASON, meta=ctx.meta(OrgPath.parse(row.path)))
                        pairs.append(pair)
                if pairs:
                    # Another replica's watcher may be ending the same pairs: its save wins,
                    # this one's is refused by the store, and the next pass finds them ended.
                    self._save(*pairs)
                    dissolved += len(pairs)
                self.vault.shred(notice.person_id)
                # Texts stored before sealing existed have no key to destroy: replaced instead.
                erase_legacy_text(self.events, self.engine, [notice.person_id])
                with self.engine.begin() as conn:
                    conn.execute(views.consent_inbox.update()
                                 .where(views.consent_inbox.c.event_id == notice.event_id)
                                 .values(done=True))
            log.info("pairing.consent_withdrawn", person_id=str(notice.person_id),
                     dissolved=len(pairs), causation_id=str(notice.event_id))
        if notices:
            self.vault.purge_pending = True
        if self.vault.purge_pending and not self.vault.purge_deleted():
            log.warning("pairing.key_purge_deferred", people=len(notices))
        return dissolved
