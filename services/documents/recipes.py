"""What each kind of document is made of, and the one pure mapping recipe → DOCX bytes.

A recipe is the validated request (registry persons by id, never by name) plus the number and
date the document was registered under. Issue and download both render through ``render`` from
a recipe read back from its JSON, so the bytes re-rendered at download are the bytes whose
SHA-256 was registered at issue — unless the registry's answer about a person changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import Field

from services.documents import plans, templates
from services.documents.commands import (
    AwardOrderIn,
    Body,
    ConsentIn,
    CuratorOrderIn,
    IssueIn,
    ReportTextIn,
    ThanksLetterIn,
)
from services.documents.peers import Peers
from shared import periods
from shared.auth import Actor, OrgPath
from shared.contracts import PersonNames
from shared.errors import DomainError

#: What the registry gave the acting user for each person a document names (never stored).
Names = Mapping[UUID, PersonNames]


class OrderedPair(Body):
    """A pair (group) as the order prints it and its recipe keeps it: as the pairing formed it."""

    #: None only in recipes stored before orders were checked against the pairing service.
    pair_id: UUID | None = None
    mentor_id: UUID
    mentee_ids: list[UUID] = Field(min_length=1, max_length=30)
    form: str = Field(min_length=2, max_length=100)
    #: Set when the mentor belongs to another organisation than the order's (a confirmed pair).
    mentor_organisation: str | None = Field(default=None, max_length=500)


class PairsOrderRecipe(IssueIn):
    """What a pairs order is rendered from (``pairs.order_recipe`` makes it from a request)."""

    school_year: str = Field(pattern=r"^\d{4}-\d{4}$")
    pairs: list[OrderedPair] = Field(min_length=1, max_length=2000)


#: Who the units under a reporting unit are, by its level: the table's column and the chart's.
UNIT_TITLES: dict[str, tuple[str, str]] = {
    "organisation": ("Организация", "по организациям"),
    "municipality": ("Организация", "по организациям"),
    "region": ("Муниципальное образование", "по муниципальным образованиям"),
}
SATISFACTION_TITLE = "Удовлетворённость наставников / наставляемых встречами (1–10)"


def _percent(fraction: float | None) -> float | None:
    # Through the decimal text: 0.1 × 100 is 10.000000000000002 in floats.
    return None if fraction is None else float(Decimal(str(fraction)) * 100)


def _shown(dashboard: Mapping[str, Any], code: str) -> str:
    return next((h["display"] for h in dashboard.get("headline", []) if h["code"] == code), "—")


def satisfaction_text(dashboard: Mapping[str, Any] | None) -> str | None:
    """Mentors' / mentees' mean satisfaction from meeting feedback, as the dashboard shows it."""
    if dashboard is None:
        return None
    return f"{_shown(dashboard, 'satisfaction_mentors')} / {_shown(dashboard, 'satisfaction_mentees')}"


def period_code(period: str) -> str | None:
    """The school-year period a report's text names («2026/27-1»), else None (free text)."""
    try:
        return periods.parse(period).code
    except ValueError:
        return None


def report_title(period: str) -> str:
    """«… за 1-е полугодие 2026/27 учебного года»: the period as people name it."""
    return f"Информационно-аналитический отчёт за {periods.label(period)}"


def disclosure_note(dashboard: Mapping[str, Any]) -> str:
    hidden = (dashboard.get("disclosure") or {}).get("hidden", "скрыто")
    return (f"«{hidden}» — значение скрыто, чтобы по нему нельзя было узнать отдельного человека; "
            "«нет данных: контингент нужно обновить» — участников больше, чем в заявленном "
            "контингенте; «—» — нет данных для расчёта.")


def report_content(body: ReportTextIn, period: str, dashboard: Mapping[str, Any],
                   units: Mapping[str, Mapping[str, Any]]) -> templates.ReportContent:
    """The report's tables from the dashboard of its unit (and those of the units under it, for
    their satisfaction): the KPIs with numerator, denominator and target, and the participants."""
    level = dashboard["level"]
    indicators = [templates.Indicator(
        name=k["title"], value=_percent(k["value"]), target=_percent(k["target"]),
        numerator=k["numerator"], denominator=k["denominator"],
        shown=k.get("display", k["percent"]), target_shown=k.get("target_display"),
        calculation=k.get("calculation"))
        for k in dashboard["kpis"]]
    breakdown = [templates.BreakdownRow(
        name=u.get("name") or u["scope"], mentors=int(u.get("mentors", 0)),
        mentees=int(u.get("mentees", 0)), pairs=int(u.get("pairs.formed", 0)),
        satisfaction=satisfaction_text(units.get(u["scope"])))
        for u in dashboard["units"]]
    totals = templates.BreakdownRow(
        name="Итого", mentors=int(dashboard["mentors"]["total"]),
        mentees=int(dashboard["mentees"]["total"]), pairs=int(dashboard["pairs"]["formed"]),
        satisfaction=satisfaction_text(dashboard))
    unit_title, units_in = UNIT_TITLES[level]
    return templates.ReportContent(
        level=level, territory=body.territory, period=periods.label(period),
        indicators=indicators, breakdown=breakdown, conclusions=list(body.conclusions),
        totals=totals, satisfaction_title=SATISFACTION_TITLE, unit_title=unit_title,
        units_in=units_in, note=disclosure_note(dashboard),
        figures=[(h["label"], h["display"]) for h in dashboard.get("headline", [])])


# --- kind → (input model, the registry persons it names, render) ----------------------------------

B = TypeVar("B", bound=Body)


@dataclass(frozen=True)
class Recipe(Generic[B]):
    model: type[B]
    people: Callable[[B], list[UUID]]
    render: Callable[[B, Names, str, date], bytes]


def _pairs_order(body: PairsOrderRecipe, names: Names, number: str, day: date) -> bytes:
    rows = [templates.PairRow(mentor=names[p.mentor_id].full_name + (
                                  f" ({p.mentor_organisation})" if p.mentor_organisation else ""),
                              mentees=[names[m].full_name for m in p.mentee_ids], form=p.form)
            for p in body.pairs]
    return templates.pairs_order(body.requisites(number, day), rows, body.school_year)


def _curator_order(body: CuratorOrderIn, names: Names, number: str, day: date) -> bytes:
    return templates.curator_order(body.requisites(number, day), body.curator_name,
                                   body.curator_position, body.school_year, body.forms)


def _award_order(body: AwardOrderIn, names: Names, number: str, day: date) -> bytes:
    rows = [templates.AwardRow(names[a.mentor_id].full_name, a.merit, a.award) for a in body.awards]
    return templates.award_order(body.requisites(number, day), rows, body.school_year)


def as_officials_see(names: Names) -> Names:
    """The names as an official above the school got them: each child by their label."""
    return {person_id: PersonNames(full_name=person.label, role=person.role,
                                   organisation_id=person.organisation_id, pseudonymous=True,
                                   label=person.label, protected=True)
            if person.protected and person.label and not person.pseudonymous else person
            for person_id, person in names.items()}


def named(person: PersonNames, document: str) -> PersonNames:
    """A document addressed to the person needs their real name: a user who sees only the
    child's label (152-ФЗ, ст. 5) is refused, never handed a letter to «Наставляемый №…»."""
    if person.pseudonymous:
        raise DomainError("NAMES_HIDDEN", f"{document} ребёнку оформляет куратор его организации: "
                          "вышестоящему уровню ФИО детей не передаются (152-ФЗ, ст. 5 — "
                          "минимизация)", 403)
    return person


def _thanks_letter(body: ThanksLetterIn, names: Names, number: str, day: date) -> bytes:
    addressee = (named(names[body.person_id], "Благодарственное письмо").full_name
                 if body.person_id else str(body.addressee))
    return templates.thanks_letter(body.requisites(number, day), addressee, body.text)


def _consent(body: ConsentIn, names: Names, number: str, day: date) -> bytes:
    person = named(names[body.person_id], "Согласие на обработку персональных данных")
    if person.birth_date is None:
        raise DomainError("BIRTH_DATE_UNKNOWN", "В реестре нет даты рождения участника", 422)
    subject = templates.ConsentSubject(person.full_name, person.birth_date, person.guardian_name)
    return templates.consent(body.requisites(number, day), subject)


def _nobody(body: Body) -> list[UUID]:
    return []


RECIPES: dict[str, Recipe[Any]] = {
    "pairs_order": Recipe(PairsOrderRecipe, lambda b: [i for p in b.pairs
                                                       for i in (p.mentor_id, *p.mentee_ids)],
                          _pairs_order),
    "curator_order": Recipe(CuratorOrderIn, _nobody, _curator_order),
    "award_order": Recipe(AwardOrderIn, lambda b: [a.mentor_id for a in b.awards], _award_order),
    "thanks_letter": Recipe(ThanksLetterIn, lambda b: [b.person_id] if b.person_id else [],
                            _thanks_letter),
    "consent": Recipe(ConsentIn, lambda b: [b.person_id], _consent),
    "development_plan": Recipe(plans.DevelopmentPlanRecipe, plans.plan_people, plans.render_plan),
}


async def prepare(kind: str, body: Body, peers: Peers, actor: Actor, path: OrgPath) -> Body:
    """The recipe a request makes, once what another service holds is added: a development plan
    takes its pair's members, form and goals from pairing. Other kinds are their own recipe."""
    if kind == "development_plan":
        return await plans.plan_recipe(peers, actor, path, body)  # type: ignore[arg-type]
    return body


def paired_mentors(kind: str, body: Body) -> list[UUID]:
    """Mentors of other organisations a pairs order names: their pair grants the name."""
    if not isinstance(body, PairsOrderRecipe):
        return []
    return [p.mentor_id for p in body.pairs if p.mentor_organisation]


def recipe_of(kind: str) -> Recipe[Any]:
    try:
        return RECIPES[kind]
    except KeyError:
        raise DomainError("UNKNOWN_KIND", f"Неизвестный вид документа: {kind}", 422) from None


def load(kind: str, data: Mapping[str, Any]) -> Body:
    """A recipe's body from its stored JSON (the same validation as the request had)."""
    return recipe_of(kind).model.model_validate(dict(data))


def people(kind: str, body: Body) -> list[UUID]:
    """The registry persons the document names, once each, in the order they appear."""
    return list(dict.fromkeys(recipe_of(kind).people(body)))


def render(kind: str, body: Body, names: Names, number: str, day: date) -> bytes:
    return recipe_of(kind).render(body, names, number, day)
