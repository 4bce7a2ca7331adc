"""Dashboards of a territory or an organisation, for municipalities, the region and auditors:
its figures and KPIs (live or as of a date), its units ranked among their own kind by the share
they are drawn by, meetings month by month (a month without any shown as zero), the roadmap items overdue
beneath it, the drill-down from region to municipality to organisation, and the XLSX export.

URLs: ``/dashboard`` (``?org=`` a path, ``&as_of=`` a date), ``/dashboard/export.xlsx``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from fastapi import Query, Request, Response

from services.portal import export
from services.portal.charts import Bar, bar_chart, distinct_labels, every_month, month_label
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
    #: With ``as_of``: ``shown`` (as the figures showed then) or ``known`` (as true then, known today).
    basis: str = "shown"


#: The KPI a unit is ranked by.
RANKING_KPI = "students_mentees"


async def load_dashboard(s: Session, org: str | None, as_of: str | None = None,
                         basis: str | None = None) -> Dashboard:
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
        s.api.get("/monitoring/dashboard", org=scope, as_of=as_of,
                  **({"basis": basis} if as_of and basis else {})),
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
    return Dashboard(scope, current, ancestors, own, ranked_by_kind(rows), overdue, own.get("as_of"),
                     basis or "shown")


#: The order kinds of units are listed in; each kind is ranked among its own kind only.
KIND_ORDER = ("municipality", "school", "college", "additional", "university", "employer",
              "culture", "sport", "other_partner")
KIND_GROUPS = {"municipality": "Муниципалитеты", "school": "Школы", "college": "Колледжи",
               "additional": "Организации дополнительного образования", "university": "Вузы",
               "employer": "Предприятия", "culture": "Организации культуры",
               "sport": "Спортивные организации", "other_partner": "Другие партнёры"}


def share(row: dict[str, Any]) -> float:
    """What a unit is ranked by: its KPI share in per cent (0 when unknown or hidden)."""
    kpi = row.get("kpi") or {}
    if kpi.get("suppressed") or not kpi.get("value"):
        return 0.0
    # Half up, as the monitoring service rounds its «2,2 %» (a float's round() may say 2,1).
    return float((Decimal(str(kpi["value"])) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))


def ranked_by_kind(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Units grouped by kind (a factory is not ranked among schools), each group by the KPI share,
    then by mentees; ``place`` counts within the group, ``group`` names it."""
    def order(kind: str) -> int:
        return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    out: list[dict[str, Any]] = []
    for kind in sorted({r["kind"] for r in rows}, key=order):
        group = sorted((r for r in rows if r["kind"] == kind),
                       key=lambda r: (-share(r), -r["figures"].get("mentees", 0), r["name"]))
        labels = distinct_labels([r["name"] for r in group])
        out += [{**r, "place": i, "group": KIND_GROUPS.get(kind, kind), "share": share(r), "label": label}
                for i, (r, label) in enumerate(zip(group, labels, strict=True), start=1)]
    return out


def said(row: dict[str, Any]) -> str | None:
    """A bar's text as the rating's table says it: the monitoring's own «—» for a unit without
    the KPI (not the «0 %» its bar's length stands for)."""
    return row["kpi"].get("display") if row.get("kpi") else "—"


def ranking_charts(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """One chart per kind of unit, drawn by the share it is ranked by."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    # A kind the KPI says nothing of (an employer has no students aged 10–19) gets no chart.
    return [(group, bar_chart(f"{group}: доля обучающихся 10–19 лет в программах наставничества",
                              [Bar(r["label"], r["share"], text=said(r)) for r in members],
                              unit=" %"))
            for group, members in groups.items() if any(r.get("kpi") for r in members)]


def meetings_trend(months: list[dict[str, Any]]) -> Any:
    filled = every_month(months)
    return bar_chart("Встречи по месяцам", [Bar(month_label(m["month"]), m.get("meetings") or 0)
                                            for m in filled]) if filled else None


async def no_items() -> list[dict[str, Any]]:
    return []


def kpi_chart(kpis: list[dict[str, Any]]) -> Any:
    # Lengths from the raw shares; every text the chart prints is the one formatter's.
    return bar_chart("Показатели целевой модели: доля и цель", [
        Bar(k["title"], (k["value"] or 0) * 100,
            k["target"] * 100 if k.get("target") is not None else None,
            text=k["display"], target_text=k["target_display"])
        for k in kpis if not k.get("suppressed")], unit=" %")


#: Which history a dashboard as of a date shows (``/monitoring/dashboard``'s ``basis``).
BasisChoice = Annotated[str | None, Query(pattern=r"^(shown|known)$")]


@router.get("/dashboard")
async def dashboard(request: Request, s: Signed, org: str | None = None,
                    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                    basis: BasisChoice = None) -> Response:
    data = await load_dashboard(s, org, as_of, basis)
    charts = ranking_charts(data.children) if data.as_of is None else []
    trend = meetings_trend(data.figures.get("meetings", {}).get("by_month", []))
    return render(request, "dashboard.html", actor=s.actor, d=data, charts=charts, trend=trend,
                  kpis=kpi_chart(data.figures.get("kpis", [])))


@router.get("/dashboard/export.xlsx")
async def dashboard_export(s: Signed, org: str | None = None,
                           as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                           basis: BasisChoice = None) -> Response:
    data = await load_dashboard(s, org, as_of, basis)
    content = export.dashboard_xlsx(data.current, data.figures, data.children, data.overdue, KIND_TITLES)
    name = f"monitoring-{data.scope.replace('/', '-')}{'-' + as_of if as_of else ''}.xlsx"
    return Response(content, media_type=export.XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={name}"})

