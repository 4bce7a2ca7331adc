"""What the pairing reads from its candidate pools: the scope of a request, the profiles of its
mentees and mentors as the matching core takes them, loads and who is already paired."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.sql.expression import SelectBase

from services.pairing import pools, views
from services.pairing.commands import Scope
from services.pairing.matching import Form, MenteeProfile, MentorProfile, Unmatched
from services.pairing.matching.domain import CATEGORY_NOT_ALLOWED
from shared.auth import OrgPath
from shared.errors import DomainError, not_found
from shared.titles import category_title

#: People by id: listed, or a query selecting them (a whole organisation or municipality: the
#: database selects them, rather than a statement carrying tens of thousands of ids).
Ids = Iterable[UUID] | SelectBase


def _listed(ids: Ids) -> list[UUID] | SelectBase:
    return ids if isinstance(ids, SelectBase) else list(ids)


@dataclass(frozen=True)
class ResolvedScope:
    form: Form
    path: OrgPath  # where the pairs of this scope belong
    programme_id: UUID | None = None
    organisation_id: UUID | None = None  # the programme's organisation


class PoolReader:
    """The reading half of the service layer that every query and command shares."""

    engine: sa.Engine
    today: Callable[[], date]

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

    def _loads(self, conn: sa.Connection, mentor_ids: Ids) -> dict[UUID, int]:
        """Places taken per mentor of ``mentor_ids`` (a command's or a page's mentors): the
        cost does not grow with the region's pairs (``benchmarks/bench_pair_rules.py``)."""
        pairs = views.pairs.c
        # The status as a sum's condition, not the query's: the mentors' index is then the one
        # a database picks (with both, SQLite walked every active pair of the region).
        taken = sa.func.sum(sa.case((pairs.status == "active", pairs.size), else_=0))
        query = (sa.select(pairs.mentor_id, taken).where(pairs.mentor_id.in_(_listed(mentor_ids)))
                 .group_by(pairs.mentor_id))
        return {r[0]: int(r[1]) for r in conn.execute(query).all() if r[1]}

    def _paired(self, conn: sa.Connection, mentee_ids: Ids) -> set[UUID]:
        """Those of ``mentee_ids`` in an active pair."""
        query = sa.select(views.pair_mentees.c.mentee_id).where(
            views.pair_mentees.c.active.is_(True),
            views.pair_mentees.c.mentee_id.in_(_listed(mentee_ids)))
        return set(conn.execute(query).scalars())

    def _withdrawn(self, conn: sa.Connection, ids: Ids) -> set[UUID]:
        """Withdrawals the pools may not have applied yet, seen by the consent watcher."""
        return set(conn.execute(sa.select(views.consent_inbox.c.person_id)
                                .where(views.consent_inbox.c.person_id.in_(_listed(ids)))).scalars())

    def _profiles(self, conn: sa.Connection, ids: Ids) -> dict[UUID, sa.Row[Any]]:
        rows = conn.execute(sa.select(pools.profiles)
                            .where(pools.profiles.c.person_id.in_(_listed(ids)))).all()
        return {r.person_id: r for r in rows}

    def _mentee_profile(self, row: sa.Row[Any], profile: sa.Row[Any] | None,
                        withdrawn: bool = False) -> MenteeProfile | None:
        person = self._person_fields(row, profile, withdrawn)
        if person is None:
            return None
        return MenteeProfile(
            **person, requests=frozenset(row.requests),
            relatives=frozenset(profile.relatives) if profile else frozenset(),
            class_teacher=str(profile.class_teacher) if profile and profile.class_teacher else None)

    def _mentor_profile(self, row: sa.Row[Any], profile: sa.Row[Any] | None, load: int,
                        withdrawn: bool = False) -> MentorProfile | None:
        person = self._person_fields(row, profile, withdrawn)
        if person is None:
            return None
        return MentorProfile(**person, competencies=frozenset(row.competencies),
                             capacity=row.capacity, load=load)

    def _person_fields(self, row: sa.Row[Any], profile: sa.Row[Any] | None,
                       withdrawn: bool) -> dict[str, Any] | None:
        """What a mentee's and a mentor's matching profile share; None for a category the
        matching does not know. Consent holds only while neither the row nor the caller
        says the person withdrew."""
        category = pools.matching_category(row.category)
        if category is None:
            return None
        return {
            "id": str(row.id), "category": category, "organisation": str(row.organisation_id),
            "municipality": row.municipality or "", "age": self.today().year - row.birth_year,
            "grade": row.grade, "availability": frozenset(profile.availability if profile else ()),
            "consent": bool(row.consent) and not row.withdrawn and not withdrawn,
            "preferred": tuple(profile.preferred) if profile else (),
        }

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
            mentor_query = sa.select(pools.mentors).where(
                pools.mentors.c.withdrawn.is_(False), pools.mentors.c.region == region,
                sa.or_(pools.mentors.c.municipality == municipality,
                       pools.mentors.c.municipality.is_(None)))
            mentee_rows = conn.execute(mentee_query.order_by(pools.mentees.c.id)).all()
            mentor_rows = conn.execute(mentor_query.order_by(pools.mentors.c.id)).all()
            # The same people as queries, not lists: a municipality's tens of thousands of ids
            # would otherwise be written into each statement.
            mentee_ids = mentee_query.with_only_columns(pools.mentees.c.id)
            mentor_ids = mentor_query.with_only_columns(pools.mentors.c.id)
            everyone = sa.union_all(mentee_ids, mentor_ids)
            paired = self._paired(conn, mentee_ids)
            loads = self._loads(conn, mentor_ids)
            profiles = self._profiles(conn, everyone)
            withdrawn = self._withdrawn(conn, everyone)
        unknown: list[Unmatched] = []
        mentees: list[MenteeProfile] = []
        for row in mentee_rows:
            if row.id in paired or row.id in withdrawn:
                continue
            profile = self._mentee_profile(row, profiles.get(row.id))
            if profile is None:
                unknown.append(Unmatched(str(row.id), CATEGORY_NOT_ALLOWED, f"Категория "
                                         f"«{category_title(row.category)}» не участвует в подборе"))
            else:
                mentees.append(profile)
        mentors = [p for r in mentor_rows if r.id not in withdrawn
                   if (p := self._mentor_profile(r, profiles.get(r.id), loads.get(r.id, 0)))]
        return mentees, mentors, unknown
