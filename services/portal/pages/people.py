"""A curator's bases of mentors and mentees: the organisation's people (filtered by role, name
and consent, in the Russian alphabetical order), their import from XLSX/CSV with the template to
fill in, one person's card and the withdrawal of their consent — confirmed on a page of its own
that names the person and asks for the reason. Adding one person by form is ``person_form.py``.

URLs: ``/bases`` (a curator's own organisation), ``/organisations/{id}`` (a territory's goes to its
dashboard), ``/organisations/{id}/import``, ``/organisations/{id}/template``, ``/people/{id}``,
``/people/{id}/withdraw`` (the confirmation, and the withdrawal).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from services.portal import navigation
from services.portal.client import ApiError
from services.portal.collation import ru_key
from services.portal.frame import Session, Signed, htmx, page_router, render
from services.portal.lookups import NAMES_HIDDEN_NOTE, person_label, to_own_organisation
from services.portal.templating import templates
from shared.auth import OrgPath
from shared.uploads import MAX_UPLOAD_BYTES

router = page_router()

ConsentFilter = Literal["", "active", "withdrawn"]
#: The shortest reason for a withdrawal the portal takes: the record must say why.
MIN_REASON = 3


templates.env.globals.update(person_label=person_label, names_hidden_note=NAMES_HIDDEN_NOTE)


def in_russian_order(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Named (or labelled) people in the Russian alphabetical order, the erased ones after them."""
    def key(p: dict[str, Any]) -> tuple[bool, Any, str]:
        shown = p.get("full_name") or (p.get("label") if p.get("names_hidden") else None)
        return (shown is None, ru_key(shown), p["id"])
    return sorted(people, key=key)


@router.get("/bases")
async def my_bases(s: Signed) -> Response:
    return await to_own_organisation(s)


@router.get("/organisations/{organisation_id}")
async def organisation_page(request: Request, organisation_id: UUID, s: Signed,
                            role: Literal["", "mentor", "mentee"] = "",
                            q: Annotated[str, Query(max_length=100)] = "",
                            consent: ConsentFilter = "") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    if org["kind"] in ("region", "municipality"):
        return RedirectResponse(f"/dashboard?org={quote(org['path'])}", status_code=303)
    people = await s.api.get(f"/registry/organisations/{organisation_id}/people",
                             role=role or None, search=q.strip() or None)
    if consent == "active":
        people = [p for p in people if p["consent"] and not p["withdrawn"]]
    elif consent == "withdrawn":
        people = [p for p in people if p["withdrawn"]]
    people = in_russian_order(people)
    context = {"actor": s.actor, "org": org, "people": people, "role": role, "q": q,
               "names_hidden": any(p.get("names_hidden") for p in people),
               "consent": consent, "can_write": s.actor.can_write(OrgPath.parse(org["path"]))}
    if htmx(request) and request.headers.get("HX-Target") == "people":
        return render(request, "_people.html", **context)
    return render(request, "organisation.html", **context)


@router.get("/organisations/{organisation_id}/import")
async def import_page(request: Request, organisation_id: UUID, s: Signed,
                      role: Literal["mentor", "mentee"] = "mentee") -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    s.actor.require_write(OrgPath.parse(org["path"]))
    return render(request, "import.html", actor=s.actor, org=org, role=role)


@router.post("/organisations/{organisation_id}/import")
async def import_file(request: Request, organisation_id: UUID, s: Signed,
                      role: Annotated[Literal["mentor", "mentee"], Form()],
                      file: Annotated[UploadFile, File()]) -> Response:
    org = await s.api.get(f"/registry/organisations/{organisation_id}")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    context: dict[str, Any] = {"actor": s.actor, "org": org, "role": role}
    try:
        if not file.filename or not data:
            raise ApiError(422, "EMPTY_FILE", "Выберите файл XLSX или CSV")
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "FILE_TOO_LARGE", "Файл больше 10 МБ")
        result = await s.api.post(f"/registry/organisations/{organisation_id}/import",
                                  params={"role": role}, files={"file": (file.filename, data)})
        context["imported"] = result["imported"]
        status = 200
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        context.update(error=exc.message, rows=exc.details)
        status = 422
    if htmx(request):
        return render(request, "_import_result.html", status=status, **context)
    return render(request, "import.html", status=status, **context)


@router.get("/organisations/{organisation_id}/template")
async def import_template(organisation_id: UUID, s: Signed,
                          role: Literal["mentor", "mentee"] = "mentee") -> Response:
    upstream = await s.api.request("GET", "/registry/import-template", params={"role": role})
    return Response(upstream.content, media_type=upstream.headers.get("content-type"),
                    headers={"Content-Disposition": upstream.headers.get("content-disposition", "")})


@router.get("/people/{person_id}")
async def person_page(request: Request, person_id: UUID, s: Signed) -> Response:
    person = await s.api.get(f"/registry/people/{person_id}")
    org = await s.api.get(f"/registry/organisations/{person['organisation_id']}")
    return render(request, "person.html", actor=s.actor, person=person, org=org,
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])),
                  invites=navigation.issues_invitations(s.actor),
                  saved=request.query_params.get("saved"), issued=request.query_params.get("issued"),
                  error=request.query_params.get("error"))


async def withdraw_page(request: Request, person_id: UUID, s: Session, status: int = 200,
                        error: str | None = None, reason: str = "") -> Response:
    person = await s.api.get(f"/registry/people/{person_id}")
    org = await s.api.get(f"/registry/organisations/{person['organisation_id']}")
    s.actor.require_write(OrgPath.parse(org["path"]))
    return render(request, "withdraw.html", status=status, actor=s.actor, person=person, org=org,
                  error=error, reason=reason)


@router.get("/people/{person_id}/withdraw")
async def withdraw_confirm(request: Request, person_id: UUID, s: Signed) -> Response:
    return await withdraw_page(request, person_id, s)


@router.post("/people/{person_id}/withdraw")
async def withdraw(request: Request, person_id: UUID, s: Signed,
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    try:
        if len(reason.strip()) < MIN_REASON:
            raise ApiError(422, "REASON_REQUIRED", "Укажите причину отзыва согласия "
                           f"(не короче {MIN_REASON} знаков): она останется в записи о событии")
        await s.api.post(f"/registry/people/{person_id}/consent/withdraw",
                         json={"reason": reason.strip()})
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            raise
        return await withdraw_page(request, person_id, s, exc.status, exc.message, reason)
    return RedirectResponse(f"/people/{person_id}?withdrawn=1", status_code=303)

