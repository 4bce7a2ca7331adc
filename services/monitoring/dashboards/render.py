"""A dashboard from counts: every figure of one unit, the units under it, shares and means
(hidden under ``min_group`` people) and the KPIs; the same code live and as of a date."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from services.monitoring import kpi, surveys
from shared import figures as fmt
from shared import periods
from shared.errors import DomainError
from shared.logging import get_logger

from .activity import PERIOD_MARK, latest_school_year, period_metric
from .fold import FoldSettings
from .tables import GROWTH_SCALE, HEADLINE, Counts

log = get_logger(__name__)


def children_of(counts: Counts, where: Mapping[str, tuple[str, str | None]],
                scope: str) -> dict[str, dict[str, float]]:
    return {child: {m: v for m, v in metrics.items() if m in HEADLINE}
            for child, metrics in counts.items() if where.get(child, ("", None))[1] == scope}


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


def _group(counts: Mapping[str, float], prefix: str) -> dict[str, int | float]:
    return {m[len(prefix):]: _num(v) for m, v in sorted(counts.items())
            if m.startswith(prefix) and v}


def _mean(total: float, n: float, min_group: int, scale: int = 1,
          people: float | None = None) -> dict[str, Any]:
    """A mean of ``n`` answers given by ``people`` people (each answered once when None),
    hidden when fewer than ``min_group`` people gave it."""
    count = int(n)
    if count <= 0:
        return {"count": 0, "mean": None, "suppressed": False}
    if (count if people is None else int(people)) < min_group:
        return {"count": f"<{min_group}", "mean": None, "suppressed": True}
    return {"count": count, "mean": round(total / scale / count, 2), "suppressed": False}


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


#: Means every summary shows beside the counts: (code, label, sum, answers, people).
MEANS = (
    ("satisfaction_mentors", "Удовлетворённость наставников встречами (средняя оценка 1–10)",
     "feedback.mentor"),
    ("satisfaction_mentees", "Удовлетворённость наставляемых встречами (средняя оценка 1–10)",
     "feedback.mentee"),
)


def headline(c: Mapping[str, float], settings: FoldSettings) -> list[dict[str, Any]]:
    """The unit's named figures, each with its value and the one formatter's text: what the
    portal, the XLSX and the report print, so they cannot disagree."""
    rows: list[dict[str, Any]] = [
        {"code": f.code, "label": f.label, "value": _num(c.get(f.metric, 0)),
         "display": fmt.count(c.get(f.metric, 0))} for f in settings.catalogue.figures]
    rows.append({"code": "feedback_completion", "label": "Встречи с обратной связью (доля ответов)",
                 "value": _ratio(c.get("feedback.submitted", 0), c.get("feedback.expected", 0)),
                 "display": fmt.share(int(c.get("feedback.submitted", 0)),
                                      int(c.get("feedback.expected", 0)))})
    for code, label, prefix in MEANS:
        mean = _mean(c.get(f"{prefix}.sum", 0), c.get(f"{prefix}.n", 0), settings.min_group,
                     people=c.get(f"{prefix}.people", 0))
        rows.append({"code": code, "label": label, "value": mean["mean"],
                     "display": fmt.mean(c.get(f"{prefix}.sum", 0), int(c.get(f"{prefix}.n", 0)),
                                         suppressed=mean["suppressed"],
                                         min_group=settings.min_group)})
    return rows


#: The KPI numerators counted per school-year period (distinct people active in it).
PERIOD_NUMERATORS = (kpi.MENTEES_STUDENTS_10_19, kpi.MENTORS_STUDENTS_15_19,
                     kpi.MENTEES_YOUNG_TEACHERS)


def parse_period(code: str | None) -> periods.Period | None:
    if code is None:
        return None
    try:
        return periods.parse(code)
    except ValueError as exc:
        raise DomainError("INVALID_PERIOD", f"Неверный период «{code}»: нужен учебный год "
                          "(2026/27) или полугодие (2026/27-1, 2026/27-2)", 422) from exc


def render_dashboard(scope: str, level: str, counts: Mapping[str, float],
                     children: Mapping[str, Mapping[str, float]], settings: FoldSettings,
                     names: Mapping[str, str] | None = None,
                     period: str | None = None) -> dict[str, Any]:
    """Every figure of one unit, with the KPIs, from its counts (live or as of a date). The
    KPIs' numerators are of ``period`` (a school year or a half), by default of the latest
    school year the unit has activity in."""
    c = defaultdict(float, counts)
    min_group = settings.min_group
    months = sorted(m.removeprefix("meetings.month.") for m in c if m.startswith("meetings.month."))
    chosen = parse_period(period) or parse_period(latest_school_year(counts))
    kpi_figures = {m: int(v) for m, v in c.items() if PERIOD_MARK not in m}
    for name in PERIOD_NUMERATORS:
        kpi_figures[name] = int(c[period_metric(name, chosen.code)]) if chosen else 0
    return {
        "scope": scope,
        "level": level,
        "period": chosen.code if chosen else None,
        "period_label": chosen.label if chosen else fmt.NO_DATA,
        "organisations": {"total": _num(c["organisations"]), "by_kind": _group(c, "organisations.")},
        "mentors": {"total": _num(c["mentors"]), "by_category": _group(c, "mentors.category."),
                    "by_form": _group(c, "mentors.form.")},
        "mentees": {"total": _num(c["mentees"]), "by_category": _group(c, "mentees.category."),
                    "by_form": _group(c, "mentees.form."), "minors": _num(c["mentees.minor"])},
        "consents_withdrawn": _num(c["consents.withdrawn"]),
        "consents": {"given": _num(c["consents.given"]), "withdrawn": _num(c["consents.withdrawn"])},
        "programmes": {"total": _num(c["programmes"]), "by_form": _group(c, "programmes.form.")},
        "pairs": {"formed": _num(c["pairs.formed"]), "groups": _num(c["pairs.groups"]),
                  "by_status": {"active": _num(c["pairs.active"]),
                                "completed": _num(c["pairs.completed"]),
                                "dissolved": _num(c["pairs.dissolved"])},
                  "by_form": _group(c, "pairs.form.")},
        "meetings": {
            "held": _num(c["meetings.held"]), "by_kind": _group(c, "meetings.kind."),
            "per_pair": _ratio(c["meetings.held"], c["pairs.formed"]),
            "by_month": [{"month": m, "meetings": _num(c[f"meetings.month.{m}"]),
                          "pairs": _num(c[f"pairs_met.month.{m}"]),
                          "per_pair": _ratio(c[f"meetings.month.{m}"], c[f"pairs_met.month.{m}"])}
                         for m in months]},
        "feedback": {"expected": _num(c["feedback.expected"]),
                     "submitted": _num(c["feedback.submitted"]),
                     "completion": _ratio(c["feedback.submitted"], c["feedback.expected"])},
        "satisfaction": {
            "feedback": {side: _mean(c[f"feedback.{side}.sum"], c[f"feedback.{side}.n"], min_group,
                                     people=c[f"feedback.{side}.people"])
                         for side in ("mentor", "mentee")},
            "survey": {role: _mean(c[f"survey.{role}.sum"], c[f"survey.{role}.n"], min_group,
                                   people=c[f"survey.{role}.people"])
                       for role in ("mentor", "mentee", "curator")}},
        "growth": {name: _mean(c[f"growth.{name}.sum"], c[f"growth.{name}.n"], min_group,
                               GROWTH_SCALE)
                   for name in (*surveys.DIMENSIONS, "overall")},
        "surveys": {"total": _num(c["surveys"]), "by_stage": _group(c, "surveys.")},
        "contingent": {name: _num(c[kpi.CONTINGENT_PREFIX + name])
                       for name in sorted(kpi.CONTINGENT_FIELDS)},
        "kpis": [s.to_json() for s in kpi.shares(settings.catalogue, kpi_figures)],
        "headline": headline(c, settings),
        "disclosure": {"min_group": min_group, "hidden": fmt.hidden(min_group)},
        "units": [{"scope": child, "name": (names or {}).get(child),
                   **{m: _num(v) for m, v in sorted(figures.items())},
                   "display": {m: fmt.count(figures.get(m, 0)) for m in HEADLINE}}
                  for child, figures in sorted(children.items())],
    }


