"""The pairing's queries: suggestions, the pool, pairs as each reader may see them, reminders."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import Application

from services.pairing import matching, pools, views
from services.pairing.commands import Objective, Scope
from services.pairing.config import PairingConfig
from services.pairing.domain import CONSENT_REASON, Pair
from services.pairing.matching import Assignment, Score, Unmatched
from services.pairing.pool_reader import PoolReader, ResolvedScope
from services.pairing.vault import PairingVault, PairText
from shared.auth import (
    Actor,
    OrgPath,
    can_read_pair,
    can_see_pair,
    participant_id,
    require_pair_sight,
)
from shared.errors import DomainError, not_found
from shared.logging import get_logger

log = get_logger(__name__)

SUGGESTION_PENDING = "SUGGESTION_PENDING"


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


class PairingQueries(PoolReader):
    """Every query of the pairing; ``PairingService`` adds the commands."""

    config: PairingConfig
    events: Application[UUID]
    vault: PairingVault

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
        result = matching.suggest(mentees, mentors, resolved.form, self.config.weights, chosen)
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
        result = matching.stable_matching(mentees, mentors, resolved.form, self.config.weights)
        return {"method": "deferred_acceptance", "form": resolved.form.code,
                "exact": result.exact, "total_score": result.total_score,
                "paired": len(result.assignments), "mentees": len(mentees) + len(unknown),
                "groups": groups_json(result.assignments),
                "unmatched": unmatched_json([*result.unmatched, *unknown])}

    def unpaired(self, actor: Actor, scope: Scope) -> list[dict[str, Any]]:
        """Every mentee of the scope still in the pool, with why no pair is suggested (or that one is)."""
        resolved = self._scope_for_reading(actor, scope)
        mentees, mentors, unknown = self._candidates(resolved)
        result = matching.suggest(mentees, mentors, resolved.form, self.config.weights, self.config.objective)
        pending = [Unmatched(a.mentee_id, SUGGESTION_PENDING,
                             "Есть предложение пары: ожидает подтверждения куратором")
                   for a in result.assignments]
        return sorted(unmatched_json([*result.unmatched, *unknown, *pending]),
                      key=lambda u: u["mentee_id"])

    def _weights_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.config.weights).items()}

    def _pair_row(self, pair_id: UUID) -> sa.Row[Any]:
        return self._row(views.pairs, pair_id, "Пара", "PAIR_NOT_FOUND")

    @staticmethod
    def _mentor_path(row: sa.Row[Any]) -> OrgPath | None:
        """The mentor's organisation when it is not the pair's own (None for the pair's own)."""
        if row.mentor_path is None or row.mentor_organisation_id == row.organisation_id:
            return None
        return OrgPath.parse(row.mentor_path)

    def feedback(self, actor: Actor, pair_id: UUID, meeting_number: int) -> list[dict[str, Any]]:
        """Curators see every answer; a participant sees the other side's only after answering."""
        pair, viewer = self._pair_for_reading(actor, pair_id)
        if not 1 <= meeting_number <= len(pair.meetings):
            raise not_found(f"Встреча № {meeting_number}", "MEETING_NOT_FOUND")
        text = self._text_of(pair)
        return [{**{k: v for k, v in record.items() if k != "sealed"},
                 "went_well": text.open(record["sealed"], "went_well", record["went_well"]) or "",
                 "to_change": text.open(record["sealed"], "to_change", record["to_change"]) or ""}
                for record in pair.feedback_visible_to(meeting_number, viewer)]

    def _text_of(self, pair: Pair) -> PairText:
        """The pair's texts opened (or «текст удалён…» once a member withdrew consent)."""
        return self.vault.text_of(pair.id, [pair.mentor_id, *pair.mentee_ids])

    def _pair_for_reading(self, actor: Actor, pair_id: UUID) -> tuple[Pair, UUID | None]:
        """A participant reads only their own pairs (wherever their organisation is); anyone else
        by scope. Returns the pair and the participant's id (None for everyone else)."""
        row = self._pair_row(pair_id)
        viewer = participant_id(actor)
        if viewer is None:
            require_pair_sight(actor, OrgPath.parse(row.path), self._mentor_path(row),
                               not_found("Пара", "PAIR_NOT_FOUND"))
        pair: Pair = self.events.repository.get(pair_id)
        if viewer is not None and pair.side_of(viewer) is None:
            raise not_found("Пара", "PAIR_NOT_FOUND")  # a denial must not reveal existence
        return pair, viewer

    # --- pairs ----------------------------------------------------------------------------

    def get_pair(self, actor: Actor, pair_id: UUID) -> dict[str, Any]:
        row = self._pair_row(pair_id)
        pair, _ = self._pair_for_reading(actor, pair_id)
        text = self._text_of(pair)
        goals = [{"goal_id": g["goal_id"], "title": text.open(g.get("sealed"), "title", g["title"]),
                  "due": g["due"], "status": g["status"]} for g in pair.goals.values()]
        return {
            **pair_json(row),
            "organisation_name": self._organisation_name(row.organisation_id, row.path),
            "mentor_organisation_name": self._organisation_name(
                row.mentor_organisation_id, row.mentor_path) if row.mentor_path else None,
            "mentee_ids": [str(m) for m in pair.mentee_ids],
            "goals": goals,
            "meetings": [{**{k: v for k, v in m.items() if k != "missing_feedback_sealed"},
                          "feedback_from": sorted(
                              r["side"] for r in pair.feedback.get(m["number"], {}).values()),
                          "missing_feedback_reason": text.open(
                              m.get("missing_feedback_sealed"), "reason")}
                         for m in pair.meetings],
            # Sides still to answer about the last meeting: the next one waits for them.
            "feedback_missing": pair.feedback_missing(),
            "next_kinds": pair.next_kinds(),
            "close_reason": pair.close_reason if pair.close_reason == CONSENT_REASON
            else text.open(pair.close_reason_sealed, "reason", pair.close_reason),
            "decline_reason": text.open(pair.decline_reason_sealed, "reason",
                                        pair.decline_reason),
            "returned_mentee_ids": [str(m) for m in pair.returned_mentee_ids],
        }

    def list_pairs(self, actor: Actor, organisation_id: UUID | None = None,
                   status: str | None = None, mentor_id: UUID | None = None,
                   mentor_organisation_id: UUID | None = None) -> list[dict[str, Any]]:
        """Pairs the actor may see; ``organisation_id``: filed at that organisation (the pairs
        its order lists), ``mentor_organisation_id``: with a mentor of that organisation."""
        query = sa.select(views.pairs).order_by(views.pairs.c.formed_on, views.pairs.c.id)
        if organisation_id is not None:
            query = query.where(views.pairs.c.organisation_id == organisation_id)
        if mentor_organisation_id is not None:
            # Pairs with this organisation's mentors, wherever they are filed.
            query = query.where(views.pairs.c.mentor_organisation_id == mentor_organisation_id)
        if status is not None:
            query = query.where(views.pairs.c.status == status)
        if mentor_id is not None:
            query = query.where(views.pairs.c.mentor_id == mentor_id)
        viewer = participant_id(actor)
        with self.engine.connect() as conn:
            if viewer is not None:
                # A participant lists their own pairs (as mentor or as a mentee), wherever filed.
                mine = sa.select(views.pair_mentees.c.pair_id).where(
                    views.pair_mentees.c.mentee_id == viewer)
                query = query.where(sa.or_(views.pairs.c.mentor_id == viewer,
                                           views.pairs.c.id.in_(mine)))
            rows = list(conn.execute(query))
            members = self._members(conn, [r.id for r in rows])
        rows = [r for r in rows if (
            can_read_pair(actor, OrgPath.parse(r.path), {r.mentor_id, *map(UUID, members[r.id])})
            if viewer is not None
            else can_see_pair(actor, OrgPath.parse(r.path), self._mentor_path(r)))]
        return [{**pair_json(r), "mentee_ids": members.get(r.id, [])} for r in rows]

    def _organisation_name(self, organisation_id: UUID | None, path: str) -> str:
        """An organisation's name as the registry announced it (its code until then): the
        curators of both sides of a pair see both organisations."""
        with self.engine.connect() as conn:
            name = conn.execute(sa.select(pools.organisations.c.name).where(
                pools.organisations.c.id == organisation_id)).scalar()
        return name or (OrgPath.parse(path).organisation or path)

    def proposals(self, actor: Actor) -> dict[str, list[dict[str, Any]]]:
        """Proposals to answer (a mentor of the actor's organisation was named elsewhere) and
        the actor's own proposals still waiting or declined, with the reason given."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(views.pairs)
                                .where(views.pairs.c.status.in_(("proposed", "declined")))
                                .order_by(views.pairs.c.formed_on, views.pairs.c.id)).all()
            members = self._members(conn, [r.id for r in rows])
        incoming: list[dict[str, Any]] = []
        outgoing: list[dict[str, Any]] = []
        for row in rows:
            mentor_path = self._mentor_path(row)
            answerable = mentor_path is not None and actor.can_write(mentor_path)
            entry = {**pair_json(row), "mentee_ids": members.get(row.id, []),
                     "organisation_name": self._organisation_name(row.organisation_id, row.path),
                     "mentor_organisation_name": self._organisation_name(
                         row.mentor_organisation_id, str(mentor_path or row.path))}
            if row.status == "proposed" and answerable:
                incoming.append(entry)
            elif not answerable and actor.can_read(OrgPath.parse(row.path)):
                pair: Pair = self.events.repository.get(row.id)
                outgoing.append({**entry, "decline_reason": self._text_of(pair).open(
                    pair.decline_reason_sealed, "reason", pair.decline_reason)})
        return {"incoming": incoming, "outgoing": outgoing}

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
            loads = self._loads(conn, sa.select(pools.mentors.c.id).where(
                pools.mentors.c.organisation_id == organisation_id))
            paired = self._paired(conn, sa.select(pools.mentees.c.id).where(
                pools.mentees.c.organisation_id == organisation_id))
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


    def pairs_for_document(self, actor: Actor, pair_ids: Any,
                           with_goals: bool = False) -> dict[str, Any]:
        """The pairs an order lists, scoped exactly as ``get_pair``: a pair the actor may not
        read is ``missing``, as if it did not exist. Every mentee a pair was formed with is
        named (a dissolved pair keeps its rows, inactive). ``with_goals``: each pair's goals
        too, opened here (the reply is sealed to the asking service: ``shared.rpc``)."""
        ids = document_pair_ids(pair_ids)
        with self.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(views.pairs)
                                                  .where(views.pairs.c.id.in_(ids)))} if ids else {}
            members: dict[UUID, list[UUID]] = defaultdict(list)
            if rows:
                for pair_id, mentee_id in conn.execute(
                        sa.select(views.pair_mentees.c.pair_id, views.pair_mentees.c.mentee_id)
                        .where(views.pair_mentees.c.pair_id.in_(list(rows)))
                        .order_by(views.pair_mentees.c.pair_id, views.pair_mentees.c.mentee_id)):
                    members[pair_id].append(mentee_id)
        pairs: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for pair_id in ids:
            row = rows.get(pair_id)
            if row is None or not can_read_pair(actor, OrgPath.parse(row.path),
                                                {row.mentor_id, *members[pair_id]}):
                missing.append(str(pair_id))
                continue
            form = pools.PAIRING_FORMS.get(row.form)
            pairs[str(pair_id)] = {
                "status": row.status, "organisation_id": str(row.organisation_id), "path": row.path,
                "form": row.form, "form_title": form.title_ru if form and form.title_ru else row.form,
                "mentor_id": str(row.mentor_id), "mentee_ids": [str(m) for m in members[pair_id]],
                "formed_on": row.formed_on,
                # Another organisation's mentor: the order names their organisation too.
                "mentor_organisation_name": self._organisation_name(
                    row.mentor_organisation_id, row.mentor_path)
                if self._mentor_path(row) is not None else None,
                **({"goals": self._goals_opened(pair_id)} if with_goals else {})}
        log.info("pairing.pairs_served", actor=actor.user, served=len(pairs), missing=len(missing))
        return {"pairs": pairs, "missing": missing}

    def _goals_opened(self, pair_id: UUID) -> list[dict[str, Any]]:
        """A pair's goals as its page shows them (wording opened, or «текст удалён…»)."""
        pair: Pair = self.events.repository.get(pair_id)
        text = self._text_of(pair)
        return [{"title": text.open(g.get("sealed"), "title", g["title"]) or "", "due": g["due"],
                 "status": g["status"]} for g in pair.goals.values()]


def pair_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {"id": str(row.id), "programme_id": str(row.programme_id) if row.programme_id else None,
            "organisation_id": str(row.organisation_id), "path": row.path, "form": row.form,
            "mentor_id": str(row.mentor_id), "size": row.size, "status": row.status,
            "order_ref": row.order_ref, "score": row.score, "formed_on": row.formed_on,
            "last_meeting_on": row.last_meeting_on, "meetings": row.meetings,
            "mentor_organisation_id": str(row.mentor_organisation_id)
            if row.mentor_organisation_id else None,
            "mentor_path": row.mentor_path,
            "cross_organisation": bool(row.mentor_organisation_id is not None
                                       and row.mentor_organisation_id != row.organisation_id)}


#: As many pairs as one order may list.
MAX_PAIRS_PER_DOCUMENT = 2000


def document_pair_ids(raw: Any) -> list[UUID]:
    """The pair ids a document asks about, each once, in the order asked."""
    if not isinstance(raw, list) or len(raw) > MAX_PAIRS_PER_DOCUMENT:
        raise DomainError("INVALID_REQUEST", "Нужен список идентификаторов пар (не более "
                          f"{MAX_PAIRS_PER_DOCUMENT})", 422)
    try:
        return list(dict.fromkeys(UUID(str(i)) for i in raw))
    except ValueError:
        raise DomainError("INVALID_REQUEST", "Неверный идентификатор пары", 422) from None
