"""Candidate pools kept from the registry's events (``consumers.py`` writes them), and what
curators add after the group meeting.

No personal data: ids, category, grade, birth year, requests or competencies, capacity, consent
state, organisation and municipality. A mentor's current load is not kept here: it is counted
from the pairing's own pairs (``views.py``), the only place that knows it.

The registry's categories are mapped onto the matching core's here. The registry registers a
teacher-mentee only as ``young_teacher``, while some forms of mentorship (peer, reverse) name
``teacher`` mentees; a young teacher is a teacher, so a form admitting teacher mentees admits the
registry's young teachers too (``pairing_forms``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa

from services.pairing.matching import CATEGORIES, DEFAULT_FORMS, Form
from services.pairing.matching.domain import TEACHER, YOUNG_TEACHER
from shared.mentorship_forms import normalised

metadata = sa.MetaData()

organisations = sa.Table(
    "pairing_organisations", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("parent_id", sa.Uuid, nullable=True),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("municipality", sa.String(64), nullable=True),
    # Shown on a cross-organisation pair to the curators of both sides (not personal data).
    sa.Column("name", sa.String(500), nullable=True),
)
programmes = sa.Table(
    "pairing_programmes", metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("organisation_id", sa.Uuid, nullable=False),
    sa.Column("path", sa.String(200), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("school_year", sa.String(9), nullable=False),
)


def _person_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("organisation_id", sa.Uuid, nullable=False, index=True),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("municipality", sa.String(64), nullable=True, index=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=False),
        sa.Column("consent", sa.Boolean, nullable=False, default=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False, default=False),
    ]


mentors = sa.Table(
    "pairing_mentors", metadata, *_person_columns(),
    sa.Column("competencies", sa.JSON, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("grade", sa.Integer, nullable=True),  # a pupil-mentor's
)
mentees = sa.Table(
    "pairing_mentees", metadata, *_person_columns(),
    sa.Column("grade", sa.Integer, nullable=True),
    sa.Column("requests", sa.JSON, nullable=False),
    sa.Column("minor", sa.Boolean, nullable=False),
)
#: Named after the group meeting and entered by the curator through the pairing API.
profiles = sa.Table(
    "pairing_profiles", metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("preferred", sa.JSON, nullable=False),  # ids, most wanted first
    sa.Column("availability", sa.JSON, nullable=False),  # free time slots, e.g. "вт-вечер"
    sa.Column("relatives", sa.JSON, nullable=False),  # mentor ids who are parent / guardian
    sa.Column("class_teacher", sa.Uuid, nullable=True),  # mentor id
)

#: Registry category -> matching category. Anything not listed passes through when the matching
#: core knows it; an unknown category is kept but never admissible.
REGISTRY_CATEGORIES: Mapping[str, str] = MappingProxyType({
    "student": "student",
    "young_teacher": YOUNG_TEACHER,
    "college_student": "college_student",
    "university_student": "university_student",
})


def matching_category(registry_category: str) -> str | None:
    category = REGISTRY_CATEGORIES.get(registry_category, registry_category)
    return category if category in CATEGORIES else None


def _with_young_teachers(form: Form) -> Form:
    if TEACHER in form.mentee_categories and YOUNG_TEACHER not in form.mentee_categories:
        return Form(form.code, form.mentor_categories,
                    form.mentee_categories | {YOUNG_TEACHER}, form.title_ru)
    return form


PAIRING_FORMS: Mapping[str, Form] = MappingProxyType(
    {code: _with_young_teachers(form) for code, form in DEFAULT_FORMS.items()})


def resolve_form(text: str, forms: Mapping[str, Form] = PAIRING_FORMS) -> Form | None:
    """A form by its code or its Russian title («Ученик – ученик»), dashes and case aside."""
    wanted = normalised(text)
    for form in forms.values():
        if wanted in (normalised(form.code), normalised(form.title_ru)):
            return form
    # The brief's short titles: «учитель – учитель» is the first form whose title starts so.
    for form in forms.values():
        if normalised(form.title_ru).startswith(wanted + " ") or \
                normalised(form.title_ru).startswith(wanted + "("):
            return form
    return None


def create_tables(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    # Pools made before mentors had a grade: the column is added, their rows keep none (the
    # events they came from carried none either).
    if "grade" not in {c["name"] for c in sa.inspect(engine).get_columns(mentors.name)}:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {mentors.name} ADD COLUMN grade INTEGER"))
    # Pools made before organisations kept their names: a name comes with the next event of the
    # organisation; until then its code is shown.
    if "name" not in {c["name"] for c in sa.inspect(engine).get_columns(organisations.name)}:
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {organisations.name} ADD COLUMN name VARCHAR(500)"))
