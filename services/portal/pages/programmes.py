"""An organisation's mentorship programmes: each runs one form of mentorship for one school year
under a named curator; the curator launches the year's programme here
(``POST /registry/programmes``).

The form field offers the forms the region's catalogue enables (``GET /registry/forms``); the
registry refuses any other (422 ``FORM_DISABLED``), and the page shows its words.

URLs: ``/organisations/{id}/programmes`` (the list and the launch).
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import Session, Signed, field_errors, page_router, render
from services.portal.lookups import current_school_year, date_today
from shared.auth import OrgPath

router = page_router()
FIELDS = ("form", "school_year", "curator")
FORM_REFUSALS = {"FORM_DISABLED": "form", "FORM_UNKNOWN": "form"}


def school_years(today: datetime.date) -> list[str]:
    """The years a programme is launched for: the current one and the next."""
    current = current_school_year(today)
    start = int(current[:4])
    return [current, f"{start + 1}-{start + 2}"]


def page(request: Request, s: Session, org: dict[str, Any], programmes: list[dict[str, Any]],
         catalogue: dict[str, Any], status: int = 200, values: dict[str, str] | None = None,
         errors: dict[str, str] | None = None, general: list[str] | None = None) -> Response:
    today = datetime.date.fromisoformat(date_today())
    years = school_years(today)
    # Sent by title, as programmes always were: the pairing service and the trail read either.
    forms = [f["title"] for f in catalogue["forms"] if f["enabled"]]
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
    return page(request, s, org, programmes, await s.api.get("/registry/forms"))


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
        errors, general = field_errors(exc, FIELDS, FORM_REFUSALS)
        programmes = await s.api.get(f"/registry/organisations/{organisation_id}/programmes")
        return page(request, s, org, programmes, await s.api.get("/registry/forms"), exc.status,
                    values, errors, general)
    return RedirectResponse(f"/organisations/{organisation_id}/programmes?saved=1", status_code=303)
