"""The documents of a territory and the awards: every document issued beneath the user's scope
with the organisation that issued it (by name) and a filter by organisation; the award order
(приказ о поощрении) and the thanks letter (благодарственное письмо) issued by the user's own
organisation, municipality or region, downloaded as DOCX or PDF from the documents list.

The documents service renders, numbers and registers them (``/documents/award-order``,
``/documents/thanks-letter``); the mentors come from the registry.

URLs: ``/territory/documents`` (``?org=`` a path), ``/awards`` (``?org=`` whose mentors), ``/awards/order``,
``/awards/thanks-letter``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import Form, Request, Response

from services.portal import navigation
from services.portal.frame import Session, Signed, page_router, render, see_other
from services.portal.lookups import own_organisation
from services.portal.templating import templates
from shared.auth import OrgPath
from shared.errors import DomainError

router = page_router()
templates.env.globals.update(issues_awards=navigation.issues_awards)
#: Rows of the award order's form; an order for more mentors is issued in several.
AWARD_ROWS = 5
#: What the documents page says after a form issued one (``?issued=`` its kind).
ISSUED = {"award_order": "Приказ о поощрении сформирован и зарегистрирован",
          "thanks_letter": "Благодарственное письмо сформировано и зарегистрировано",
          "report": "Отчёт сформирован и зарегистрирован"}


def with_organisations(documents: list[dict[str, Any]], organisations: list[dict[str, Any]],
                       org: str | None) -> list[dict[str, Any]]:
    """Documents newest first, each with its organisation's name; only ``org``'s when given."""
    names = {o["path"]: o["name"] for o in organisations}
    chosen = [d for d in documents if org is None or d["path"] == org]
    return [{**d, "organisation": names.get(d["path"], d["path"])}
            for d in sorted(chosen, key=lambda d: (d["date"], d["number"]), reverse=True)]


@router.get("/territory/documents")
async def territory_documents(request: Request, s: Signed, org: str | None = None) -> Response:
    organisations, documents = await asyncio.gather(
        s.api.get("/registry/organisations"), s.api.get("/documents", under=str(s.actor.scope)))
    issuers = {d["path"] for d in documents}
    choices = sorted((o for o in organisations if o["path"] in issuers), key=lambda o: o["name"])
    chosen = org if org in issuers else None
    return render(request, "territory_documents.html", actor=s.actor, org=chosen, choices=choices,
                  documents=with_organisations(documents, organisations, chosen),
                  issued=ISSUED.get(request.query_params.get("issued") or ""))


async def issuer(s: Session) -> dict[str, Any]:
    org = await own_organisation(s)
    if not s.actor.can_write(OrgPath.parse(org["path"])):
        raise DomainError("FORBIDDEN", "Документы от имени организации выпускает её сотрудник", 403)
    parent = next((o for o in await s.api.get("/registry/organisations")
                   if o["id"] == org.get("parent_id")), None)
    return {**org, "parent_name": parent["name"] if parent else ""}


def units_beneath(org: dict[str, Any], organisations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The organisations whose mentors the issuer may award: itself, or those beneath it
    (schools, colleges, partners), by name."""
    path = OrgPath.parse(org["path"])
    return sorted((o for o in organisations if path.contains(OrgPath.parse(o["path"]))
                   and o["kind"] not in ("region", "municipality")), key=lambda o: o["name"])


@router.get("/awards")
async def awards_page(request: Request, s: Signed, org: str | None = None) -> Response:
    """The forms; a municipality or the region first picks the organisation whose mentors to list
    (each list read is an access to personal data, so only the one asked for is read)."""
    issuing = await issuer(s)
    units = units_beneath(issuing, await s.api.get("/registry/organisations"))
    chosen = next((u for u in units if u["path"] == org), units[0] if len(units) == 1 else None)
    people = (await s.api.get(f"/registry/organisations/{chosen['id']}/people", role="mentor")
              if chosen else [])
    mentors = [{**p, "organisation": chosen["name"]} for p in people if chosen
               and p.get("full_name") and not p.get("withdrawn")]
    return render(request, "awards.html", actor=s.actor, org=issuing, units=units, chosen=chosen,
                  mentors=mentors, rows=range(AWARD_ROWS))


def requisites(org: dict[str, Any], signatory_position: str, signatory_name: str,
               place: str) -> dict[str, Any]:
    return {"org": org["path"], "organisation_name": org["name"],
            "parent_organisation": org["parent_name"] or None, "place": place.strip(),
            "signatory": {"position": signatory_position.strip(), "full_name": signatory_name.strip()}}


def award_rows(mentor_ids: list[str], merits: list[str], awards: list[str]) -> list[dict[str, str]]:
    """The filled rows of the form (a row without a mentor is left out; the award defaults)."""
    rows = []
    for i, mentor in enumerate(mentor_ids):
        if not mentor:
            continue
        merit = merits[i].strip() if i < len(merits) else ""
        if len(merit) < 2:
            raise DomainError("VALIDATION_ERROR", "Укажите заслугу каждого поощряемого наставника", 422)
        award = (awards[i].strip() if i < len(awards) else "") or "объявить благодарность"
        rows.append({"mentor_id": checked_id(mentor), "merit": merit, "award": award})
    if not rows:
        raise DomainError("VALIDATION_ERROR", "Выберите хотя бы одного наставника", 422)
    return rows


def checked_id(value: str) -> str:
    try:
        return str(UUID(value))
    except ValueError as exc:
        raise DomainError("VALIDATION_ERROR", "Наставник выбран неверно: выберите его из списка",
                          422) from exc


@router.post("/awards/order")
async def award_order(request: Request, s: Signed,
                      school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                      signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                      signatory_name: Annotated[str, Form(min_length=3, max_length=200)],
                      place: Annotated[str, Form(max_length=200)] = "",
                      mentor_id: Annotated[list[str] | None, Form()] = None,
                      merit: Annotated[list[str] | None, Form()] = None,
                      award: Annotated[list[str] | None, Form()] = None) -> Response:
    org = await issuer(s)
    await s.api.post("/documents/award-order", json={
        **requisites(org, signatory_position, signatory_name, place), "school_year": school_year,
        "awards": award_rows(mentor_id or [], merit or [], award or [])})
    return see_other(request, "/territory/documents?issued=award_order")


@router.post("/awards/thanks-letter")
async def thanks_letter(request: Request, s: Signed,
                        signatory_position: Annotated[str, Form(min_length=2, max_length=200)],
                        signatory_name: Annotated[str, Form(min_length=3, max_length=200)],
                        text: Annotated[str, Form(min_length=10, max_length=5000)],
                        place: Annotated[str, Form(max_length=200)] = "",
                        person_id: Annotated[str, Form()] = "",
                        addressee: Annotated[str, Form(max_length=300)] = "") -> Response:
    org = await issuer(s)
    if bool(person_id) == bool(addressee.strip()):
        raise DomainError("VALIDATION_ERROR", "Выберите наставника из списка или впишите адресата — "
                          "что-то одно", 422)
    await s.api.post("/documents/thanks-letter", json={
        **requisites(org, signatory_position, signatory_name, place), "text": text.strip(),
        "person_id": checked_id(person_id) if person_id else None,
        "addressee": addressee.strip() or None})
    return see_other(request, "/territory/documents?issued=thanks_letter")
