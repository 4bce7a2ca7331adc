"""The reporting calendar in the portal: a unit's reports with their deadlines, what is due or
overdue, the submission of a report, and — for the level above — who is late.

Deadlines and statuses come from the monitoring service's calendar (``ReportDue``); the draft
of each due report and its submission (``ReportSubmitted``) from the documents service. A report
the documents service has taken counts as submitted at once, even before the calendar has
heard of it over the bus.

URLs: ``/reports`` (``?org=`` a territory), ``/organisations/{id}/reports``,
``/reports/{draft_id}/submit``, ``/reports/remind`` (the level above reminds a late one).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse

from services.portal import navigation
from services.portal.client import ApiError
from services.portal.frame import Session, Signed, htmx, page_router, render, see_other
from services.portal.lookups import own_organisation, parse_scope
from services.portal.templating import templates
from shared import periods
from shared.auth import OrgPath
from shared.errors import DomainError

router = page_router()
LEVEL_TITLES = {"organisation": "организация → муниципалитет", "municipality": "муниципалитет → регион",
                "region": "регион"}
templates.env.globals.update(report_levels=LEVEL_TITLES)


def period_title(value: str) -> str:
    """``2026/27-1`` as people name it: «1-е полугодие 2026/27 учебного года»."""
    return periods.label(value)


templates.env.filters["period_title"] = period_title
#: Those who sign a report by default, by the reporting unit's kind.
SIGNATORIES = {"municipality": "Начальник управления образования", "region": "Руководитель"}
TERRITORIES = ("region", "municipality")


@dataclass
class Reports:
    scope: str
    current: dict[str, Any]
    #: The unit's own reports, due or overdue (to submit), and the rest (submitted, upcoming).
    to_submit: list[dict[str, Any]]
    others: list[dict[str, Any]]
    #: Reports of the units reporting to this one, and those of them past the deadline.
    below: list[dict[str, Any]]
    late: list[dict[str, Any]]
    #: Further down (a region's schools, late with their municipality): receiver → how many.
    late_further: list[tuple[dict[str, Any], int]]
    configured: bool
    today: str | None


async def load_reports(s: Session, scope: str,
                       organisations: list[dict[str, Any]] | None = None) -> Reports:
    """``organisations``: the units the caller already has (the worklist: its own organisation,
    which reports alone), instead of every organisation the user may read."""
    calendar, drafts, organisations = await asyncio.gather(
        s.api.get("/monitoring/calendar", org=scope), s.api.get("/documents/reports", under=scope),
        known(organisations) if organisations is not None else s.api.get("/registry/organisations"))
    by_path = {o["path"]: o for o in organisations}
    current = by_path.get(scope)
    if current is None:
        raise DomainError("ORGANISATION_NOT_FOUND", "Организация или территория не найдена", 404)
    by_report = {d["report_id"]: d for d in drafts}
    rows = []
    for report in calendar["reports"]:
        draft = by_report.get(report["report_id"])
        status = "submitted" if draft and draft["status"] == "submitted" else report["status"]
        unit = by_path.get(report["path"], {})
        rows.append({**report, "status": status, "draft": draft, "name": unit.get("name", report["path"]),
                     "unit": unit})
    own = [r for r in rows if r["path"] == scope]
    below = [r for r in rows if r["path"] != scope and r["reported_to"] == scope]
    further = Counter(r["reported_to"] for r in rows if r["path"] != scope
                      and r["reported_to"] != scope and r["status"] == "overdue")
    return Reports(
        scope, current,
        to_submit=[r for r in own if r["status"] in ("due", "overdue")],
        others=[r for r in own if r["status"] not in ("due", "overdue")],
        below=below, late=sorted((r for r in below if r["status"] == "overdue"),
                                 key=lambda r: (r["days_left"], r["name"])),
        late_further=[(by_path.get(path, {"name": path, "path": path}), n)
                      for path, n in sorted(further.items()) if path],
        configured=bool(calendar["configured"]), today=calendar.get("today"))


async def known(organisations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return organisations


def reports_view(request: Request, s: Session, data: Reports, **extra: Any) -> Response:
    return render(request, "reports.html", actor=s.actor, r=data, org=data.current,
                  can_write=s.actor.can_write(OrgPath.parse(data.scope)),
                  submitted=request.query_params.get("submitted"),
                  reminded=request.query_params.get("reminded"), **extra)


@router.get("/reports")
async def reports_page(request: Request, s: Signed, org: str | None = None) -> Response:
    if org is None and navigation.works_in_own_organisation(s.actor):
        own = await own_organisation(s)
        return RedirectResponse(f"/organisations/{own['id']}/reports", status_code=303)
    data = await load_reports(s, parse_scope(org, s.actor))
    if data.current["kind"] not in TERRITORIES:
        return RedirectResponse(f"/organisations/{data.current['id']}/reports", status_code=303)
    return reports_view(request, s, data)


@router.get("/organisations/{organisation_id}/reports")
async def organisation_reports(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    if org["kind"] in TERRITORIES:
        return RedirectResponse(f"/reports?org={quote(org['path'])}", status_code=303)
    return reports_view(request, s, await load_reports(s, org["path"]), tabs=True)


# --- submitting one report --------------------------------------------------------------------

async def draft_of(s: Session, draft_id: UUID) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The draft (as the documents service lists it to this user), its unit and the unit's parent."""
    drafts, organisations = await asyncio.gather(s.api.get("/documents/reports"),
                                                 s.api.get("/registry/organisations"))
    draft = next((d for d in drafts if d["id"] == str(draft_id)), None)
    if draft is None:
        raise DomainError("REPORT_NOT_FOUND", "Отчёт не найден", 404)
    by_path = {o["path"]: o for o in organisations}
    unit = by_path.get(draft["path"], {"name": draft["path"], "kind": "", "path": draft["path"], "id": ""})
    by_id = {o["id"]: o for o in organisations}
    parent = by_id.get(unit.get("parent_id") or "", {})
    return draft, unit, parent


def back_to(unit: dict[str, Any]) -> str:
    if unit.get("kind") in TERRITORIES or not unit.get("id"):
        return f"/reports?org={quote(unit['path'])}"
    return f"/organisations/{unit['id']}/reports"


def report_form(request: Request, s: Session, draft: dict[str, Any], unit: dict[str, Any],
                parent: dict[str, Any], values: dict[str, str], status: int = 200,
                error: str | None = None, errors: dict[str, str] | None = None) -> Response:
    # htmx (which shows the progress of the submission) swaps just the form with its errors.
    return render(request, "_report_form.html" if htmx(request) else "report_submit.html", status=status,
                  actor=s.actor, draft=draft, unit=unit, parent=parent, values=values, error=error,
                  errors=errors or {}, back=back_to(unit))


@router.get("/reports/{draft_id}/submit")
async def submit_form(request: Request, draft_id: UUID, s: Signed) -> Response:
    draft, unit, parent = await draft_of(s, draft_id)
    s.actor.require_write(OrgPath.parse(draft["path"]))
    if draft["status"] != "draft":
        raise DomainError("REPORT_ALREADY_SUBMITTED", "Отчёт уже сдан", 409)
    # A school's curator may not read its municipality's record: then the territory is typed in.
    territory = unit["name"] if unit.get("kind") in TERRITORIES else parent.get("name", "")
    values = {"organisation_name": unit["name"], "parent_organisation": parent.get("name", ""),
              "territory": territory, "place": "", "full_name": "", "conclusions": "",
              "position": SIGNATORIES.get(unit.get("kind", ""), "Директор")}
    return report_form(request, s, draft, unit, parent, values)


@router.post("/reports/{draft_id}/submit")
async def submit_report(request: Request, draft_id: UUID, s: Signed,
                        organisation_name: Annotated[str, Form(max_length=500)] = "",
                        parent_organisation: Annotated[str, Form(max_length=500)] = "",
                        territory: Annotated[str, Form(max_length=300)] = "",
                        place: Annotated[str, Form(max_length=200)] = "",
                        position: Annotated[str, Form(max_length=200)] = "",
                        full_name: Annotated[str, Form(max_length=200)] = "",
                        conclusions: Annotated[str, Form(max_length=20000)] = "") -> Response:
    draft, unit, parent = await draft_of(s, draft_id)
    values = {"organisation_name": organisation_name, "parent_organisation": parent_organisation,
              "territory": territory, "place": place, "position": position, "full_name": full_name,
              "conclusions": conclusions}
    body = {"organisation_name": organisation_name, "parent_organisation": parent_organisation or None,
            "place": place, "territory": territory,
            "signatory": {"position": position, "full_name": full_name},
            "conclusions": [line.strip() for line in conclusions.splitlines() if line.strip()]}
    try:
        result = await s.api.post(f"/documents/reports/{draft_id}/submit", json=body)
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        errors = {str(d.get("field", "")).rsplit(".", 1)[-1]: str(d.get("message", "")) for d in exc.details}
        return report_form(request, s, draft, unit, parent, values, status=exc.status,
                           error=exc.message, errors=errors)
    back = back_to(unit)
    number = (result.get("document") or {}).get("number") or "—"
    return see_other(request, f"{back}{'&' if '?' in back else '?'}submitted={quote(str(number))}")


@router.post("/reports/remind")
async def remind(request: Request, s: Signed, report_id: Annotated[str, Form(max_length=300)],
                 org: Annotated[str, Form(max_length=200)]) -> Response:
    """«Напомнить»: the late one's curators (or officials) get a notification, and mail."""
    answer = await s.api.post("/monitoring/notifications/remind", json={"report_id": report_id})
    outcome = "sent" if answer["reminded"] else "today"
    return see_other(request, f"/reports?org={quote(org)}&reminded={outcome}")
