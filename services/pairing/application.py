"""The pairing's service layer: suggestions from the pools, pairs and groups, plans, meetings,
feedback, completion and dissolution. Each command checks rights and every hard rule before
anything is stored, stores its events atomically, catches the local view up and wakes the relay.
"""

from __future__ import annotations

import os
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from services.pairing import pools, views
from services.pairing.commands import (
    ConfirmSuggestions,
    DissolvePair,
    FormPair,
    GroupChoice,
    HoldMeeting,
    Objective,
    Scope,
    SetGoal,
    SetProfile,
    SubmitFeedback,
)
from services.pairing.domain import Pair, check_new_pair
from services.pairing.matching import (
    Assignment,
    Exclusion,
    Form,
    MenteeProfile,
    MentorProfile,
    Score,
    Unmatched,
    Weights,
    score_pair,
    stable_matching,
    suggest,
)
from services.pairing.matching.domain import CATEGORY_NOT_ALLOWED, NO_CAPACITY
from shared.auth import Actor, OrgPath, Role, system_actor
from shared.errors import DomainError, conflict, forbidden, not_found
from shared.logging import get_logger
from shared.settings import Settings
from shared.store import CommandContext, EventSourcedService, ServiceApplication, view_engine

log = get_logger(__name__)

CONFIG_ENV = "NASTAVNIK_PAIRING_CONFIG"
DEFAULT_CONFIG = Path(__file__).with_name("weights.toml")
CONSENT_REASON = "Участник отозвал согласие на обработку персональных данных"
SUGGESTION_PENDING = "SUGGESTION_PENDING"


class PairingStore(ServiceApplication):
    name = "Pairing"
    source = "pairing"


@dataclass(frozen=True)
class PairingConfig:
    objective: Objective = "max_score"
    reminder_days: int = 30
    weights: Weights = field(default_factory=Weights)


def load_config(path: Path | None = None) -> PairingConfig:
    """Weights, objective and reminder period from TOML (``NASTAVNIK_PAIRING_CONFIG`` or the
    file shipped next to this module)."""
    source = path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    weights = dict(data.get("weights", {}))
    for name in ("age_gap_ideal", "grade_gap_ideal"):
        if name in weights:
            weights[name] = tuple(weights[name])
    objective = data.get("objective", "max_score")
    if objective not in ("max_score", "max_pairs"):
        raise ValueError(f"{source}: objective must be max_score or max_pairs")
    return PairingConfig(objective=objective, reminder_days=int(data.get("reminder_days", 30)),
                         weights=Weights(**weights))


@dataclass(frozen=True)
class ResolvedScope:
    form: Form
    path: OrgPath  # where the pairs of this scope belong
    programme_id: UUID | None = None
    organisation_id: UUID | None = None  # the programme's organisation


def exclusion_error(exclusion: Exclusion) -> DomainError:
    status = 409 if exclusion.code == NO_CAPACITY else 422
    return DomainError(exclusion.code, exclusion.reason_ru, status)


def criteria_json(score: Score) -> list[dict[str, Any]]:
    return [{"code": c.code, "label": c.label_ru, "points": c.points} for c in score.criteria]


def groups_json(assignments: Sequence[Assignment]) -> list[dict[str, Any]]:
    by_mentor: dict[str, list[Assignment]] = defaultdict(list)
    for assignment in assignments:
        by_mentor[assignment.mentor_id].append(assignment)
    return [{"mentor_id": mentor_id,
             "mentee_ids": [a.mentee_id for a in chosen],
             "score": round(sum(a.score.total_milli for a in chosen) / 1000, 3),
             "assignments": [{"mentee_id": a.mentee_id, "score": a.score.total,
                              "criteria": criteria_json(a.score)} for a in chosen]}
            for mentor_id, chosen in by_mentor.items()]


def unmatched_json(unmatched: Iterable[Unmatched]) -> list[dict[str, Any]]:
    return [{"mentee_id": u.mentee_id, "code": u.code, "reason": u.reason_ru} for u in unmatched]


class PairingService(EventSourcedService):
    def __init__(self, settings: Settings, today: Callable[[], date] = date.today,
                 config: PairingConfig | None = None) -> None:
        self.settings = settings
        self.today = today
        self.config = config or load_config()
        super().__init__(PairingStore(settings), view_engine(settings, "pairing"), views)
        views.create_tables(self.engine)
        pools.create_tables(self.engine)
        self.catch_up()

    # --- scopes -----------------------------------------------------------------------------

    def _row(self, table: sa.Table, row_id: UUID, what: str, code: str) -> sa.Row[Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == row_id)).first()
        if row is None:
            raise not_found(what, code)
        return row

    def resolve_scope(self, scope: Scope) -> ResolvedScope | None:
        """The form and territory of a request; None for a hand-formed pair named by form only."""
        if scope.programme_id is not None:
            programme = self._row(pools.programmes, scope.programme_id, "Программа",
                                  "PROGRAMME_NOT_FOUND")
            form = pools.resolve_form(programme.form)
            if form is None:
                raise DomainError("UNKNOWN_FORM", f"Форма наставничества программы «{programme.form}»"
                                  " не найдена в каталоге форм", 422)
            return ResolvedScope(form, OrgPath.parse(programme.path), programme.id,
                                 programme.organisation_id)
        form = self.form_of(scope.form or "")
        if scope.municipality_id is None:
            return None
        municipality = self._row(pools.organisations, scope.municipality_id, "Муниципалитет",
                                 "MUNICIPALITY_NOT_FOUND")
        if municipality.kind != "municipality":
            raise DomainError("NOT_A_MUNICIPALITY", "Указанная организация — не муниципалитет", 422)
        return ResolvedScope(form, OrgPath.parse(municipality.path))

    @staticmethod
    def form_of(text: str) -> Form:
        form = pools.resolve_form(text)
        if form is None:
            raise DomainError("UNKNOWN_FORM", f"Форма наставничества «{text}» не найдена в "
                              "каталоге форм", 422)
        return form

    @staticmethod
    def _in_scope(scope: ResolvedScope, row: sa.Row[Any]) -> bool:
        if scope.organisation_id is not None:
            return bool(row.organisation_id == scope.organisation_id)
        return scope.path.contains(OrgPath.parse(row.path))

    @staticmethod
    def _mentor_reaches(path: OrgPath, mentor_row: sa.Row[Any]) -> bool:
        """A pair's mentor comes from its municipality or from a regional partner (no
        municipality): the same territory ``_candidates`` suggests mentors from."""
        return bool(mentor_row.region == path.region
                    and mentor_row.municipality in (path.municipality, None))

    # --- the pools --------------------------------------------------------------------------

    def _loads(self, conn: sa.Connection) -> dict[UUID, int]:
        rows = conn.execute(sa.select(views.pairs.c.mentor_id, sa.func.sum(views.pairs.c.size))
                            .where(views.pairs.c.status == "active")
                            .group_by(views.pairs.c.mentor_id)).all()
        return {r[0]: int(r[1]) for r in rows}

    def _paired(self, conn: sa.Connection, mentee_ids: Iterable[UUID] | None = None) -> set[UUID]:
        query = sa.select(views.pair_mentees.c.mentee_id).where(views.pair_mentees.c.active.is_(True))
        if mentee_ids is not None:
            query = query.where(views.pair_mentees.c.mentee_id.in_(list(mentee_ids)))
        return set(conn.execute(query).scalars())

    def _withdrawn(self, conn: sa.Connection, ids: Sequence[UUID]) -> set[UUID]:
        """Withdrawals the pools may not have applied yet, seen by the consent watcher."""
        return set(conn.execute(sa.select(views.consent_inbox.c.person_id)
                                .where(views.consent_inbox.c.person_id.in_(list(ids)))).scalars())

    def _profiles(self, conn: sa.Connection, ids: Sequence[UUID]) -> dict[UUID, sa.Row[Any]]:
        rows = conn.execute(sa.select(pools.profiles)
                            .where(pools.profiles.c.person_id.in_(list(ids)))).all()
        return {r.person_id: r for r in rows}

    def _mentee_profile(self, row: sa.Row[Any], profile: sa.Row[Any] | None,
                        withdrawn: bool = False) -> MenteeProfile | None:
        category = pools.matching_category(row.category)
        if category is None:
            return None
        return MenteeProfile(
            id=str(row.id), category=category, organisation=str(row.organisation_id),
            municipality=row.municipality or "", age=self.today().year - row.birth_year,
            grade=row.grade, requests=frozenset(row.requests),
            availability=frozenset(profile.availability if profile else ()),
            consent=bool(row.consent) and not row.withdrawn and not withdrawn,
            preferred=tuple(profile.preferred) if profile else (),
            relatives=frozenset(profile.relatives) if profile else frozenset(),
            class_teacher=str(profile.class_teacher) if profile and profile.class_teacher else None)

    def _mentor_profile(self, row: sa.Row[Any], profile: sa.Row[Any] | None, load: int,
                        withdrawn: bool = False) -> MentorProfile | None:
        category = pools.matching_category(row.category)
        if category is None:
            return None
        return MentorProfile(
            id=str(row.id), category=category, organisation=str(row.organisation_id),
            municipality=row.municipality or "", age=self.today().year - row.birth_year,
            grade=row.grade, competencies=frozenset(row.competencies),
            availability=frozenset(profile.availability if profile else ()),
            capacity=row.capacity, load=load,
            consent=bool(row.consent) and not row.withdrawn and not withdrawn,
            preferred=tuple(profile.preferred) if profile else ())

    def _candidates(self, scope: ResolvedScope
                    ) -> tuple[list[MenteeProfile], list[MentorProfile], list[Unmatched]]:
        """The scope's unpaired mentees and its territory's mentors, withdrawn people left out."""
        region, municipality = scope.path.region, scope.path.municipality
        with self.engine.connect() as conn:
            mentee_query = sa.select(pools.mentees).where(pools.mentees.c.withdrawn.is_(False),
                                                          pools.mentees.c.region == region)
            if scope.organisation_id is not None:
                mentee_query = mentee_query.where(
                    pools.mentees.c.organisation_id == scope.organisation_id)
            elif municipality is not None:
                mentee_query = mentee_query.where(pools.mentees.c.municipality == municipality)
            mentee_rows = conn.execute(mentee_query.order_by(pools.mentees.c.id)).all()
            mentor_rows = conn.execute(
                sa.select(pools.mentors).where(
                    pools.mentors.c.withdrawn.is_(False), pools.mentors.c.region == region,
                    sa.or_(pools.mentors.c.municipality == municipality,
                           pools.mentors.c.municipality.is_(None)))
                .order_by(pools.mentors.c.id)).all()
            paired = self._paired(conn)
            loads = self._loads(conn)
            ids = [r.id for r in mentee_rows] + [r.id for r in mentor_rows]
            profiles = self._profiles(conn, ids)
            withdrawn = self._withdrawn(conn, ids)
        unknown: list[Unmatched] = []
        mentees: list[MenteeProfile] = []
        for row in mentee_rows:
            if row.id in paired or row.id in withdrawn:
                continue
            profile = self._mentee_profile(row, profiles.get(row.id))
            if profile is None:
                unknown.append(Unmatched(str(row.id), CATEGORY_NOT_ALLOWED,
                                         f"Категория «{row.category}» не участвует в подборе"))
            else:
                mentees.append(profile)
        mentors = [p for r in mentor_rows if r.id not in withdrawn
                   if (p := self._mentor_profile(r, profiles.get(r.id), loads.get(r.id, 0)))]
        return mentees, mentors, unknown

    # --- suggestions ------------------------------------------------------------------------

    def _scope_for_reading(self, actor: Actor, scope: Scope) -> ResolvedScope:
        resolved = self.resolve_scope(scope)
        if resolved is None:
            raise DomainError("SCOPE_REQUIRED", "Укажите программу или муниципалитет", 422)
        actor.require_read(resolved.path)
        return resolved

    def suggestions(self, actor: Actor, scope: Scope,
                    objective: Objective | None = None) -> dict[str, Any]:
        resolved = self._scope_for_reading(actor, scope)
        mentees, mentors, unknown = self._candidates(resolved)
        chosen = objective or self.config.objective
        result = suggest(mentees, mentors, resolved.form, self.config.weights, chosen)
        return {"objective": chosen, "form": resolved.form.code, "form_title": resolved.form.title_ru,
                "programme_id": str(resolved.programme_id) if resolved.programme_id else None,
                "exact": result.exact, "total_score": result.total_score,
                "paired": len(result.assignments), "mentees": len(mentees) + len(unknown),
                "groups": groups_json(result.assignments),
                "unmatched": unmatched_json([*result.unmatched, *unknown]),
                "weights": self._weights_json()}

    def stable_suggestions(self, actor: Actor, scope: Scope) -> dict[str, Any]:
        """Deferred acceptance on the preferences both sides named (scores break ties)."""
        resolved = self._scope_for_reading(actor, scope)
        mentees, mentors, unknown = self._candidates(resolved)
        result = stable_matching(mentees, mentors, resolved.form, self.config.weights)
        return {"method": "deferred_acceptance", "form": resolved.form.code,
                "exact": result.exact, "total_score": result.total_score,
                "paired": len(result.assignments), "mentees": len(mentees) + len(unknown),
                "groups": groups_json(result.assignments),
                "unmatched": unmatched_json([*result.unmatched, *unknown])}

    def unpaired(self, actor: Actor, scope: Scope) -> list[dict[str, Any]]:
        """Every mentee of the scope still in the pool, with why no pair is suggested (or that one is)."""
        resolved = self._scope_for_reading(actor, scope)
        mentees, mentors, unknown = self._candidates(resolved)
        result = suggest(mentees, mentors, resolved.form, self.config.weights, self.config.objective)
        pending = [Unmatched(a.mentee_id, SUGGESTION_PENDING,
                             "Есть предложение пары: ожидает подтверждения куратором")
                   for a in result.assignments]
        return sorted(unmatched_json([*result.unmatched, *unknown, *pending]),
                      key=lambda u: u["mentee_id"])

    def _weights_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.config.weights).items()}

    # --- forming pairs ----------------------------------------------------------------------

    def confirm(self, ctx: CommandContext, cmd: ConfirmSuggestions) -> list[UUID]:
        resolved = self.resolve_scope(cmd)
        if resolved is None:
            raise DomainError("SCOPE_REQUIRED", "Укажите программу или муниципалитет", 422)
        return self._form_pairs(ctx, resolved, resolved.form, cmd.groups, cmd.order_ref,
                                suggested=True, formed_on=cmd.formed_on)

    def form_pair(self, ctx: CommandContext, cmd: FormPair) -> UUID:
        resolved = self.resolve_scope(cmd)
        form = resolved.form if resolved else self.form_of(cmd.form or "")
        group = GroupChoice(mentor_id=cmd.mentor_id, mentee_ids=cmd.mentee_ids)
        return self._form_pairs(ctx, resolved, form, [group], cmd.order_ref, suggested=False,
                                formed_on=cmd.formed_on)[0]

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
        # Across replicas: the mentee-not-paired and free-places rules read the view.
        with self.exclusive():
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
                loads = self._loads(conn)
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
                                      f"«{mentor_row.category}» не участвует в подборе", 422)
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
                                          f"«{row.category}» не участвует в подборе", 422)
                    score = score_pair(mentee, mentor, form, self.config.weights)
                    if isinstance(score, Exclusion):
                        raise exclusion_error(score)
                    total += score.total_milli
                free = mentor_row.capacity - load
                if len(rows) > free:
                    raise conflict(NO_CAPACITY, f"У наставника нет столько свободных мест: мест "
                                   f"{mentor_row.capacity}, занято {load}, "
                                   f"предлагается ещё {len(rows)}")
                loads[group.mentor_id] = load + len(rows)
                pairs.append(Pair(
                    programme_id=scope.programme_id if scope else None,
                    organisation_id=organisation_id, form=form.code, mentor_id=group.mentor_id,
                    mentee_ids=list(group.mentee_ids), order_ref=order_ref, suggested=suggested,
                    score=total / 1000, formed_on=today, meta=ctx.meta(path)))
            self._save(*pairs)
            log.info("pairing.pairs_formed", count=len(pairs), suggested=suggested,
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
        return self._row(views.pairs, pair_id, "Пара", "PAIR_NOT_FOUND")

    def _pair_for_writing(self, ctx: CommandContext, pair_id: UUID) -> tuple[Pair, OrgPath]:
        path = OrgPath.parse(self._pair_row(pair_id).path)
        ctx.actor.require_record_write(path, not_found("Пара", "PAIR_NOT_FOUND"))
        return self.events.repository.get(pair_id), path

    def set_goal(self, ctx: CommandContext, pair_id: UUID, cmd: SetGoal) -> UUID:
        with self._lock:
            pair, path = self._pair_for_writing(ctx, pair_id)
            goal_id = cmd.goal_id or uuid4()
            pair.set_goal(goal_id, cmd.title, cmd.due, cmd.status, meta=ctx.meta(path))
            self._save(pair)
            return goal_id

    def hold_meeting(self, ctx: CommandContext, pair_id: UUID, cmd: HoldMeeting) -> int:
        with self._lock:
            pair, path = self._pair_for_writing(ctx, pair_id)
            number = pair.hold_meeting(cmd.kind, cmd.date, cmd.duration_minutes, cmd.format,
                                       self.today(), meta=ctx.meta(path))
            self._save(pair)
            return number

    def _participant_id(self, actor: Actor) -> UUID:
        """A participant's token names them by their registry id."""
        try:
            return UUID(actor.user)
        except ValueError:
            raise forbidden("Участник не опознан") from None

    def submit_feedback(self, ctx: CommandContext, pair_id: UUID, cmd: SubmitFeedback) -> str:
        with self._lock:
            row = self._pair_row(pair_id)
            path = OrgPath.parse(row.path)
            actor = ctx.actor
            if actor.role is Role.PARTICIPANT:
                # Membership is the participant's right here: a mentor from a partner
                # organisation answers about a school's pair.
                respondent = self._participant_id(actor)
                if cmd.respondent_id not in (None, respondent):
                    raise forbidden("Участник отвечает только за себя")
            else:
                actor.require_record_write(path, not_found("Пара", "PAIR_NOT_FOUND"))
                if cmd.respondent_id is None:
                    raise DomainError("RESPONDENT_REQUIRED", "Укажите, чей это отзыв", 422)
                respondent = cmd.respondent_id
            pair: Pair = self.events.repository.get(pair_id)
            if actor.role is Role.PARTICIPANT and pair.side_of(respondent) is None:
                raise not_found("Пара", "PAIR_NOT_FOUND")
            side = pair.submit_feedback(cmd.meeting_number, respondent, cmd.satisfaction,
                                        cmd.went_well, cmd.to_change, meta=ctx.meta(path))
            self._save(pair)
            return side

    def feedback(self, actor: Actor, pair_id: UUID, meeting_number: int) -> list[dict[str, Any]]:
        """Curators see every answer; a participant sees the other side's only after answering."""
        pair, viewer = self._pair_for_reading(actor, pair_id)
        if not 1 <= meeting_number <= len(pair.meetings):
            raise not_found(f"Встреча № {meeting_number}", "MEETING_NOT_FOUND")
        return pair.feedback_visible_to(meeting_number, viewer)

    def _pair_for_reading(self, actor: Actor, pair_id: UUID) -> tuple[Pair, UUID | None]:
        """A participant reads only their own pairs (wherever their organisation is); anyone else
        by scope. Returns the pair and the participant's id (None for everyone else)."""
        row = self._pair_row(pair_id)
        viewer = None
        if actor.role is Role.PARTICIPANT:
            viewer = self._participant_id(actor)
        else:
            actor.require_record_read(OrgPath.parse(row.path), not_found("Пара", "PAIR_NOT_FOUND"))
        pair: Pair = self.events.repository.get(pair_id)
        if viewer is not None and pair.side_of(viewer) is None:
            raise not_found("Пара", "PAIR_NOT_FOUND")  # a denial must not reveal existence
        return pair, viewer

    def complete(self, ctx: CommandContext, pair_id: UUID) -> None:
        with self._lock:
            pair, path = self._pair_for_writing(ctx, pair_id)
            pair.complete(meta=ctx.meta(path))
            self._save(pair)

    def dissolve(self, ctx: CommandContext, pair_id: UUID, cmd: DissolvePair) -> list[UUID]:
        with self._lock:
            pair, path = self._pair_for_writing(ctx, pair_id)
            returned = pair.dissolve(cmd.reason, meta=ctx.meta(path))
            self._save(pair)
            return returned

    # --- consent withdrawn in the registry --------------------------------------------------

    def record_consent_withdrawals(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """In the consumer's transaction: remember each withdrawal once (redeliveries aside)."""
        for row in rows:
            seen = conn.execute(sa.select(views.consent_inbox.c.event_id).where(
                views.consent_inbox.c.event_id == row["event_id"])).first()
            if seen is None:
                conn.execute(views.consent_inbox.insert().values(**row, done=False))

    def process_consent_withdrawals(self) -> int:
        """Dissolve every active pair of each person who withdrew consent; returns pairs dissolved.

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
                        views.pairs.c.status == "active",
                        sa.or_(views.pairs.c.mentor_id == notice.person_id,
                               views.pairs.c.id.in_(as_mentee)))).all()
                pairs = []
                for row in rows:
                    pair: Pair = self.events.repository.get(row.id)
                    if pair.active:
                        pair.dissolve(CONSENT_REASON, meta=ctx.meta(OrgPath.parse(row.path)),
                                      withdrawn_ids=[notice.person_id])
                        pairs.append(pair)
                if pairs:
                    self._save(*pairs)
                    dissolved += len(pairs)
                with self.engine.begin() as conn:
                    conn.execute(views.consent_inbox.update()
                                 .where(views.consent_inbox.c.event_id == notice.event_id)
                                 .values(done=True))
            log.info("pairing.consent_withdrawn", person_id=str(notice.person_id),
                     dissolved=len(pairs), causation_id=str(notice.event_id))
        return dissolved

    # --- queries ----------------------------------------------------------------------------

    def get_pair(self, actor: Actor, pair_id: UUID) -> dict[str, Any]:
        row = self._pair_row(pair_id)
        pair, _ = self._pair_for_reading(actor, pair_id)
        return {
            **pair_json(row),
            "mentee_ids": [str(m) for m in pair.mentee_ids],
            "goals": list(pair.goals.values()),
            "meetings": [{**m, "feedback_from": sorted(
                r["side"] for r in pair.feedback.get(m["number"], {}).values())}
                for m in pair.meetings],
            "close_reason": pair.close_reason,
            "returned_mentee_ids": [str(m) for m in pair.returned_mentee_ids],
        }

    def list_pairs(self, actor: Actor, organisation_id: UUID | None = None,
                   status: str | None = None, mentor_id: UUID | None = None) -> list[dict[str, Any]]:
        query = sa.select(views.pairs).order_by(views.pairs.c.formed_on, views.pairs.c.id)
        if organisation_id is not None:
            query = query.where(views.pairs.c.organisation_id == organisation_id)
        if status is not None:
            query = query.where(views.pairs.c.status == status)
        if mentor_id is not None:
            query = query.where(views.pairs.c.mentor_id == mentor_id)
        with self.engine.connect() as conn:
            rows = [r for r in conn.execute(query) if actor.can_read(OrgPath.parse(r.path))]
            members = self._members(conn, [r.id for r in rows])
        return [{**pair_json(r), "mentee_ids": members.get(r.id, [])} for r in rows]

    @staticmethod
    def _members(conn: sa.Connection, pair_ids: list[UUID]) -> dict[UUID, list[str]]:
        members: dict[UUID, list[str]] = defaultdict(list)
        for pair_id, mentee_id in conn.execute(
                sa.select(views.pair_mentees.c.pair_id, views.pair_mentees.c.mentee_id)
                .where(views.pair_mentees.c.pair_id.in_(pair_ids))):
            members[pair_id].append(str(mentee_id))
        return members

    def reminders(self, actor: Actor, days: int | None = None) -> list[dict[str, Any]]:
        """Active pairs in the actor's scope with no meeting (or none since formed) for N days."""
        limit = self.config.reminder_days if days is None else days
        today = self.today()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.pairs).where(views.pairs.c.status == "active")
                                .order_by(views.pairs.c.id)).all()
        flagged = []
        for row in rows:
            if not actor.can_read(OrgPath.parse(row.path)):
                continue
            last = row.last_meeting_on or row.formed_on
            idle = (today - date.fromisoformat(last)).days
            if idle < limit:
                continue
            if row.last_kind == "final":  # the work is done; only the completion is missing
                flagged.append({**pair_json(row), "idle_days": idle, "code": "FINAL_HELD",
                                "message": f"Итоговая встреча проведена {idle} дн. назад: "
                                           "завершите работу пары"})
            else:
                flagged.append({**pair_json(row), "idle_days": idle, "code": "NO_MEETINGS",
                                "message": f"Нет встреч {idle} дн. (порог — {limit} дн.)"})
        return sorted(flagged, key=lambda p: -p["idle_days"])

    def pool(self, actor: Actor, organisation_id: UUID) -> dict[str, Any]:
        """The candidates of one organisation as the pairing sees them: no names, only ids."""
        with self.engine.connect() as conn:
            organisation = conn.execute(sa.select(pools.organisations).where(
                pools.organisations.c.id == organisation_id)).first()
            if organisation is None:
                raise not_found("Организация", "ORGANISATION_NOT_FOUND")
            actor.require_read(OrgPath.parse(organisation.path))
            mentor_rows = conn.execute(sa.select(pools.mentors).where(
                pools.mentors.c.organisation_id == organisation_id)).all()
            mentee_rows = conn.execute(sa.select(pools.mentees).where(
                pools.mentees.c.organisation_id == organisation_id)).all()
            loads = self._loads(conn)
            paired = self._paired(conn)
        return {
            "mentors": [{"id": str(r.id), "category": r.category, "birth_year": r.birth_year,
                         "competencies": r.competencies, "capacity": r.capacity,
                         "load": loads.get(r.id, 0), "consent": r.consent,
                         "withdrawn": r.withdrawn} for r in mentor_rows],
            "mentees": [{"id": str(r.id), "category": r.category, "grade": r.grade,
                         "birth_year": r.birth_year, "requests": r.requests,
                         "consent": r.consent, "withdrawn": r.withdrawn,
                         "in_pool": r.id not in paired and not r.withdrawn}
                        for r in mentee_rows],
        }


def pair_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "programme_id": str(row.programme_id) if row.programme_id else None,
            "organisation_id": str(row.organisation_id), "path": row.path, "form": row.form,
            "mentor_id": str(row.mentor_id), "size": row.size, "status": row.status,
            "order_ref": row.order_ref, "score": row.score, "formed_on": row.formed_on,
            "last_meeting_on": row.last_meeting_on, "meetings": row.meetings}
