"""Adding a mentor or a mentee by form (one person at a time, beside the import from a file):
personal data, category, grade, requests or competencies, and the consent — given by the person,
or by a legal guardian whom a minor must have named.

The registry checks everything (``POST /registry/mentors`` and ``/registry/mentees``); the form
shows each of its refusals next to the field it concerns, keeps what was typed, and on success
leads to the new person's card with a confirmation.

The registry has no command to change a person once registered: there is no edit form.

URLs: ``/organisations/{id}/people/new`` (``?role=mentor`` or ``mentee``).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import FIELD_TITLES, Session, Signed, field_errors, page_router, render
from services.portal.templating import CATEGORY_TITLES
from shared.auth import OrgPath

router = page_router()
Role = Literal["mentor", "mentee"]
#: The categories the registry takes for each role, in the order a school meets them.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "mentee": ("student", "young_teacher", "college_student"),
    "mentor": ("student", "teacher", "college_student", "university_student", "employer", "graduate",
               "parent", "partner"),
}
TEXT_FIELDS = ("last_name", "first_name", "middle_name", "birth_date", "category", "grade",
               "class_letter", "requests", "competencies", "capacity", "consent_given_by",
               "guardian_name", "snils", "phone", "email")
PERSONAL = ("last_name", "first_name", "middle_name", "birth_date", "snils", "phone", "email",
            "guardian_name")
#: Refusals of the registry that name no field, by code: the field they concern.
CODE_FIELDS = {"GUARDIAN_CONSENT_REQUIRED": "guardian_name", "DUPLICATE_PERSON": "last_name",
               "INVALID_CATEGORY": "category", "INVALID_CAPACITY": "capacity"}


def split_list(text: str) -> list[str]:
    """«олимпиада; проект, профориентация» → three items (as the import template separates them)."""
    return [item.strip() for item in re.split(r"[;,\n]", text) if item.strip()]


def person_body(values: dict[str, str], role: Role, organisation_id: UUID) -> dict[str, Any]:
    """The registry's command from the form's text. Empty optional fields go as null; a number
    that is not one goes as typed, so the registry names what is wrong with it."""
    def number(text: str) -> int | str | None:
        text = text.strip()
        return int(text) if text.isdigit() else (text or None)

    person = {name: values.get(name, "").strip() or None for name in PERSONAL}
    body: dict[str, Any] = {
        "organisation_id": str(organisation_id), "category": values.get("category", ""),
        "person": person, "consent_given_by": values.get("consent_given_by") or "self",
        "class_letter": values.get("class_letter", "").strip() or None,
        "grade": number(values.get("grade", "")),
    }
    if role == "mentor":
        body["competencies"] = split_list(values.get("competencies", ""))
        body["capacity"] = number(values.get("capacity", "")) or 1
    else:
        body["requests"] = split_list(values.get("requests", ""))
    return body


def form_page(request: Request, s: Session, org: dict[str, Any], role: Role, status: int = 200,
              values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
              general: list[str] | None = None) -> Response:
    # A mentee is most often a student; a mentor's category is chosen, never assumed (a teacher
    # saved as «обучающийся» would pass the checks of the wrong category).
    defaults = {"consent_given_by": "self", "capacity": "1",
                **({"category": "student"} if role == "mentee" else {})}
    return render(request, "person_form.html", status=status, actor=s.actor, org=org, role=role,
                  values={**defaults, **(values or {})}, errors=errors or {}, general=general or [],
                  categories=[(c, CATEGORY_TITLES[c]) for c in CATEGORIES[role]], titles=FIELD_TITLES)


@router.get("/organisations/{organisation_id}/people/new")
async def new_person(request: Request, organisation_id: UUID, s: Signed, role: Role = "mentee") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    s.actor.require_write(OrgPath.parse(org["path"]))
    return form_page(request, s, org, role)


@router.post("/organisations/{organisation_id}/people/new")
async def add_person(request: Request, organisation_id: UUID, s: Signed, role: Role = "mentee") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in TEXT_FIELDS}
    try:
        created = await s.api.post(f"/registry/{role}s", json=person_body(values, role, organisation_id))
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors, general = field_errors(exc, TEXT_FIELDS, CODE_FIELDS)
        return form_page(request, s, org, role, status=exc.status, values=values, errors=errors,
                         general=general)
    return RedirectResponse(f"/people/{created['id']}?saved=added", status_code=303)
