"""A curator's bases of mentors and mentees: the organisation's people (filtered by role, name
and consent), their import from XLSX/CSV with the template to fill in, one person's card and the
withdrawal of their consent.

URLs: ``/organisations/{id}`` (a territory's goes to its dashboard), ``/organisations/{id}/import``,
``/organisations/{id}/template``, ``/people/{id}``, ``/people/{id}/withdraw``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from services.portal.client import ApiError
from services.portal.frame import Signed, htmx, page_router, render
from shared.auth import OrgPath
from shared.uploads import MAX_UPLOAD_BYTES

router = page_router()

ConsentFilter = Literal["", "active", "withdrawn"]


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
    context = {"actor": s.actor, "org": org, "people": people, "role": role, "q": q,
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
                  can_write=s.actor.can_write(OrgPath.parse(org["path"])))


@router.post("/people/{person_id}/withdraw")
async def withdraw(person_id: UUID, s: Signed,
                   reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    await s.api.post(f"/registry/people/{person_id}/consent/withdraw", json={"reason": reason})
    return RedirectResponse(f"/people/{person_id}?withdrawn=1", status_code=303)

