"""Dashboards of a territory or an organisation, for municipalities, the region and auditors:
its figures and KPIs (live or as of a date), its units ranked, the roadmap items overdue
beneath it, the drill-down from region to municipality to organisation, and the XLSX export.

URLs: ``/dashboard`` (``?org=`` a path, ``&as_of=`` a date), ``/dashboard/export.xlsx``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request, Response

from services.portal import export
from services.portal.charts import Bar, bar_chart
from services.portal.frame import Session, Signed, page_router, render
from services.portal.lookups import parse_scope
from services.portal.templating import KIND_TITLES
from shared.auth import OrgPath
from shared.errors import DomainError

router = page_router()


@dataclass
class Dashboard:
    scope: str
    current: dict[str, Any]
    ancestors: list[dict[str, Any]]
    #: What monitoring's ``/monitoring/dashboard`` answers for the scope (KPIs, counts, units).
    figures: dict[str, Any]
    children: list[dict[str, Any]]
    overdue: list[dict[str, Any]]
    as_of: str | None


#: The KPI a unit is ranked by.
RANKING_KPI = "students_mentees"


async def load_dashboard(s: Session, org: str | None, as_of: str | None = None) -> Dashboard:
    scope = parse_scope(org, s.actor)
    # Everything the user may read, once: the scope, its ancestors for the breadcrumbs, children.
    organisations = await s.api.get("/registry/organisations")
    by_path = {o["path"]: o for o in organisations}
    current = by_path.get(scope)
    if current is None:
        raise DomainError("ORGANISATION_NOT_FOUND", "Организация или территория не найдена", 404)
    path = OrgPath.parse(scope)
    ancestors = [by_path[p] for p in (path.region, f"{path.region}/{path.municipality}")
                 if p in by_path and p != scope]
    children = [o for o in organisations if o["parent_id"] == current["id"]]
    # As of a date each unit's KPIs would be one more replay of the log: rank by counts then.
    live = as_of is None
    own, overdue, *each = await asyncio.gather(
        s.api.get("/monitoring/dashboard", org=scope, as_of=as_of),
        s.api.get("/documents/roadmaps/overdue", under=scope) if live else no_items(),
        *(s.api.get("/monitoring/kpis", org=c["path"]) for c in children if live))
    for item in overdue:
        item["organisation"] = by_path.get(item["path"], {}).get("name", item["path"])
    units = {u["scope"]: u for u in own.get("units", [])}
    kpis = [next((k for k in e["kpis"] if k["code"] == RANKING_KPI), None) for e in each]
    kpis = kpis or [None] * len(children)
    rows = [{**child, "figures": units.get(child["path"], {}), "kpi": kpi,
             "late": sum(OrgPath.parse(child["path"]).contains(OrgPath.parse(i["path"])) for i in overdue)}
            for child, kpi in zip(children, kpis, strict=True)]
    rows.sort(key=lambda r: (-((r["kpi"] or {}).get("value") or 0), -r["figures"].get("mentees", 0),
                             r["name"]))
    return Dashboard(scope, current, ancestors, own, rows, overdue, own.get("as_of"))


async def no_items() -> list[dict[str, Any]]:
    return []


def kpi_chart(kpis: list[dict[str, Any]]) -> Any:
    return bar_chart("Показатели целевой модели: доля и цель", [
        Bar(k["title"], round((k["value"] or 0) * 100, 1),
            round(k["target"] * 100, 1) if k.get("target") is not None else None)
        for k in kpis if not k.get("suppressed")], unit="%")


@router.get("/dashboard")
async def dashboard(request: Request, s: Signed, org: str | None = None,
                    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None) -> Response:
    data = await load_dashboard(s, org, as_of)
    chart = bar_chart("Наставляемые по организациям", [
        Bar(row["name"], row["figures"].get("mentees", 0)) for row in data.children
    ]) if data.children else None
    months = data.figures.get("meetings", {}).get("by_month", [])
    trend = bar_chart("Встречи по месяцам", [Bar(m["month"], m["meetings"] or 0) for m in months]) \
        if months else None
    return render(request, "dashboard.html", actor=s.actor, d=data, chart=chart, trend=trend,
                  kpis=kpi_chart(data.figures.get("kpis", [])))


@router.get("/dashboard/export.xlsx")
async def dashboard_export(s: Signed, org: str | None = None,
                           as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None
                           ) -> Response:
    data = await load_dashboard(s, org, as_of)
    content = export.dashboard_xlsx(data.current, data.figures, data.children, data.overdue, KIND_TITLES)
    name = f"monitoring-{data.scope.replace('/', '-')}{'-' + as_of if as_of else ''}.xlsx"
    return Response(content, media_type=export.XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={name}"})

