"""HTTP routes of the registry: they only translate requests into commands and queries."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile

from services.registry import forms
from services.registry.application import RegistryService
from services.registry.commands import (
    ConfigureForms,
    DeclareContingent,
    LaunchProgramme,
    RegisterMentee,
    RegisterMentor,
    RegisterOrganisation,
    WithdrawConsent,
)
from shared.auth import ORG_PATH_PATTERN, OrgPath
from shared.errors import DomainError
from shared.uploads import MAX_UPLOAD_BYTES
from shared.web import Context, CurrentActor


async def registry_service(request: Request) -> RegistryService:
    return request.app.state.registry


Registry = Annotated[RegistryService, Depends(registry_service)]
router = APIRouter(prefix="/registry", tags=["registry"])


@router.post("/organisations", status_code=201)
def register_organisation(cmd: RegisterOrganisation, ctx: Context, registry: Registry) -> dict[str, str]:
    return {"id": str(registry.register_organisation(ctx, cmd))}


@router.get("/organisations")
def list_organisations(actor: CurrentActor, registry: Registry,
                       under: Annotated[str | None, Query(max_length=200, pattern=ORG_PATH_PATTERN)] = None
                       ) -> list[dict[str, Any]]:
    try:
        scope = OrgPath.parse(under) if under else None
    except ValueError as exc:
        raise DomainError("INVALID_PATH", "Неверный путь организации", 422) from exc
    return registry.list_organisations(actor, scope)


@router.get("/organisations/{organisation_id}")
def get_organisation(organisation_id: UUID, actor: CurrentActor, registry: Registry) -> dict[str, Any]:
    return registry.get_organisation(actor, organisation_id)


@router.put("/organisations/{organisation_id}/contingent", status_code=204)
def declare_contingent(organisation_id: UUID, cmd: DeclareContingent, ctx: Context,
                       registry: Registry) -> Response:
    registry.declare_contingent(ctx, organisation_id, cmd)
    return Response(status_code=204)


@router.post("/mentors", status_code=201)
def register_mentor(cmd: RegisterMentor, ctx: Context, registry: Registry) -> dict[str, str]:
    return {"id": str(registry.register_people(ctx, [cmd])[0])}


@router.post("/mentees", status_code=201)
def register_mentee(cmd: RegisterMentee, ctx: Context, registry: Registry) -> dict[str, str]:
    return {"id": str(registry.register_people(ctx, [cmd])[0])}


@router.get("/organisations/{organisation_id}/people")
def list_people(organisation_id: UUID, actor: CurrentActor, registry: Registry,
                role: Literal["mentor", "mentee"] | None = None,
                search: Annotated[str | None, Query(max_length=100)] = None) -> list[dict[str, Any]]:
    return registry.list_people(actor, organisation_id, role, search)


@router.get("/people/{person_id}")
def get_person(person_id: UUID, actor: CurrentActor, registry: Registry) -> dict[str, Any]:
    return registry.get_person(actor, person_id)


@router.get("/paired-mentors")
async def paired_mentors(actor: CurrentActor, registry: Registry,
                         pair_id: Annotated[list[UUID], Query(max_length=200)]) -> dict[str, Any]:
    """The mentor from another organisation of each confirmed pair asked about, named as the
    pair lets this user name them (a proposal not yet confirmed names nobody)."""
    return await registry.paired_mentors(actor, pair_id)


@router.post("/people/{person_id}/consent/withdraw", status_code=204)
def withdraw_consent(person_id: UUID, cmd: WithdrawConsent, ctx: Context,
                     registry: Registry) -> Response:
    registry.withdraw_consent(ctx, person_id, cmd)
    return Response(status_code=204)


@router.post("/people/{person_id}/invitation", status_code=201)
def issue_invitation(person_id: UUID, actor: CurrentActor, registry: Registry) -> dict[str, Any]:
    """A one-time code for the person to sign in (for a minor: their guardian), shown only in
    this answer; issuing again ends the previous code."""
    return registry.invitations.issue(actor, person_id).to_json()


@router.post("/organisations/{organisation_id}/import")
def import_people(organisation_id: UUID, role: Literal["mentor", "mentee"], ctx: Context,
                  registry: Registry, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    # A sync route: FastAPI runs it on a worker thread, so waiting for the parse never holds the loop.
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError("FILE_TOO_LARGE", f"Файл больше {MAX_UPLOAD_BYTES // (1024 * 1024)} МБ", 413)
    ids = registry.import_people(ctx, organisation_id, role, data, file.filename or "")
    return {"imported": len(ids), "ids": [str(i) for i in ids]}


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/import-template", response_class=Response,
            responses={200: {"content": {XLSX_TYPE: {}}, "description": "Шаблон для загрузки"}})
def import_template(role: Literal["mentor", "mentee"], _: CurrentActor) -> Response:
    from services.registry.importing import template_xlsx

    name = "nastavniki.xlsx" if role == "mentor" else "nastavlyaemye.xlsx"
    return Response(template_xlsx(role), headers={"Content-Disposition": f"attachment; filename={name}"},
                    media_type=XLSX_TYPE)


@router.post("/programmes", status_code=201)
def launch_programme(cmd: LaunchProgramme, ctx: Context, registry: Registry) -> dict[str, str]:
    return {"id": str(registry.launch_programme(ctx, cmd))}


@router.get("/organisations/{organisation_id}/programmes")
def list_programmes(organisation_id: UUID, actor: CurrentActor,
                    registry: Registry) -> list[dict[str, Any]]:
    return registry.list_programmes(actor, organisation_id)


@router.get("/forms")
def forms_catalogue(actor: CurrentActor, registry: Registry) -> dict[str, Any]:
    """The actor's region's catalogue of forms of mentorship (every form with its state)."""
    return forms.catalogue(registry, actor)


@router.put("/forms")
def configure_forms(cmd: ConfigureForms, ctx: Context, registry: Registry) -> dict[str, Any]:
    return forms.configure(registry, ctx, cmd)
