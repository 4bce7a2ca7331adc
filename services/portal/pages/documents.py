"""An organisation's documents (orders, reports, certificates) and their DOCX/PDF files, as the
documents service issued them; the curator-appointment order issued from the documents page and
a person's consent form from their card. The roadmap has a page group of its own
(``roadmaps.py``).

The documents service numbers and dates each document itself (its register), unless an order is
given the number and date of the organisation's own journal: the forms take what it accepts —
school year, forms of mentorship, curator, signatory, the order's number and date.

URLs: ``/organisations/{id}/documents``, ``/organisations/{id}/curator-order``,
``/people/{id}/consent-form``, ``/files/{document_id}/{docx|pdf}``.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import Form, Request, Response

from services.portal.client import ApiError
from services.portal.collation import ru_sorted
from services.portal.frame import Signed, page_router, render, said_well, see_other
from services.portal.lookups import current_school_year, date_today
from shared.auth import OrgPath
from shared.titles import form_title

router = page_router()
Position = Annotated[str, Form(min_length=2, max_length=200)]
FullName = Annotated[str, Form(min_length=3, max_length=200)]


#: The order's own fields as its forms label them (the service names them ``number``, ``date``).
ORDER_FIELDS = {"number": "номер приказа", "date": "дата приказа"}


def given_requisites(order_number: str, order_date: str) -> dict[str, str]:
    """The number and date the curator typed, when given (else the register's)."""
    return {**({"number": order_number.strip()} if order_number.strip() else {}),
            **({"date": order_date.strip()} if order_date.strip() else {})}


def order_refusal(exc: ApiError) -> str:
    """An order's refusal in the form's words: a bad number or date named as the form labels it."""
    named = [f"{ORDER_FIELDS[d['field']]} — {d['message']}" for d in exc.details
             if isinstance(d, dict) and d.get("field") in ORDER_FIELDS and "message" in d]
    return "; ".join(named) if named else said_well(exc.code, exc.message)


@router.get("/organisations/{organisation_id}/documents")
async def documents_page(request: Request, organisation_id: UUID, s: Signed) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    documents, programmes = await asyncio.gather(
        s.api.get("/documents", under=org["path"]),
        s.api.get(f"/registry/organisations/{organisation_id}/programmes"))
    year = current_school_year(datetime.date.fromisoformat(date_today()))
    current = [p for p in programmes if p["school_year"] == year]
    return render(request, "documents.html", actor=s.actor, org=org, school_year=year,
                  forms=ru_sorted({form_title(p["form"]) for p in current or programmes}),
                  curator=next((p["curator"] for p in current), ""),
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  error=request.query_params.get("error"),
                  documents=sorted(documents, key=lambda d: (d["date"], d["number"]), reverse=True))


@router.post("/organisations/{organisation_id}/curator-order")
async def issue_curator_order(request: Request, organisation_id: UUID, s: Signed,
                              school_year: Annotated[str, Form(pattern=r"^\d{4}-\d{4}$")],
                              curator_name: FullName, curator_position: Position,
                              signatory_position: Position, signatory_name: FullName,
                              forms: Annotated[list[str] | None, Form()] = None,
                              order_number: Annotated[str, Form(max_length=32)] = "",
                              order_date: Annotated[str, Form(max_length=10)] = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    page = f"/organisations/{organisation_id}/documents"
    try:
        issued = await s.api.post("/documents/curator-order", json={
            "org": org["path"], "organisation_name": org["name"], "school_year": school_year,
            "curator_name": curator_name, "curator_position": curator_position,
            "forms": forms or [],
            "signatory": {"position": signatory_position, "full_name": signatory_name},
            **given_requisites(order_number, order_date)})
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return see_other(request, page + "?error=" + quote("Приказ не сформирован: "
                                                           + order_refusal(exc)))
    return see_other(request, f"{page}?issued={issued['id']}")


@router.post("/people/{person_id}/consent-form")
async def issue_consent_form(request: Request, person_id: UUID, s: Signed,
                             signatory_position: Position, signatory_name: FullName) -> Response:
    person = await s.api.get(f"/registry/people/{person_id}")
    org = await s.api.get(f"/registry/organisations/{person['organisation_id']}")
    try:
        issued = await s.api.post("/documents/consent", json={
            "org": org["path"], "organisation_name": org["name"], "person_id": str(person_id),
            "signatory": {"position": signatory_position, "full_name": signatory_name}})
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        return see_other(request, f"/people/{person_id}?error="
                         + quote("Бланк не сформирован: " + exc.message))
    return see_other(request, f"/people/{person_id}?issued={issued['id']}")


@router.get("/files/{document_id}/{fmt}")
async def download(document_id: UUID, fmt: Literal["docx", "pdf"], s: Signed) -> Response:
    upstream = await s.api.request("GET", f"/documents/{document_id}/{fmt}")
    headers = {k: v for k, v in upstream.headers.items()
               if k.lower() in ("content-disposition", "x-content-sha256")}
    return Response(upstream.content, media_type=upstream.headers.get("content-type"),
                    headers=headers)
