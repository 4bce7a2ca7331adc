"""An organisation's mentorship programmes: each runs one form of mentorship for one school year
under a named curator; the curator launches the year's programme here
(``POST /registry/programmes``).

The registry takes any form's title; no API lists the region's catalogue of forms yet, so the
form field offers the forms of the target model (ЦМН and the 2021 recommendations for
teachers) and those the organisation already runs, and accepts a form the region has added.

URLs: ``/organisations/{id}/programmes`` (the list and the launch).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.collation import ru_sorted
from services.portal.frame import Session, Signed, field_errors, page_router, render
from services.portal.lookups import current_school_year, date_today
from shared.auth import OrgPath
from shared.titles import FORM_TITLES, form_title

router = page_router()
FIELDS = ("form", "school_year", "curator")
#: The forms of mentorship the federal recommendations name (the pairing service knows them by
#: these titles too); a region's own forms are typed in.
TARGET_MODEL_FORMS = tuple(FORM_TITLES.values())


def school_years(today: datetime.date) -> list[str]:
    """The years a programme is launched for: the current one and the next."""
    current = current_school_year(today)
    start = int(current[:4])
    return [current, f"{start + 1}-{start + 2}"]


def page(request: Request, s: Session, org: dict[str, Any], programmes: list[dict[str, Any]],
         status: int = 200, values: dict[str, str] | None = None,
         errors: dict[str, str] | None = None, general: list[str] | None = None) -> Response:
    today = datetime.date.fromisoformat(date_today())
    years = school_years(today)
    forms = list(dict.fromkeys([*TARGET_MODEL_FORMS,
                                *ru_sorted({form_title(p["form"]) for p in programmes})]))
    listed = sorted(programmes, key=lambda p: (p["school_year"], p["form"]), reverse=True)
    return render(request, "programmes.html", status=status, actor=s.actor, org=org,
                  programmes=listed, years=years, forms=forms, current=years[0],
                  values={"school_year": years[0], **(values or {})}, errors=errors or {},
                  general=general or [], saved=request.query_params.get("saved"),
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])))


@router.get("/organisations/{organisation_id}/programmes")
async def programmes_page(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    programmes = await s.api.get(f"/registry/organisations/{organisation_id}/programmes")
    return page(request, s, org, programmes)


@router.post("/organisations/{organisation_id}/programmes")
async def launch_programme(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in FIELDS}
    try:
        await s.api.post("/registry/programmes", json={"organisation_id": str(organisation_id), **values})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors, general = field_errors(exc, FIELDS)
        programmes = await s.api.get(f"/registry/organisations/{organisation_id}/programmes")
        return page(request, s, org, programmes, exc.status, values, errors, general)
    return RedirectResponse(f"/organisations/{organisation_id}/programmes?saved=1", status_code=303)
