"""What of one person leaves the registry for one reader (152-ФЗ, ст. 5 — minimisation).

The registry unseals a person's data only to decide; ``shared.auth.personal_data_view`` says how
much of it the reader gets, and the functions here cut the answer to that: everything, the name
alone, a pseudonymous label, or ids.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from services.registry.domain import SHARED_FIELDS
from services.registry.validation import is_minor
from shared.auth import PersonalView
from shared.errors import DomainError

NAME_FIELDS = ("last_name", "first_name", "middle_name")
#: Views that show who the person is; a read under one of them is recorded as a read of
#: personal data, a label or an id is not.
NAMING_VIEWS = frozenset({PersonalView.FULL, PersonalView.NAME})
#: As many people as one document may name.
MAX_PEOPLE_PER_DOCUMENT = 2000


def is_protected(row: sa.Row[Any], personal: dict[str, Any] | None, today: date) -> bool:
    """A child, or someone only a child's record names: every mentee, and a mentor under 18.

    A mentor whose age cannot be read (data shredded) counts as protected: nothing to show anyway."""
    if row.role != "mentor":
        return True
    try:
        born = date.fromisoformat(str((personal or {})["birth_date"]))
    except (KeyError, ValueError):
        return True
    return is_minor(born, today)


def full_name_of(personal: dict[str, Any] | None) -> str | None:
    if not personal or not personal.get("last_name"):
        return None
    return " ".join(p for p in (personal["last_name"], personal.get("first_name"),
                                personal.get("middle_name")) if p)


def person_json(row: sa.Row[Any], personal: dict[str, Any] | None,
                view: PersonalView = PersonalView.FULL, label: str | None = None) -> dict[str, Any]:
    """The person as ``view`` shows them. ``names_hidden``: the reader is shown ``label`` (or,
    an auditor, the id alone) instead of a name — not the same as data shredded on withdrawal
    (``personal`` and ``full_name`` null, ``names_hidden`` false)."""
    if view is PersonalView.NAME and personal:
        personal = {k: personal.get(k) for k in NAME_FIELDS}
    elif view in (PersonalView.LABEL, PersonalView.IDS):
        personal = None
    return {
        "id": str(row.id), "role": row.role, "organisation_id": str(row.organisation_id),
        "category": row.category, "grade": row.grade,
        "birth_year": row.birth_year if view is PersonalView.FULL else None,
        **row.attributes, "consent": row.consent, "withdrawn": row.withdrawn,
        "can_be_paired": row.consent is not None and not row.withdrawn,
        "full_name": full_name_of(personal), "personal": personal,
        "label": None if view is PersonalView.IDS else label,
        "names_hidden": view not in NAMING_VIEWS,
    }


def document_entry(person: dict[str, Any], view: PersonalView,
                   protected: bool) -> dict[str, Any] | None:
    """What a document may print of a person (``shared.contracts.PersonNames``); None when
    nothing (an id-only reader, or data shredded)."""
    base = {"role": person["role"], "organisation_id": person["organisation_id"],
            "label": person["label"], "protected": protected}
    if person["withdrawn"]:  # erased: no document names them again, not even by label
        return None
    if view is PersonalView.LABEL and person["label"]:
        return {**base, "full_name": person["label"], "pseudonymous": True,
                **{name: None for name in SHARED_FIELDS}}
    personal = person.get("personal")
    if view not in NAMING_VIEWS or not personal:
        return None
    return {**base, "full_name": person["full_name"], "pseudonymous": False,
            **{name: personal.get(name) for name in SHARED_FIELDS}}


def sort_key(person: dict[str, Any]) -> tuple[str, str]:
    return (person["full_name"] or person["label"] or "~", person["id"])


def matches(person: dict[str, Any], needle: str) -> bool:
    """Search what the reader is shown, never a hidden name (that would answer «is Орлов here?»)."""
    return needle in (person["full_name"] or person["label"] or "").lower()


def document_person_ids(raw: Any) -> list[UUID]:
    if not isinstance(raw, list) or len(raw) > MAX_PEOPLE_PER_DOCUMENT:
        raise DomainError("INVALID_REQUEST", "Нужен список идентификаторов участников", 422)
    try:
        return [UUID(str(i)) for i in raw]
    except ValueError:
        raise DomainError("INVALID_REQUEST", "Неверный идентификатор участника", 422) from None
